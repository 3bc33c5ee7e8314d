"""The function makes no AWS call it does not need.

For C connections over R regions one run makes exactly: R GetAuthorizationToken (one
per region), ceil(C/20) BatchGetSecretValue (existing secrets read 20 at a time, never
one by one, 50 calls a second), and one write per connection (PutSecretValue for a secret
that exists, CreateSecret for one that does not); each PutSecretValue comes with a
GetSecretValue just before it (the value again, in case someone changed it since the
batch read) and a DescribeSecret just after (which version it replaced). A dry run makes
the batch reads and nothing else. Counted at
tests/support/aws_proxy.py, i.e. every request that reaches the local AWS (less
retries of moto's own 5xx failures).

Runs the binary as a one-shot CLI: $AER_BIN if set, else the debug build, which
`cargo build` brings up to date first (a no-op after `cargo test`).
"""

from __future__ import annotations

import collections
import json
import math
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from support.proxy_control import ProxyControl

REPO = Path(__file__).resolve().parents[1]
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2"]
TOKEN = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
BATCH_GET = "secretsmanager.BatchGetSecretValue"
PUT = "secretsmanager.PutSecretValue"
CREATE = "secretsmanager.CreateSecret"
GET = "secretsmanager.GetSecretValue"
DESCRIBE_SECRET = "secretsmanager.DescribeSecret"
STAGE = "secretsmanager.UpdateSecretVersionStage"
EXISTING = json.dumps({"conn_type": "docker", "host": "old.example", "login": "AWS",
                       "password": "old", "extra": {"reauth": True}})


@pytest.fixture(scope="module")
def binary() -> str:
    if os.environ.get("AER_BIN"):
        return os.environ["AER_BIN"]
    built = subprocess.run(
        # The features of `make test`'s cargo test, so its build is reused, not redone.
        ["cargo", "build", "--locked", "--features", "local-aws-tests", "--bin", "airflow-ecr-refresher",
         "--message-format=json-render-diagnostics"],
        cwd=REPO, check=True, stdout=subprocess.PIPE, text=True,
    )
    for line in built.stdout.splitlines():
        message = json.loads(line)
        if message.get("reason") == "compiler-artifact" and message.get("executable"):
            return message["executable"]
    raise RuntimeError("cargo build reported no executable for airflow-ecr-refresher")


def setup(secrets: Any, count: int, regions: int, existing_every: int) -> tuple[str, list[dict], set[str]]:
    prefix = f"counts-{uuid.uuid4().hex[:10]}"
    conns = [{"conn_id": f"ecr_{i:03d}", "region": REGIONS[i % regions]} for i in range(count)]
    existing = set()
    for i, c in enumerate(conns):
        if existing_every and i % existing_every == 0:
            name = f"{prefix}/{c['conn_id']}"
            secrets.create_secret(Name=name, SecretString=EXISTING)
            existing.add(name)
    return prefix, conns, existing


def run(binary: str, proxy: ProxyControl, prefix: str, conns: list[dict], *flags: str,
        **env_extra: str) -> tuple[dict, collections.Counter]:
    proxy.reset()
    env = dict(os.environ, AWS_ENDPOINT_URL=proxy.url, CONNECTIONS=json.dumps(conns),
               AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX=prefix, AWS_REGION="us-east-1", **env_extra)
    env.pop("AWS_LAMBDA_RUNTIME_API", None)
    done = subprocess.run([binary, *flags], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    # moto 5.2.5 is not thread-safe: concurrent CreateSecret now and then gets a 500
    # ("dictionary changed size during iteration"), which the SDK rightly retries. Count
    # the requests moto served; a retry of moto's own failure is not a needless call.
    served = [e["target"] for e in proxy.log() if moto_served(e)]
    return json.loads(done.stdout), collections.Counter(served)


def moto_served(entry: dict) -> bool:
    return entry["outcome"] == "forwarded" and entry.get("status", 500) < 500


@pytest.mark.parametrize(
    ("count", "regions", "existing_every"),
    [(45, 3, 3), (20, 1, 2), (21, 2, 0), (1, 1, 1)],
    ids=["45-conns-3-regions", "20-conns-1-batch", "21-conns-2-batches-all-new", "1-conn"],
)
def test_one_token_per_region_batched_reads_and_one_write_per_connection(
    binary: str, aws_proxy: ProxyControl, secrets: Any, count: int, regions: int, existing_every: int
) -> None:
    prefix, conns, existing = setup(secrets, count, regions, existing_every)
    batches = math.ceil(count / 20)

    report, seen = run(binary, aws_proxy, prefix, conns)
    actions = collections.Counter(c["action"] for c in report["connections"])
    assert actions == collections.Counter(
        {k: v for k, v in {"updated": len(existing), "created": count - len(existing)}.items() if v})
    updates = len(existing)
    assert seen == collections.Counter(
        {k: v for k, v in {TOKEN: regions, BATCH_GET: batches, PUT: updates, GET: updates,
                           DESCRIBE_SECRET: updates, CREATE: count - updates}.items() if v}), seen
    assert seen[PUT] + seen[CREATE] == count
    # One token per region, and each connection's registry is in its own region.
    for conn, done in zip(conns, report["connections"]):
        assert done["conn_id"] == conn["conn_id"]
        assert f".dkr.ecr.{conn['region']}." in done["registry"], done["registry"]

    # Again: now every secret exists, so every write is an update.
    report, seen = run(binary, aws_proxy, prefix, conns)
    assert {c["action"] for c in report["connections"]} == {"updated"}
    assert seen == collections.Counter({TOKEN: regions, BATCH_GET: batches, PUT: count, GET: count,
                                        DESCRIBE_SECRET: count}), seen


def test_a_dry_run_reads_the_same_and_writes_nothing(
    binary: str, aws_proxy: ProxyControl, secrets: Any
) -> None:
    prefix, conns, existing = setup(secrets, 45, 3, 3)
    report, seen = run(binary, aws_proxy, prefix, conns, "--dry-run")
    assert seen == collections.Counter({TOKEN: 3, BATCH_GET: 3}), seen
    actions = collections.Counter(c["action"] for c in report["connections"])
    assert actions == {"would_update": len(existing), "would_create": 45 - len(existing)}
    for name in existing:
        assert secrets.get_secret_value(SecretId=name)["SecretString"] == EXISTING
    listed = secrets.list_secrets(Filters=[{"Key": "name", "Values": [prefix]}])["SecretList"]
    assert {s["Name"] for s in listed} == existing


def test_writes_stay_within_the_secrets_manager_write_quota(
    binary: str, aws_proxy: ProxyControl, secrets: Any
) -> None:
    """Secrets Manager takes 50 writes a second per account and region (not adjustable).

    120 connections go out as 50, 50 and 20 writes, a second apart, so no second holds
    more than 50 of them, and every one lands without a throttling retry. (Within a second
    the writes spread: at most 25 are in flight, and an update's write follows its re-read.)
    """
    prefix, conns, existing = setup(secrets, 120, 2, 2)
    report, seen = run(binary, aws_proxy, prefix, conns)
    assert len(report["connections"]) == 120
    assert seen[PUT] + seen[CREATE] == 120, seen

    log = [e for e in aws_proxy.log() if e["target"] in (PUT, CREATE)]
    # Only retries of moto's own 500s (see run()), which assert_paced leaves out: a retry
    # comes about half a second later and is no write of the next second.
    retries = [e for e in log if e["attempt"] != 1]
    assert len(retries) == sum(not moto_served(e) for e in log), log
    assert_paced(log, (PUT, CREATE), 50)


# --- Parameter Store ---------------------------------------------------------------------
SSM_BACKEND = "airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend"
GET_PARAMETERS = "AmazonSSM.GetParameters"
DESCRIBE = "AmazonSSM.DescribeParameters"
PUT_PARAMETER = "AmazonSSM.PutParameter"


def assert_paced(log: list[dict], targets: tuple[str, ...], per_second: int) -> None:
    """No call (first try) went out before its second: the call k * per_second + 1 to
    arrive came k seconds after the first, less how late the first reached the proxy (it
    opens new connections: 0.2 s seen on a loaded CI machine). Unpaced, every call arrives
    within a few hundredths of a second. Calls that go out later than their second (a busy
    moto slows the calls before them) only spread further."""
    at = sorted(e["at"] for e in log if e["target"] in targets and e["attempt"] == 1)
    assert len(at) > per_second, at
    for k in range(1, math.ceil(len(at) / per_second)):
        assert at[k * per_second] - at[0] >= k - 0.4, (k, [round(t - at[0], 3) for t in at])


def test_parameter_store_reads_ten_a_call_and_writes_three_a_second(
    binary: str, aws_proxy: ProxyControl, ssm: Any
) -> None:
    """GetParameters takes ten names a call; PutParameter's default quota is 3 a second
    per account and region ("AWS Systems Manager endpoints and quotas",
    https://docs.aws.amazon.com/general/latest/gr/ssm.html), shared with every other
    writer, so 11 connections go out as 3, 3, 3 and 2 writes, a second apart. An overwrite
    first reads the parameter again (GetParameters) and its KMS key (DescribeParameters)."""
    prefix = f"/counts-{uuid.uuid4().hex[:10]}"
    conns = [{"conn_id": f"ecr_{i:03d}", "region": REGIONS[i % 2]} for i in range(11)]
    existing = {f"{prefix}/{c['conn_id']}" for c in conns[:4]}
    for name in existing:
        ssm.put_parameter(Name=name, Value=EXISTING, Type="SecureString")

    report, seen = run(binary, aws_proxy, prefix, conns, AIRFLOW__SECRETS__BACKEND=SSM_BACKEND)
    actions = collections.Counter(c["action"] for c in report["connections"])
    assert actions == {"updated": 4, "created": 7}
    # Each overwrite reads its parameter again first (one more GetParameters each).
    assert seen == collections.Counter({TOKEN: 2, GET_PARAMETERS: 2 + 4, DESCRIBE: 4, PUT_PARAMETER: 11}), seen
    assert_paced(aws_proxy.log(), (PUT_PARAMETER,), 3)

    report, seen = run(binary, aws_proxy, prefix, conns, "--dry-run", AIRFLOW__SECRETS__BACKEND=SSM_BACKEND)
    assert seen == collections.Counter({TOKEN: 2, GET_PARAMETERS: 2}), seen


# --- Reads are paced too ------------------------------------------------------------------
HISTORY = "AmazonSSM.GetParameterHistory"


def test_batch_reads_stay_within_the_read_quotas(binary: str, aws_proxy: ProxyControl) -> None:
    """BatchGetSecretValue takes 100 calls a second per account and region (AWS Secrets
    Manager User Guide, "Quotas"); the function sends 50 a second. GetParameters shares 40 a
    second with Airflow's own lookups ("AWS Systems Manager endpoints and quotas"); the
    function sends 10 a second. Dry runs, so only the reads go out."""
    prefix = f"counts-{uuid.uuid4().hex[:10]}"
    conns = [{"conn_id": f"ecr_{i:04d}"} for i in range(20 * 51)]
    _, seen = run(binary, aws_proxy, prefix, conns, "--dry-run")
    assert seen[BATCH_GET] == 51, seen
    assert_paced(aws_proxy.log(), (BATCH_GET,), 50)

    conns = [{"conn_id": f"ecr_{i:03d}"} for i in range(10 * 11)]
    _, seen = run(binary, aws_proxy, f"/{prefix}", conns, "--dry-run", AIRFLOW__SECRETS__BACKEND=SSM_BACKEND)
    assert seen[GET_PARAMETERS] == 11, seen
    assert_paced(aws_proxy.log(), (GET_PARAMETERS,), 10)


# --- Another writer between the read and the write ----------------------------------------
POSTGRES = "postgresql://app:pw@db.example.com:5432/app"


def run_failing(binary: str, proxy: ProxyControl, prefix: str, conns: list[dict], faults: list[dict],
                **env_extra: str) -> tuple[str, collections.Counter]:
    proxy.reset()
    proxy.configure(faults=faults)
    env = dict(os.environ, AWS_ENDPOINT_URL=proxy.url, CONNECTIONS=json.dumps(conns),
               AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX=prefix, AWS_REGION="us-east-1", **env_extra)
    env.pop("AWS_LAMBDA_RUNTIME_API", None)
    done = subprocess.run([binary], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0, done.stdout[-3000:]
    served = [e["target"] for e in proxy.log() if moto_served(e)]
    return done.stdout + done.stderr, collections.Counter(served)


def test_a_secret_written_between_the_read_and_the_write_is_put_back_and_reported(
    binary: str, aws_proxy: ProxyControl, secrets: Any
) -> None:
    prefix, conns, existing = setup(secrets, 1, 1, 1)
    name = next(iter(existing))
    theirs = {"SecretId": name, "SecretString": POSTGRES, "ClientRequestToken": str(uuid.uuid4())}
    output, seen = run_failing(binary, aws_proxy, prefix, conns,
                               [{"target": PUT, "before": {"body": theirs}}])
    assert "another writer changed the secret" in output, output[-3000:]
    # AWSCURRENT, which Airflow's read returns. (moto 5.2.5 moves the label back but not its
    # default version, so a read without a stage still shows the run's write there.)
    current = secrets.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    assert current["SecretString"] == POSTGRES
    # Read, re-read, write, check, put theirs back, read theirs and its tags (a Postgres
    # connection, not handed over: no second write).
    assert seen == collections.Counter({TOKEN: 1, BATCH_GET: 1, GET: 2, PUT: 1, DESCRIBE_SECRET: 2,
                                        STAGE: 1}), seen


def test_a_parameter_written_between_the_read_and_the_write_is_put_back_and_reported(
    binary: str, aws_proxy: ProxyControl, ssm: Any
) -> None:
    prefix = f"/counts-{uuid.uuid4().hex[:10]}"
    name = f"{prefix}/ecr_000"
    ssm.put_parameter(Name=name, Value=EXISTING, Type="SecureString")
    theirs = {"Name": name, "Value": POSTGRES, "Type": "SecureString", "Overwrite": True}
    output, seen = run_failing(binary, aws_proxy, prefix, [{"conn_id": "ecr_000"}],
                               [{"target": PUT_PARAMETER, "before": {"body": theirs}}],
                               AIRFLOW__SECRETS__BACKEND=SSM_BACKEND)
    assert "another writer changed the secret" in output, output[-3000:]
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == POSTGRES
    # Read, re-read, key, write, history, put theirs back, read theirs and its tags.
    assert seen == collections.Counter({TOKEN: 1, GET_PARAMETERS: 3, DESCRIBE: 1, PUT_PARAMETER: 2,
                                        HISTORY: 1, "AmazonSSM.ListTagsForResource": 1}), seen
