"""Issue 14 under the Lambda runtime: configured with the same
AIRFLOW__SECRETS__BACKEND_KWARGS as Airflow, the function writes exactly the secrets real
Airflow 2 and 3 then read with those kwargs: a custom prefix given with its separator, a
lookup pattern, an extra_conn_words spelling, no prefix at all, and the amazon provider's
deprecated format kwargs that an older MWAA environment may still carry."""

from __future__ import annotations

import base64
import json
import secrets as random
import urllib.parse
from typing import Any

import pytest

from contract.airflow_reader import Airflow
from contract.checks import password_mismatch
from contract.lambda_emulator import LambdaEmulator
from contract.scenario import (SPECIAL_PASSWORD, Scenario, assert_airflow_sees, host, new_password, ok, put_secret,
                               run, unique)
from support.proxy_control import ProxyControl

CUSTOM = {"connections_prefix": "platform/airflow-conns/", "sep": "/", "connections_lookup_pattern": "^ct_kw",
          "extra_conn_words": {"password": ["docker_password"]}}
NO_PREFIX = {"connections_prefix": ""}
# MWAA setups skip aws_default with a Python look-ahead; Airflow applies it with re.match.
MWAA_LOOKUP = {"connections_lookup_pattern": "^(?!aws_default$).*$"}


@pytest.fixture(scope="session")
def kwargs_runs(emulator: LambdaEmulator, proxy: ProxyControl, secrets: Any) -> dict[str, tuple[Scenario, list[str]]]:
    runs = {}
    # A secret that spells its password the way only extra_conn_words makes Airflow read.
    spelled = unique("kw_spelled")
    put_secret(secrets, f"platform/airflow-conns/{spelled}", json.dumps(
        {"conn_type": "docker", "docker_password": "old", "login": "AWS", "host": host(), "note": "ours"}))
    ids = [unique("kw_new"), spelled]
    password = new_password()
    runs["custom"] = (run(emulator, proxy, secrets, {"AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps(CUSTOM),
                                                     "CONNECTIONS": ",".join(ids)},
                          ecr_password=password, passwords={i: password for i in ids},
                          secret_names=[f"platform/airflow-conns/{i}" for i in ids]), ids)
    bare = [unique("kw_bare")]
    password = new_password()
    runs["no_prefix"] = (run(emulator, proxy, secrets, {"AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps(NO_PREFIX),
                                                        "CONNECTIONS": bare[0]},
                             ecr_password=password, passwords={bare[0]: password}, secret_names=bare), bare)
    mwaa = [unique("kw_mwaa")]
    password = new_password()
    runs["mwaa_lookup"] = (run(emulator, proxy, secrets, {"AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps(MWAA_LOOKUP),
                                                          "CONNECTIONS": mwaa[0]},
                               ecr_password=password, passwords={mwaa[0]: password},
                               secret_names=[f"airflow/connections/{mwaa[0]}"]), mwaa)
    return runs


@pytest.mark.parametrize(("name", "kwargs"), [("custom", CUSTOM), ("no_prefix", NO_PREFIX),
                                              ("mwaa_lookup", MWAA_LOOKUP)])
def test_airflow_reads_what_the_same_kwargs_wrote(kwargs_runs: Any, airflow: Airflow, name: str,
                                                   kwargs: dict[str, Any]) -> None:
    scenario, ids = kwargs_runs[name]
    done = ok(scenario)
    seen = airflow.read(ids, **kwargs)
    for conn_id in ids:
        expected_name = {"no_prefix": conn_id, "mwaa_lookup": f"airflow/connections/{conn_id}"}.get(
            name, f"platform/airflow-conns/{conn_id}")
        assert done[conn_id]["secret_name"] == expected_name
        assert_airflow_sees(seen[conn_id], registry=host(), password=scenario.passwords[conn_id],
                            extra={"reauth": True} if done[conn_id]["action"] == "created" else {})


def test_an_extra_conn_words_spelling_is_the_key_updated(kwargs_runs: Any) -> None:
    scenario, ids = kwargs_runs["custom"]
    stored = json.loads(scenario.raw[f"platform/airflow-conns/{ids[1]}"])
    assert "password" not in stored, "the spelling Airflow reads is updated, no second key added"
    assert stored["note"] == "ours"


def test_a_conn_id_outside_the_lookup_pattern_is_refused(emulator: LambdaEmulator, aws_proxy: ProxyControl) -> None:
    outside = unique("other")
    invocation = emulator.invoke({"AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps(CUSTOM), "CONNECTIONS": outside},
                                 event_file="events/scheduled.json")
    assert not invocation.ok
    assert "InvalidRequest" in invocation.error, invocation.error[-2000:]
    assert not [t for t in aws_proxy.requests() if t.startswith("secretsmanager.")], "nothing read or written"


# Kwargs from before amazon provider 7.0.0, which detects each secret's format itself. 7.x and
# 8.x (MWAA's Airflow 2.7.2 ships 8.7.1) ignore full_url_mode but still honour
# are_secret_values_urlencoded: every value of a JSON secret is URL-decoded. 9.0.0 ignores both.
LEGACY = {"full_url_mode": False, "are_secret_values_urlencoded": True}
URL_DECODES_JSON = {"airflow2_mwaa_oldest"}  # the venvs whose amazon provider is older than 9.0.0


def ecr_like_password() -> str:
    """Shaped like a real ECR token's password: base64, with '+', '/' and '=' but never '%'."""
    return base64.b64encode(b"\xfb\xff\xfe" + random.token_bytes(61)).decode()


@pytest.fixture(scope="session")
def legacy_runs(emulator: LambdaEmulator, proxy: ProxyControl, secrets: Any) -> dict[str, tuple[Scenario, str]]:
    """New secrets written with LEGACY in the function's kwargs: JSON and URI with a token
    shaped like ECR's, and JSON with a password that has percent escapes in it."""
    runs = {}
    for name, env, password in (("json", {}, ecr_like_password()),
                                ("uri", {"SECRET_FORMAT": "uri"}, ecr_like_password()),
                                ("json_percent", {}, SPECIAL_PASSWORD)):
        conn_id = unique(f"legacy_{name}")
        runs[name] = run(emulator, proxy, secrets, {"AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps(LEGACY),
                                                    "CONNECTIONS": conn_id, **env},
                         ecr_password=password, passwords={conn_id: password},
                         secret_names=[f"airflow/connections/{conn_id}"]), conn_id
    return runs


@pytest.mark.parametrize("name", ["json", "uri"])
def test_legacy_format_kwargs_read_an_ecr_token_intact(legacy_runs: Any, airflow: Airflow, name: str) -> None:
    scenario, conn_id = legacy_runs[name]
    assert ok(scenario)[conn_id]["action"] == "created"
    seen = airflow.read([conn_id], **LEGACY)[conn_id]
    assert_airflow_sees(seen, registry=host(), password=scenario.passwords[conn_id],
                        extra={"reauth": True} if name == "json" else {"reauth": "true"})


def test_are_secret_values_urlencoded_decodes_json_values_before_amazon_9(legacy_runs: Any, airflow: Airflow) -> None:
    """What makes the test above meaningful on amazon 8.x: the kwarg really is in force there,
    and a '%' in a JSON value would be decoded. An ECR token never has one."""
    scenario, conn_id = legacy_runs["json_percent"]
    ok(scenario)
    seen = airflow.read([conn_id], **LEGACY)[conn_id]
    decoded = airflow.name in URL_DECODES_JSON
    password = urllib.parse.unquote(SPECIAL_PASSWORD) if decoded else SPECIAL_PASSWORD
    assert_airflow_sees(seen, registry=host(), password=password, extra={"reauth": True})


TEAM_PROBE = """
import json, os, sys
from airflow.providers.amazon.aws.secrets.secrets_manager import SecretsManagerBackend
backend = SecretsManagerBackend(region_name="us-east-1", endpoint_url=sys.argv[1])
value = backend.get_conn_value(sys.argv[2], team_name=sys.argv[3])
print(json.dumps({"found": value is not None,
                  "password": json.loads(value)["password"] if value else None}))
"""


def test_airflow3_team_lookup_reads_the_team_scoped_secret(emulator: LambdaEmulator, proxy: ProxyControl,
                                                           secrets: Any, moto_url: str) -> None:
    """Airflow 3's multi-team mode looks up <prefix>/<team>--<conn_id> first for a team's
    task; asked through the backend itself, with [core] multi_team on."""
    import os
    import subprocess
    import tempfile

    conn_id = unique("team")
    password = new_password()
    scenario = run(emulator, proxy, secrets, {"CONNECTIONS": json.dumps([{"conn_id": conn_id, "team": "ml"}])},
                   ecr_password=password, passwords={conn_id: password},
                   secret_names=[f"airflow/connections/ml--{conn_id}"])
    assert ok(scenario)[conn_id]["secret_name"] == f"airflow/connections/ml--{conn_id}"
    python = os.environ["AIRFLOW3_PYTHON"]
    with tempfile.TemporaryDirectory() as home:
        env = {"PATH": os.environ["PATH"], "AIRFLOW_HOME": home, "AIRFLOW__CORE__MULTI_TEAM": "True",
               "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
        probe = subprocess.run([python, "-c", TEAM_PROBE, moto_url, conn_id, "ml"], env=env,
                               capture_output=True, text=True, timeout=300)
    assert probe.returncode == 0, probe.stderr[-2000:]
    seen = json.loads(probe.stdout.strip().splitlines()[-1])
    assert seen["found"], "Airflow 3 found the team-scoped secret"
    mismatch = password_mismatch(seen["password"], password)  # never prints the password
    assert mismatch is None, mismatch
