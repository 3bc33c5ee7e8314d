"""Issue 3: the real Lambda (cargo-lambda emulator, repo's events/, moto) writes
connections that real Airflow 2 and 3 read through SecretsManagerBackend, and
DockerHook's login carries exactly those credentials to the Docker engine.

Each scenario runs the Lambda once (session fixture); the tests then read the
result with every Airflow venv (the `airflow` fixture is parametrized).
Conn ids are unique per run so the shared moto needs no cleanup, and every
scenario gets its own ECR password from the proxy, so a stale value cannot pass.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from contract.checks import stored_field_problems, stored_format, stored_keys
from contract.airflow_reader import Airflow
from contract.lambda_emulator import LambdaEmulator
from contract.scenario import (ACCOUNT, OTHER_ACCOUNT, PUT_TARGETS, REPO, SPECIAL_PASSWORD, Scenario,
                               assert_airflow_sees,
                               assert_not_found, host, new_password, ok, put_secret, run, unique)
from support.proxy_control import ProxyControl

# --- scenarios ---------------------------------------------------------------

@pytest.fixture(scope="session")
def new_secrets(emulator: LambdaEmulator, proxy: ProxyControl, secrets: Any) -> tuple[Scenario, Scenario, str, str]:
    """CONNECTIONS as a comma list; one run creating JSON, one creating URI secrets."""
    as_json, as_uri = unique("new_json"), unique("new_uri")
    pw_json, pw_uri = new_password(), new_password()
    json_run = run(emulator, proxy, secrets, {"CONNECTIONS": f" {as_json} "}, ecr_password=pw_json,
                   passwords={as_json: pw_json}, secret_names=[f"airflow/connections/{as_json}"])
    uri_run = run(emulator, proxy, secrets, {"CONNECTIONS": as_uri, "SECRET_FORMAT": "uri"}, ecr_password=pw_uri,
                  passwords={as_uri: pw_uri}, secret_names=[f"airflow/connections/{as_uri}"])
    return json_run, uri_run, as_json, as_uri


def test_new_secret_json(new_secrets: Any, airflow: Airflow) -> None:
    scenario, _, conn_id, _ = new_secrets
    entry = ok(scenario)[conn_id]
    assert (entry["action"], entry["secret_name"]) == ("created", f"airflow/connections/{conn_id}")
    stored = stored_format(scenario.raw[entry["secret_name"]])  # not in the assert: pytest would print the secret
    assert stored == "json"
    seen = airflow.read([conn_id])[conn_id]
    assert_airflow_sees(seen, registry=host(), password=scenario.passwords[conn_id], extra={"reauth": True})


def test_new_secret_uri(new_secrets: Any, airflow: Airflow) -> None:
    _, scenario, _, conn_id = new_secrets
    entry = ok(scenario)[conn_id]
    assert entry["action"] == "created"
    stored = stored_format(scenario.raw[entry["secret_name"]])
    assert stored == "uri"
    seen = airflow.read([conn_id])[conn_id]
    # URI query parameters reach Airflow as strings; DockerHook parses "true".
    assert_airflow_sees(seen, registry=host(), password=scenario.passwords[conn_id], extra={"reauth": "true"})


@pytest.fixture(scope="session")
def existing(emulator: LambdaEmulator, proxy: ProxyControl, secrets: Any) -> tuple[Scenario, dict[str, str]]:
    """Secrets users already had, in both formats, with extras and keys of their own."""
    ids = {k: unique(k) for k in ("json", "alias", "uri")}
    put_secret(secrets, f"airflow/connections/{ids['json']}", json.dumps({
        "conn_type": "docker", "host": host(), "login": "AWS", "password": "old-password",
        "extra": {"reauth": False, "email": "ops@example.com"},
        "description": "pulls the nightly images", "owner": "data-platform"}))
    # Airflow takes the first alias present: `pass` here, and `extra` as a JSON string.
    put_secret(secrets, f"airflow/connections/{ids['alias']}", json.dumps({
        "user": "AWS", "pass": "old-password", "conn_type": "docker", "host": host(),
        "extra": json.dumps({"reauth": "false", "email": "alias@example.com"}), "team": "ml"}))
    put_secret(secrets, f"airflow/connections/{ids['uri']}",
               f"docker://AWS:old-password@{host()}?reauth=false&email=uri%40example.com&team=etl")
    password = new_password()
    scenario = run(emulator, proxy, secrets, {"CONNECTIONS": ",".join(ids.values())}, ecr_password=password,
                   passwords={i: password for i in ids.values()},
                   secret_names=[f"airflow/connections/{i}" for i in ids.values()])
    return scenario, ids


def test_existing_json_keeps_extras_and_keys(existing: Any, airflow: Airflow) -> None:
    scenario, ids = existing
    assert ok(scenario)[ids["json"]]["action"] == "updated"
    problems = stored_field_problems(scenario.raw[f"airflow/connections/{ids['json']}"],
                                     {"description": "pulls the nightly images", "owner": "data-platform"})
    assert not problems, problems
    seen = airflow.read([ids["json"]])[ids["json"]]
    assert_airflow_sees(seen, registry=host(), password=scenario.passwords[ids["json"]],
                        extra={"reauth": False, "email": "ops@example.com"})


def test_existing_json_with_aliases_updates_the_alias_airflow_reads(existing: Any, airflow: Airflow) -> None:
    scenario, ids = existing
    assert ok(scenario)[ids["alias"]]["action"] == "updated"
    stored = scenario.raw[f"airflow/connections/{ids['alias']}"]
    problems = stored_field_problems(stored, {"team": "ml", "user": "AWS"})
    assert not problems, problems
    keys = stored_keys(stored)
    assert "conn_id" not in keys  # an alias of conn_type
    assert "password" not in keys  # `pass` is the alias Airflow reads here; a second one only confuses
    seen = airflow.read([ids["alias"]])[ids["alias"]]
    assert_airflow_sees(seen, registry=host(), password=scenario.passwords[ids["alias"]],
                        extra={"reauth": "false", "email": "alias@example.com"})


def test_existing_uri_stays_uri_and_keeps_query(existing: Any, airflow: Airflow) -> None:
    scenario, ids = existing
    assert ok(scenario)[ids["uri"]]["action"] == "updated"
    stored = stored_format(scenario.raw[f"airflow/connections/{ids['uri']}"])
    assert stored == "uri"
    seen = airflow.read([ids["uri"]])[ids["uri"]]
    assert_airflow_sees(seen, registry=host(), password=scenario.passwords[ids["uri"]],
                        extra={"reauth": "false", "email": "uri@example.com", "team": "etl"})


@pytest.fixture(scope="session")
def special(emulator: LambdaEmulator, proxy: ProxyControl, secrets: Any) -> tuple[Scenario, Scenario, dict[str, str]]:
    """A password with + / = % (and more) through every write path."""
    ids = {k: unique(k) for k in ("new_uri", "new_json", "old_uri", "old_json")}
    put_secret(secrets, f"airflow/connections/{ids['old_uri']}", f"docker://AWS:old@{host()}?reauth=true")
    put_secret(secrets, f"airflow/connections/{ids['old_json']}", json.dumps(
        {"conn_type": "docker", "host": host(), "login": "AWS", "password": "old", "extra": {"reauth": True}}))
    names = [f"airflow/connections/{i}" for i in ids.values()]
    passwords = {i: SPECIAL_PASSWORD for i in ids.values()}
    uri_run = run(emulator, proxy, secrets,
                  {"CONNECTIONS": ",".join([ids["new_uri"], ids["old_uri"], ids["old_json"]]), "SECRET_FORMAT": "uri"},
                  ecr_password=SPECIAL_PASSWORD, passwords=passwords, secret_names=names)
    json_run = run(emulator, proxy, secrets, {"CONNECTIONS": ids["new_json"]},
                   ecr_password=SPECIAL_PASSWORD, passwords=passwords, secret_names=names)
    return uri_run, json_run, ids


def test_password_with_reserved_characters(special: Any, airflow: Airflow) -> None:
    uri_run, scenario, ids = special
    ok(uri_run)
    ok(scenario)
    seen = airflow.read(list(ids.values()))
    for label, conn_id in ids.items():
        uri = stored_format(scenario.raw[f"airflow/connections/{conn_id}"]) == "uri"
        assert uri == ("uri" in label), f"{label}: stored in the wrong format"
        assert_airflow_sees(seen[conn_id], registry=host(), password=SPECIAL_PASSWORD,
                            extra={"reauth": "true"} if uri else {"reauth": True})


PREFIX = "platform/airflow-conns"


@pytest.fixture(scope="session")
def custom_prefix(emulator: LambdaEmulator, proxy: ProxyControl, secrets: Any) -> dict[str, tuple[Scenario, str]]:
    """The function given connections_prefix / sep as the template passes them (Airflow's per-key
    variables), Airflow the same values in its kwargs; once with a trailing sep, which the
    backend strips."""
    runs = {}
    for prefix in (PREFIX, PREFIX + "."):
        conn_id, password = unique("prefix"), new_password()
        runs[prefix] = run(emulator, proxy, secrets,
                           {"CONNECTIONS": conn_id, "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX": prefix,
                            "AIRFLOW__SECRETS__BACKEND_KWARG__SEP": "."},
                           ecr_password=password, passwords={conn_id: password},
                           secret_names=[f"{PREFIX}.{conn_id}"]), conn_id
    return runs


@pytest.mark.parametrize("prefix", [PREFIX, PREFIX + "."], ids=["prefix", "prefix-with-trailing-sep"])
def test_custom_prefix_and_separator(custom_prefix: Any, airflow: Airflow, prefix: str) -> None:
    scenario, conn_id = custom_prefix[prefix]
    assert ok(scenario)[conn_id]["secret_name"] == f"{PREFIX}.{conn_id}"
    assert f"{PREFIX}.{conn_id}" in set(scenario.raw)
    # Airflow configured the same way (connections_prefix + sep) finds it...
    seen = airflow.read([conn_id], connections_prefix=prefix, sep=".")[conn_id]
    assert_airflow_sees(seen, registry=host(), password=scenario.passwords[conn_id], extra={"reauth": True})
    # ...and with the default layout it is not there.
    assert_not_found(airflow.read([conn_id])[conn_id])


@pytest.fixture(scope="session")
def regions(emulator: LambdaEmulator, proxy: ProxyControl, secrets: Any) -> tuple[Scenario, dict[str, tuple[str, str]]]:
    """JSON CONNECTIONS: two regions, another account's registry by id and by host."""
    pw = {"us-east-1": new_password(), "eu-west-1": new_password()}
    ids = {k: unique(k) for k in ("home", "eu", "other", "other_eu")}
    config = [
        {"conn_id": ids["home"]},
        {"conn_id": ids["eu"], "region": "eu-west-1"},
        {"conn_id": ids["other"], "registry": OTHER_ACCOUNT},
        {"conn_id": ids["other_eu"], "region": "eu-west-1", "registry": host(OTHER_ACCOUNT, "eu-west-1")},
    ]
    expected = {  # conn_id -> (registry host, password of that region's token)
        ids["home"]: (host(), pw["us-east-1"]),
        ids["eu"]: (host(ACCOUNT, "eu-west-1"), pw["eu-west-1"]),
        ids["other"]: (host(OTHER_ACCOUNT), pw["us-east-1"]),
        ids["other_eu"]: (host(OTHER_ACCOUNT, "eu-west-1"), pw["eu-west-1"]),
    }
    scenario = run(emulator, proxy, secrets, {"CONNECTIONS": json.dumps(config)}, ecr_password=pw,
                   passwords={c: p for c, (_, p) in expected.items()},
                   secret_names=[f"airflow/connections/{c}" for c in expected])
    return scenario, expected


def test_two_regions_and_another_accounts_registry(regions: Any, airflow: Airflow) -> None:
    scenario, expected = regions
    response = ok(scenario)
    assert {c: response[c]["action"] for c in expected} == {c: "created" for c in expected}
    assert scenario.ecr_calls == 2, "expected one GetAuthorizationToken per region"
    seen = airflow.read(list(expected))
    for conn_id, (registry, password) in expected.items():
        assert_airflow_sees(seen[conn_id], registry=registry, password=password, extra={"reauth": True})


def expected_host(entry: dict[str, str]) -> str:
    """Registry host for a CONNECTIONS / manual-request entry (function region us-east-1)."""
    registry = entry.get("registry", ACCOUNT)
    return registry if "." in registry else host(registry, entry.get("region", "us-east-1"))


def event(path: str) -> dict[str, Any]:
    return json.loads((REPO / path).read_text())


@pytest.fixture(scope="session")
def dry_run(emulator: LambdaEmulator, proxy: ProxyControl, secrets: Any) -> tuple[Scenario, str, str]:
    """events/dry-run.json over one existing and one missing connection."""
    existing_id, missing_id = unique("dry_old"), unique("dry_new")
    put_secret(secrets, f"airflow/connections/{existing_id}", json.dumps(
        {"conn_type": "docker", "host": host(), "login": "AWS", "password": "still-old", "extra": {"reauth": True}}))
    request = event("events/dry-run.json")
    assert request.get("dry_run") is True, "events/dry-run.json must ask for a dry run"
    env = {"CONNECTIONS": f"{existing_id},{missing_id}"}
    if "connections" in request:  # the repo's file with its connections swapped for this run's ids
        source: dict[str, Any] = {"event_file": None, "data": {**request, "connections": [
            {"conn_id": existing_id}, {"conn_id": missing_id}]}}
    else:  # the file as is: it dry-runs the configured CONNECTIONS
        source = {"event_file": "events/dry-run.json"}
    scenario = run(emulator, proxy, secrets, env, ecr_password=new_password(),
                   passwords={existing_id: "still-old"}, **source,
                   secret_names=[f"airflow/connections/{i}" for i in (existing_id, missing_id)])
    return scenario, existing_id, missing_id


def test_dry_run_leaves_airflow_on_the_old_value(dry_run: Any, airflow: Airflow) -> None:
    scenario, existing_id, missing_id = dry_run
    response = ok(scenario)
    assert response[existing_id]["action"] == "would_update"
    assert response[missing_id]["action"] == "would_create"
    assert scenario.writes == []
    seen = airflow.read([existing_id, missing_id])
    assert_airflow_sees(seen[existing_id], registry=host(), password="still-old", extra={"reauth": True})
    assert_not_found(seen[missing_id])


# --- the repo's events/ files as they are -------------------------------------

def test_repo_events_are_valid() -> None:
    """scheduled.json is an EventBridge scheduled event; manual/dry-run are manual requests."""
    scheduled = event("events/scheduled.json")
    assert scheduled.get("detail-type") == "Scheduled Event" or scheduled == {}
    for name in ("events/manual.json", "events/dry-run.json"):
        doc = event(name)
        assert set(doc) <= {"connections", "dry_run"}, f"{name}: unknown keys {sorted(set(doc) - {'connections', 'dry_run'})}"
    assert event("events/dry-run.json").get("dry_run") is True


@pytest.fixture(scope="session")
def manual_file(emulator: LambdaEmulator, proxy: ProxyControl, secrets: Any) -> tuple[Scenario, list[str], str]:
    """events/manual.json verbatim: it refreshes its own connections, not CONNECTIONS."""
    request = event("events/manual.json")
    named = [c["conn_id"] for c in request.get("connections", [])]
    assert named, "events/manual.json should name the connections it refreshes"
    for conn_id in named:  # fixed names from the file: start from a clean slate
        try:
            secrets.delete_secret(SecretId=f"airflow/connections/{conn_id}", ForceDeleteWithoutRecovery=True)
        except secrets.exceptions.ResourceNotFoundException:
            pass
    configured = unique("not_requested")
    password = new_password()
    scenario = run(emulator, proxy, secrets, {"CONNECTIONS": configured}, event_file="events/manual.json",
                   ecr_password=password, passwords={c: password for c in named},
                   secret_names=[f"airflow/connections/{c}" for c in [*named, configured]])
    return scenario, named, configured


def test_repo_manual_event_refreshes_its_connections(manual_file: Any, airflow: Airflow) -> None:
    scenario, named, configured = manual_file
    entries = {c["conn_id"]: c for c in event("events/manual.json")["connections"]}
    response = ok(scenario)
    assert sorted(response) == sorted(named)
    assert f"airflow/connections/{configured}" not in set(scenario.raw)
    seen = airflow.read(named)
    for conn_id in named:
        assert seen[conn_id]["error"] is None, seen[conn_id]["error"]
        assert_airflow_sees(seen[conn_id], registry=expected_host(entries[conn_id]),
                            password=scenario.passwords[conn_id], extra={"reauth": True})


def test_malformed_manual_request_fails_and_writes_nothing(emulator: LambdaEmulator, aws_proxy: ProxyControl) -> None:
    conn_id = unique("malformed")
    invocation = emulator.invoke({"CONNECTIONS": conn_id}, data={"connections": [{"region": "eu-west-1"}]})
    assert not invocation.ok
    assert not PUT_TARGETS & set(aws_proxy.requests())


@pytest.fixture(scope="session")
def failed_write(emulator: LambdaEmulator, proxy: ProxyControl, secrets: Any) -> tuple[Scenario, str]:
    """Secrets Manager refuses the update of one existing secret."""
    conn_id = unique("denied")
    put_secret(secrets, f"airflow/connections/{conn_id}", json.dumps(
        {"conn_type": "docker", "host": host(), "login": "AWS", "password": "kept", "extra": {"reauth": True}}))
    proxy.reset()
    proxy.configure(ecr_password=new_password(), faults=[{
        "target": "secretsmanager.PutSecretValue", "times": 100, "status": 400,
        "body": {"__type": "AccessDeniedException", "message": "not allowed to write this secret"}}])
    try:
        invocation = emulator.invoke({"CONNECTIONS": conn_id}, event_file="events/scheduled.json")
    finally:
        proxy.reset()
    return Scenario(invocation, {conn_id: "kept"}), conn_id


def test_failed_write_is_a_function_error_naming_the_connection(failed_write: Any, airflow: Airflow) -> None:
    scenario, conn_id = failed_write
    assert not scenario.invocation.ok, "a refused write must fail the invocation (so the alarm fires)"
    assert conn_id in scenario.invocation.error
    # Airflow keeps the last good value rather than something half-written.
    assert_airflow_sees(airflow.read([conn_id])[conn_id], registry=host(), password="kept", extra={"reauth": True})
