"""Issue 15 under the Lambda runtime: with Airflow's Parameter Store backend named in
AIRFLOW__SECRETS__BACKEND, the function writes SecureString parameters that real Airflow 2
and 3, configured with that backend as a user would, resolve, and DockerHook logs in with
the fresh password. New JSON, new URI, an existing URI with extras; an existing JSON with
an alias key is one Airflow cannot load there, so it is reported and left untouched."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contract.airflow_reader import PARAMETER_STORE, Airflow
from contract.checks import stored_format
from contract.lambda_emulator import LambdaEmulator
from contract.scenario import Scenario, assert_airflow_sees, assert_not_found, host, new_password, ok, run, unique
from support.proxy_control import ProxyControl

PREFIX = "/airflow/connections"
ENV = {"AIRFLOW__SECRETS__BACKEND": PARAMETER_STORE,
       "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps({"connections_prefix": PREFIX})}
ALIASED = {"conn_type": "docker", "host": "old.example.com", "user": "AWS", "password": "old"}
THEIRS = "postgresql://etl:db-password@db.example.com:5432/warehouse"


def parameter(ssm: Any, conn_id: str) -> dict[str, Any] | None:
    found = ssm.get_parameters(Names=[f"{PREFIX}/{conn_id}"], WithDecryption=True)["Parameters"]
    return found[0] if found else None


@pytest.fixture(scope="session")
def parameter_runs(emulator: LambdaEmulator, proxy: ProxyControl, secrets: Any,
                   ssm: Any) -> tuple[dict[str, str], Scenario, Scenario]:
    ids = {kind: unique(f"ps_{kind}") for kind in ("new_json", "new_uri", "old_uri", "aliased", "theirs")}
    ssm.put_parameter(Name=f"{PREFIX}/{ids['old_uri']}", Type="SecureString",
                      Value=f"docker://AWS:old@{host()}?email=ops%40example.com&reauth=false")
    ssm.put_parameter(Name=f"{PREFIX}/{ids['aliased']}", Type="SecureString", Value=json.dumps(ALIASED))
    # Someone's database login under a mistyped conn id: its tags are read, and it is kept.
    ssm.put_parameter(Name=f"{PREFIX}/{ids['theirs']}", Type="SecureString", Value=THEIRS)
    password = new_password()
    json_run = run(emulator, proxy, secrets, {**ENV, "CONNECTIONS": f"{ids['new_json']},{ids['old_uri']}"},
                   ecr_password=password, passwords={ids["new_json"]: password, ids["old_uri"]: password},
                   secret_names=[])
    password = new_password()
    uri_run = run(emulator, proxy, secrets,
                  {**ENV, "CONNECTIONS": f"{ids['new_uri']},{ids['aliased']},{ids['theirs']}",
                   "SECRET_FORMAT": "uri"},
                  ecr_password=password, passwords={ids["new_uri"]: password}, secret_names=[])
    return ids, json_run, uri_run


def test_new_and_existing_parameters_are_what_airflow_reads(parameter_runs: Any, airflow: Airflow, ssm: Any) -> None:
    ids, json_run, uri_run = parameter_runs
    done = {**ok(json_run)}
    assert done[ids["new_json"]]["secret_name"] == f"{PREFIX}/{ids['new_json']}"
    assert (done[ids["new_json"]]["action"], done[ids["old_uri"]]["action"]) == ("created", "updated")
    seen = airflow.read([ids["new_json"], ids["new_uri"], ids["old_uri"]], backend=PARAMETER_STORE,
                        connections_prefix=PREFIX)
    assert_airflow_sees(seen[ids["new_json"]], registry=host(), password=json_run.passwords[ids["new_json"]],
                        extra={"reauth": True})
    assert_airflow_sees(seen[ids["new_uri"]], registry=host(), password=uri_run.passwords[ids["new_uri"]],
                        extra={"reauth": "true"})
    assert_airflow_sees(seen[ids["old_uri"]], registry=host(), password=json_run.passwords[ids["old_uri"]],
                        extra={"email": "ops@example.com", "reauth": "false"})
    for conn_id, form in ((ids["new_json"], "json"), (ids["new_uri"], "uri"), (ids["old_uri"], "uri")):
        stored = parameter(ssm, conn_id)
        assert stored is not None and stored["Type"] == "SecureString"
        kind = stored_format(stored["Value"])  # not in the assert: pytest would print the value
        assert kind == form, conn_id


def test_a_json_parameter_airflow_cannot_load_is_reported_and_untouched(parameter_runs: Any, airflow: Airflow,
                                                                        ssm: Any) -> None:
    ids, _, uri_run = parameter_runs
    assert not uri_run.invocation.ok, "a failed connection fails the invocation"
    # cargo-lambda wraps the error's lines in a box: read it as one line.
    error = " ".join(uri_run.invocation.error.replace("│", " ").split())
    assert ids["aliased"] in error and "not the key \"user\"" in error, error[-2000:]
    stored = parameter(ssm, ids["aliased"])
    assert stored is not None and json.loads(stored["Value"]) == ALIASED
    assert ids["theirs"] in error and 'a "postgresql" connection, not a Docker one' in error, error[-2000:]
    theirs = parameter(ssm, ids["theirs"])
    assert theirs is not None and theirs["Value"] == THEIRS and theirs["Version"] == 1
    # Airflow itself cannot load it: the key the function refused is the reason.
    seen = airflow.read([ids["aliased"]], backend=PARAMETER_STORE, connections_prefix=PREFIX)
    assert_not_found(seen[ids["aliased"]])

