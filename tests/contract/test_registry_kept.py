"""Issue 21, item 3, as real Airflow 2 and 3 see it: a Docker connection to another
account's registry in another region, refreshed by conn id alone, keeps that registry and
gets that region's token, so DockerHook logs in to the same host as before; one whose
registry the function cannot reach is refused naming both hosts and stays as it was."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contract.airflow_reader import Airflow
from contract.lambda_emulator import LambdaEmulator
from contract.scenario import (OTHER_ACCOUNT, Scenario, assert_airflow_sees, host, new_password, ok, put_secret,
                               run, unique)
from support.proxy_control import ProxyControl

THEIRS = host(OTHER_ACCOUNT, "eu-west-1")
CHINA = f"{OTHER_ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn"


def docker(registry: str) -> str:
    return json.dumps({"conn_type": "docker", "host": registry, "login": "AWS", "password": "old",
                       "extra": {"reauth": True}})


@pytest.fixture(scope="session")
def kept(emulator: LambdaEmulator, proxy: ProxyControl, secrets: Any) -> tuple[Scenario, dict[str, str]]:
    ids = {k: unique(k) for k in ("theirs_json", "theirs_uri", "own_new")}
    put_secret(secrets, f"airflow/connections/{ids['theirs_json']}", docker(THEIRS))
    put_secret(secrets, f"airflow/connections/{ids['theirs_uri']}", f"docker://AWS:old@{THEIRS}?reauth=true")
    pw = {"us-east-1": new_password(), "eu-west-1": new_password()}
    expected = {ids["theirs_json"]: (THEIRS, pw["eu-west-1"]), ids["theirs_uri"]: (THEIRS, pw["eu-west-1"]),
                ids["own_new"]: (host(), pw["us-east-1"])}
    scenario = run(emulator, proxy, secrets, {"CONNECTIONS": ",".join(ids.values())}, ecr_password=pw,
                   passwords={c: p for c, (_, p) in expected.items()},
                   secret_names=[f"airflow/connections/{c}" for c in ids.values()])
    return scenario, expected


def test_another_accounts_registry_is_kept_and_logged_in_to_with_its_regions_token(
        kept: Any, airflow: Airflow) -> None:
    scenario, expected = kept
    response = ok(scenario)
    assert {c: response[c]["registry"] for c in expected} == {c: r for c, (r, _) in expected.items()}
    assert scenario.ecr_calls == 2, "one GetAuthorizationToken per region"
    seen = airflow.read(list(expected))
    for conn_id, (registry, password) in expected.items():
        extra = {"reauth": "true"} if conn_id.startswith("ct_theirs_uri") else {"reauth": True}
        assert_airflow_sees(seen[conn_id], registry=registry, password=password, extra=extra)


@pytest.fixture(scope="session")
def refused(emulator: LambdaEmulator, proxy: ProxyControl, secrets: Any) -> tuple[Scenario, str]:
    conn_id = unique("china")
    put_secret(secrets, f"airflow/connections/{conn_id}", docker(CHINA))
    scenario = run(emulator, proxy, secrets, {"CONNECTIONS": conn_id}, ecr_password=new_password(),
                   passwords={conn_id: "old"}, secret_names=[f"airflow/connections/{conn_id}"])
    return scenario, conn_id


def test_a_registry_out_of_reach_is_refused_naming_both_hosts_and_kept_as_it_was(
        refused: Any, airflow: Airflow) -> None:
    scenario, conn_id = refused
    assert not scenario.invocation.ok, "a refused connection is a function error"
    assert scenario.writes == []
    failed = [line for line in scenario.invocation.function_log.splitlines() if "connection not refreshed" in line]
    assert len(failed) == 1 and CHINA in failed[0] and host() in failed[0], failed
    assert_airflow_sees(airflow.read([conn_id])[conn_id], registry=CHINA, password="old", extra={"reauth": True})
