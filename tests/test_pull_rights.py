"""Issue 10: the token can pull. With pull_role_arn the function assumes the role once
per run (the SDK's assume-role provider) and fetches each region's token with the role's
credentials; check_image asks ECR, as the token's principal, for an image's manifest.

Runs the binary as a one-shot CLI through tests/support/aws_proxy.py against moto, which
implements STS AssumeRole, ECR PutImage and BatchGetImage. moto enforces no IAM, so the
refusals are injected in AWS's documented shapes (cited at each).
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import uuid
from typing import Any

import boto3
import pytest

from support.proxy_control import ProxyControl
from test_request_counts import binary  # noqa: F401  (the fixture that builds the binary)

ROLE = "arn:aws:iam::123456789012:role/airflow-workers"
TOKEN = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
PULL = "AmazonEC2ContainerRegistry_V20150921.BatchGetImage"
ASSUME = "sts.AssumeRole"
MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
               "digest": "sha256:" + "b" * 64},
    "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654,
                "digest": "sha256:" + "c" * 64}],
})


@pytest.fixture(scope="module")
def image(moto_url: str) -> str:
    """A repository with one pushed image, `<repo>:v1`."""
    ecr = boto3.client("ecr", endpoint_url=moto_url, region_name="us-east-1")
    repo = f"team/app-{uuid.uuid4().hex[:8]}"
    ecr.create_repository(repositoryName=repo)
    ecr.put_image(repositoryName=repo, imageManifest=MANIFEST, imageTag="v1",
                  imageManifestMediaType="application/vnd.docker.distribution.manifest.v2+json")
    return repo


def run(binary: str, proxy: ProxyControl, conns: list[dict], faults: list[dict] = ()) -> tuple[
        subprocess.CompletedProcess, list[dict], str]:
    prefix = f"pull-{uuid.uuid4().hex[:10]}"
    proxy.reset()
    if faults:
        proxy.configure(faults=list(faults))
    env = dict(os.environ, AWS_ENDPOINT_URL=proxy.url, CONNECTIONS=json.dumps(conns),
               AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX=prefix, AWS_REGION="us-east-1")
    env.pop("AWS_LAMBDA_RUNTIME_API", None)
    done = subprocess.run([binary], env=env, capture_output=True, text=True, timeout=120)
    return done, proxy.log(), prefix


def test_one_assume_role_and_one_token_per_role_and_region(binary: str, aws_proxy: ProxyControl) -> None:
    conns = [{"conn_id": "a", "region": "us-east-1", "pull_role_arn": ROLE},
             {"conn_id": "b", "region": "eu-west-1", "pull_role_arn": ROLE},
             {"conn_id": "c", "region": "us-east-1", "pull_role_arn": ROLE},
             {"conn_id": "own", "region": "us-east-1"}]
    done, log, _ = run(binary, aws_proxy, conns)
    assert done.returncode == 0, done.stderr[-3000:]
    counts = collections.Counter(e["target"] for e in log)
    assert counts[ASSUME] == 1, counts
    assert counts[TOKEN] == 3, counts  # (role, us-east-1), (role, eu-west-1), (own, us-east-1)
    # The role's tokens were fetched with the role's credentials, the other with the function's.
    keys = collections.Counter(e["key_id"] for e in log if e["target"] == TOKEN)
    assert keys["test"] == 1 and sum(keys.values()) == 3, keys
    assumed = {k for k in keys if k != "test"}
    assert len(assumed) == 1, keys
    assert {c["conn_id"] for c in json.loads(done.stdout)["connections"]} == {"a", "b", "c", "own"}


def test_check_image_passes_for_a_pushed_image_and_fails_loudly_for_a_missing_one(
        binary: str, aws_proxy: ProxyControl, secrets: Any, image: str) -> None:
    conns = [{"conn_id": "ok", "check_image": f"{image}:v1"},
             {"conn_id": "missing", "check_image": f"{image}:nope", "pull_role_arn": ROLE}]
    done, log, prefix = run(binary, aws_proxy, conns)
    assert done.returncode == 1, "a failed check is a failure (function error, alarm)"
    assert "1 of 2 connections failed: missing" in done.stderr, done.stderr[-3000:]
    assert f"{image}:nope is not in the registry (ImageNotFound" in done.stderr, done.stderr[-3000:]
    assert "the secret was still written, created" in done.stderr
    # Both secrets hold the fresh login: a fresh token is never worse than an expiring one.
    for conn_id in ("ok", "missing"):
        stored = json.loads(secrets.get_secret_value(SecretId=f"{prefix}/{conn_id}")["SecretString"])
        assert stored["password"] == "123456789012-auth-token"
    pulls = [e for e in log if e["target"] == PULL]
    assert len(pulls) == 2
    # The role's check ran as the role.
    assert sorted(e["key_id"] == "test" for e in pulls) == [False, True]


def test_a_role_that_cannot_be_assumed_fails_only_its_connections(
        binary: str, aws_proxy: ProxyControl, secrets: Any) -> None:
    # Through the proxy, not aws-smithy-mocks: the SDK's assume-role provider builds its own
    # STS client, which no mock rule reaches. STS refuses a caller the role's trust policy does not name with AccessDenied, HTTP
    # 403, in the query protocol's XML error shape (AWS STS API Reference, "AssumeRole"
    # and "Common Errors").
    refused = {"target": ASSUME, "status": 403, "times": 10, "xml": (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        "<Code>AccessDenied</Code><Message>User: arn:aws:sts::123456789012:assumed-role/refresher/fn is not "
        f"authorized to perform: sts:AssumeRole on resource: {ROLE}</Message></Error>"
        "<RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>")}
    conns = [{"conn_id": "with_role", "pull_role_arn": ROLE}, {"conn_id": "own"}]
    done, log, prefix = run(binary, aws_proxy, conns, [refused])
    assert done.returncode == 1
    assert "1 of 2 connections failed: with_role" in done.stderr, done.stderr[-3000:]
    assert f"assuming pull_role_arn {ROLE}: sts:AssumeRole failed with AccessDenied" in done.stderr
    assert "trust policy must allow the function's role" in done.stderr
    assert "The others were done: own" in done.stderr
    assert [e["outcome"] for e in log if e["target"] == ASSUME] == ["status:403"], "not retried"
    assert TOKEN in [e["target"] for e in log], "the other connection still got its token"
    with pytest.raises(secrets.exceptions.ResourceNotFoundException):
        secrets.get_secret_value(SecretId=f"{prefix}/with_role")
