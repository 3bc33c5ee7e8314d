"""Issue 10 under the Lambda runtime: connections whose token comes from a pull role, with
a passing check_image, are written so that real Airflow 2 and 3 resolve them and DockerHook
logs in (the pull check itself is tested against moto in tests/test_pull_rights.py)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest

from contract.airflow_reader import Airflow
from contract.lambda_emulator import LambdaEmulator
from contract.scenario import Scenario, assert_airflow_sees, host, new_password, ok, run, unique
from support.proxy_control import ProxyControl

ROLE = "arn:aws:iam::123456789012:role/airflow-workers"
MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
               "digest": "sha256:" + "d" * 64},
    "layers": [],
})


@pytest.fixture(scope="session")
def pull_role(emulator: LambdaEmulator, proxy: ProxyControl, secrets: Any,
              moto_url: str) -> tuple[Scenario, list[str]]:
    ecr = boto3.client("ecr", endpoint_url=moto_url, region_name="us-east-1")
    repo = f"team/app-{uuid.uuid4().hex[:8]}"
    ecr.create_repository(repositoryName=repo)
    ecr.put_image(repositoryName=repo, imageManifest=MANIFEST, imageTag="v1")
    ids = [unique("role"), unique("role_checked"), unique("own_checked")]
    conns = [{"conn_id": ids[0], "pull_role_arn": ROLE},
             {"conn_id": ids[1], "pull_role_arn": ROLE, "check_image": f"{repo}:v1"},
             {"conn_id": ids[2], "check_image": f"{repo}:v1"}]
    password = new_password()
    scenario = run(emulator, proxy, secrets, {"CONNECTIONS": json.dumps(conns)}, ecr_password=password,
                   passwords={i: password for i in ids},
                   secret_names=[f"airflow/connections/{i}" for i in ids])
    return scenario, ids


def test_pull_role_connections_resolve_in_airflow(pull_role: Any, airflow: Airflow) -> None:
    scenario, ids = pull_role
    done = ok(scenario)
    assert {done[i]["action"] for i in ids} == {"created"}
    seen = airflow.read(ids)
    for conn_id in ids:
        assert_airflow_sees(seen[conn_id], registry=host(), password=scenario.passwords[conn_id],
                            extra={"reauth": True})
