"""Issue 14: the function reads Airflow's own backend settings. With role_arn in
AIRFLOW__SECRETS__BACKEND_KWARGS it writes the secrets as that role, assumed once per run;
with region_name it writes them where Airflow reads them. Counted at the test proxy."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import uuid
from typing import Any

import boto3

from support.proxy_control import ProxyControl
from test_request_counts import binary  # noqa: F401  (the fixture that builds the binary)

ROLE = "arn:aws:iam::123456789012:role/airflow-secrets"
# The function's own spellings of four backend kwargs in earlier versions: now refused.
RETIRED = ("CONNECTIONS_PREFIX", "CONNECTIONS_SEP", "SECRETS_REGION", "SECRETS_ROLE_ARN")
ASSUME = "sts.AssumeRole"
SECRETS = ("secretsmanager.BatchGetSecretValue", "secretsmanager.CreateSecret", "secretsmanager.PutSecretValue")


def run(binary: str, proxy: ProxyControl, kwargs: dict[str, Any], connections: str) -> subprocess.CompletedProcess:
    proxy.reset()
    env = with_env(proxy, AIRFLOW__SECRETS__BACKEND_KWARGS=json.dumps(kwargs))
    env["CONNECTIONS"] = connections
    return subprocess.run([binary], env=env, capture_output=True, text=True, timeout=120)


def test_role_arn_is_assumed_once_and_signs_every_secrets_call(binary: str, aws_proxy: ProxyControl) -> None:
    prefix = f"kw-{uuid.uuid4().hex[:8]}"
    done = run(binary, aws_proxy, {"connections_prefix": prefix, "role_arn": ROLE}, "a,b,c")
    assert done.returncode == 0, done.stderr[-3000:]
    log = aws_proxy.log()
    assert collections.Counter(e["target"] for e in log)[ASSUME] == 1
    secrets_keys = {e["key_id"] for e in log if e["target"] in SECRETS}
    assert len(secrets_keys) == 1 and "test" not in secrets_keys, secrets_keys
    token_keys = {e["key_id"] for e in log if e["target"].endswith("GetAuthorizationToken")}
    assert token_keys == {"test"}, "the token still comes as the function (no pull role)"
    assert [c["secret_name"] for c in json.loads(done.stdout)["connections"]] == [f"{prefix}/{i}" for i in "abc"]


def test_region_name_writes_where_airflow_reads(binary: str, aws_proxy: ProxyControl, moto_url: str) -> None:
    prefix = f"kw-{uuid.uuid4().hex[:8]}"
    done = run(binary, aws_proxy, {"connections_prefix": prefix, "region_name": "eu-west-1"}, "docker_ecr")
    assert done.returncode == 0, done.stderr[-3000:]
    eu = boto3.client("secretsmanager", endpoint_url=moto_url, region_name="eu-west-1")
    us = boto3.client("secretsmanager", endpoint_url=moto_url, region_name="us-east-1")
    stored = json.loads(eu.get_secret_value(SecretId=f"{prefix}/docker_ecr")["SecretString"])
    assert stored["host"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com", "the token's region is the function's"
    listed = us.list_secrets(Filters=[{"Key": "name", "Values": [prefix]}])["SecretList"]
    assert listed == [], "nothing in the function's own region"


def test_a_conn_id_airflow_would_never_look_up_is_refused(binary: str, aws_proxy: ProxyControl) -> None:
    done = run(binary, aws_proxy, {"connections_lookup_pattern": "^docker_"}, "docker_ok,ecr_nope")
    assert done.returncode == 1
    assert 'conn_id "ecr_nope" does not match connections_lookup_pattern "^docker_"' in done.stderr
    assert not [e for e in aws_proxy.log() if e["target"] in SECRETS], "refused before any call"


def with_env(proxy: ProxyControl, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in (*RETIRED, "AWS_LAMBDA_RUNTIME_API") and not k.startswith("AIRFLOW__")}
    return dict(env, AWS_ENDPOINT_URL=proxy.url, CONNECTIONS="a", AWS_REGION="us-east-1", **extra)


def test_a_conflicting_prefix_is_a_configuration_error(binary: str, aws_proxy: ProxyControl) -> None:
    """The template passes ConnectionsPrefix as the per-key variable; a pasted JSON naming
    another prefix means the grants and Airflow disagree: refused before any call."""
    proxy_env = with_env(aws_proxy, AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX="airflow/connections",
                         AIRFLOW__SECRETS__BACKEND_KWARGS=json.dumps({"connections_prefix": "platform/conns"}))
    aws_proxy.reset()
    done = subprocess.run([binary], env=proxy_env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert ('invalid configuration: AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX: "airflow/connections" '
            'disagrees with connections_prefix "platform/conns" in AIRFLOW__SECRETS__BACKEND_KWARGS') in done.stderr
    assert "set its ConnectionsPrefix parameter" in done.stderr, done.stderr
    assert aws_proxy.log() == [], "nothing was called"


def test_a_retired_variable_is_refused_naming_its_replacement(binary: str, aws_proxy: ProxyControl) -> None:
    """Ignoring an old CONNECTIONS_PREFIX would write under the default prefix instead."""
    aws_proxy.reset()
    done = subprocess.run([binary], env=with_env(aws_proxy, CONNECTIONS_PREFIX="platform/conns"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "invalid configuration: CONNECTIONS_PREFIX: no longer read" in done.stderr, done.stderr
    assert "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX" in done.stderr, done.stderr
    assert aws_proxy.log() == [], "nothing was called"
