"""Issues 11 and 12, as real Airflow 2 and 3 see them: an old port never reaches the
registry address DockerHook logs in to, and a connection of another type that a
CONNECTIONS typo names is refused and stays exactly what Airflow read before."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contract.airflow_reader import Airflow
from contract.lambda_emulator import LambdaEmulator
from contract.scenario import Scenario, assert_airflow_sees, host, new_password, put_secret, run, unique
from support.proxy_control import ProxyControl


@pytest.fixture(scope="session")
def ports_and_others(emulator: LambdaEmulator, proxy: ProxyControl, secrets: Any) -> tuple[Scenario, dict[str, str]]:
    ids = {k: unique(k) for k in ("json_port", "uri_port", "protocol_port", "postgres", "aws")}
    values = {
        "json_port": json.dumps({"conn_type": "docker", "host": "old.example.com", "port": 5000, "login": "u",
                                 "password": "p", "extra": {"reauth": False}}),
        "uri_port": "docker://u:p@old.example.com:5000?reauth=false",
        "protocol_port": "docker://https://u:p@old.example.com:443?reauth=false",
        "postgres": "postgresql://app:dbpass@db.example.com:5432/app",
        "aws": json.dumps({"conn_type": "aws", "login": "AKIAEXAMPLE", "password": "example-secret-key",
                           "extra": {"region_name": "eu-west-1"}}),
    }
    for key, conn_id in ids.items():
        put_secret(secrets, f"airflow/connections/{conn_id}", values[key])
    password = new_password()
    docker_ids = [ids[k] for k in ("json_port", "uri_port", "protocol_port")]
    scenario = run(emulator, proxy, secrets, {"CONNECTIONS": ",".join(ids.values())}, ecr_password=password,
                   passwords={i: password for i in docker_ids},
                   secret_names=[f"airflow/connections/{i}" for i in ids.values()])
    return scenario, ids


@pytest.mark.parametrize("key", ["json_port", "uri_port", "protocol_port"])
def test_an_old_port_never_reaches_the_registry_address(ports_and_others: Any, airflow: Airflow, key: str) -> None:
    scenario, ids = ports_and_others
    conn_id = ids[key]
    seen = airflow.read([conn_id])[conn_id]
    extra = {"reauth": False} if key == "json_port" else {"reauth": "false"}
    # get_connection's port is None and DockerHook logs in to the bare registry host.
    assert_airflow_sees(seen, registry=host(), password=scenario.passwords[conn_id], extra=extra)


def test_other_connection_types_fail_loudly_and_stay_as_they_were(ports_and_others: Any, airflow: Airflow) -> None:
    scenario, ids = ports_and_others
    assert not scenario.invocation.ok, "a refused connection is a function error"
    assert "RefreshFailed" in scenario.invocation.error, scenario.invocation.error[-2000:]
    # cargo-lambda wraps the error text; the function's log has one line per failed connection.
    failed = [line for line in scenario.invocation.function_log.splitlines() if "connection not refreshed" in line]
    assert len(failed) == 2, failed
    for key, conn_type in (("postgres", "postgresql"), ("aws", "aws")):
        line = next((f for f in failed if f"conn_id={ids[key]} " in f), "")
        assert f'the secret is a "{conn_type}" connection, not a Docker one' in line, failed
    seen = airflow.read([ids["postgres"], ids["aws"]])
    postgres = seen[ids["postgres"]]["connection"]
    assert (postgres["conn_type"], postgres["host"], postgres["login"], postgres["password"], postgres["port"]) == \
        ("postgres", "db.example.com", "app", "dbpass", 5432)
    aws = seen[ids["aws"]]["connection"]
    assert (aws["conn_type"], aws["login"], aws["password"], aws["extra_dejson"]) == \
        ("aws", "AKIAEXAMPLE", "example-secret-key", {"region_name": "eu-west-1"})


@pytest.mark.parametrize("log_env", [
    {"AWS_LAMBDA_LOG_LEVEL": "TRACE", "AWS_LAMBDA_LOG_FORMAT": "json"},
    {"RUST_LOG": "trace", "LOG_SENSITIVE_BODIES": "true"},
], ids=["lambda-trace-json", "rust-log-trace"])
def test_trace_logs_under_the_lambda_runtime_never_show_the_password(
        emulator: LambdaEmulator, proxy: ProxyControl, secrets: Any, log_env: dict[str, str]) -> None:
    created, updated = unique("trace_new"), unique("trace_old")
    put_secret(secrets, f"airflow/connections/{updated}", json.dumps({"conn_type": "docker", "password": "x"}))
    password = new_password()
    # run() fails the test if the password shows in any form (raw, percent-encoded, as
    # the base64 token) in the function's log or error.
    scenario = run(emulator, proxy, secrets, {"CONNECTIONS": f"{created},{updated}", **log_env},
                   ecr_password=password, passwords={created: password, updated: password},
                   secret_names=[f"airflow/connections/{i}" for i in (created, updated)])
    assert scenario.invocation.ok, scenario.invocation.error[-2000:]
    log = scenario.invocation.function_log
    assert "run started" in log, "our own DEBUG events were logged: logging really was on"
    assert "beginning attempt" not in log, "the SDK's events never print (src/logging.rs)"
