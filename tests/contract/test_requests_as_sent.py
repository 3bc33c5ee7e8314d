"""Requests through the real Lambda path (cargo-lambda's emulator and lambda_runtime's own
deserialization, which a parse into a JSON value would pass a duplicate key through
silently): a key given twice or as null, nesting past the parser's limit, or an EventBridge
detail the function does not read is refused as InvalidRequest, with nothing written; a
custom event's detail that says dry_run is a dry run."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contract.lambda_emulator import LambdaEmulator
from contract.scenario import host, new_password, ok, put_secret, run, unique
from support.proxy_control import ProxyControl

OLD = json.dumps({"conn_type": "docker", "host": host(), "login": "AWS", "password": "old-password",
                  "extra": {"reauth": True}})


def custom_event(detail: Any) -> str:
    """What EventBridge delivers for a PutEvents entry ("Amazon EventBridge events")."""
    return json.dumps({"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
                       "detail-type": "refresh requested", "source": "my.scheduler",
                       "account": "123456789012", "time": "2026-12-02T18:00:00Z", "region": "us-east-1",
                       "resources": [], "detail": detail})


@pytest.fixture(scope="module")
def conn_id(secrets: Any) -> str:
    conn_id = unique("request")
    put_secret(secrets, f"airflow/connections/{conn_id}", OLD)
    return conn_id


REFUSED = {
    # Read as a value, the last duplicate wins and this wrote.
    "dry-run-twice": ('{"dry_run": true, "connections": [{"conn_id": "%s"}], "dry_run": false}',
                      'the key "dry_run" is given twice'),
    "key-twice-in-a-connection": ('{"connections": [{"conn_id": "%s", "region": "us-east-1", "region": "eu-west-1"}]}',
                                  'the key "region" is given twice in connections[0]'),
    # Read as a value, this refreshed everything (while "dry_run": null was refused).
    "null-connections": ('{"connections": null}', "connections is null"),
    # lambda_runtime's own parse stopped here with its DeserializeError, no documented type.
    "deeply-nested": ('{"connections": ' + "[" * 300 + "]" * 300 + "}", "recursion limit exceeded"),
    # Read as a value, the detail was set aside and the configured connections written.
    "detail-not-read": (custom_event({"action-type": "PUSH", "repository-name": "%s"}),
                        'the event\'s "detail" holds "action-type"'),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_what_a_request_cannot_mean_is_refused_and_nothing_written(
        emulator: LambdaEmulator, proxy: ProxyControl, secrets: Any, conn_id: str, case: str) -> None:
    template, says = REFUSED[case]
    name = f"airflow/connections/{conn_id}"
    scenario = run(emulator, proxy, secrets, {"CONNECTIONS": conn_id}, ecr_password=new_password(),
                   passwords={}, secret_names=[name], event_file=None, data=template.replace("%s", conn_id))
    assert not scenario.invocation.ok, scenario.invocation.response
    # cargo-lambda wraps the message in a box: one line of words, as the function said it.
    error = " ".join(scenario.invocation.error.replace("\u2502", " ").split())
    assert "InvalidRequest" in error, error[-2000:]
    assert says in error, error[-2000:]
    assert "DeserializeError" not in error, "the runtime's own error type is not a documented one"
    assert scenario.writes == [] and scenario.ecr_calls == 0
    assert scenario.raw[name] == OLD


def test_a_custom_events_detail_that_says_dry_run_writes_nothing(
        emulator: LambdaEmulator, proxy: ProxyControl, secrets: Any, conn_id: str) -> None:
    name = f"airflow/connections/{conn_id}"
    scenario = run(emulator, proxy, secrets, {"CONNECTIONS": conn_id}, ecr_password=new_password(),
                   passwords={}, secret_names=[name], event_file=None, data=custom_event({"dry_run": True}))
    assert ok(scenario)[conn_id]["action"] == "would_update"
    assert scenario.writes == []
    assert scenario.raw[name] == OLD
