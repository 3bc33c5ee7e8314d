"""The scenario machinery the contract tests share: run the Lambda once through the
test proxy with its own ECR password, check nothing leaked, and read the outcome back."""

from __future__ import annotations

import secrets as random
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract.checks import airflow_view_problems, leaked_in
from contract.lambda_emulator import Invocation, LambdaEmulator
from support.proxy_control import ProxyControl

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
OTHER_ACCOUNT = "210987654321"
PUT_TARGETS = {"secretsmanager.PutSecretValue", "secretsmanager.CreateSecret", "secretsmanager.UpdateSecret"}
# Everything a password can trip on: URI-reserved, base64, percent escapes, '+' vs space.
SPECIAL_PASSWORD = "eyJ+cGF5/bG9hZCI=%2F%41:@?#&+ x=="


def host(account: str = ACCOUNT, region: str = "us-east-1") -> str:
    return f"{account}.dkr.ecr.{region}.amazonaws.com"


def unique(label: str) -> str:
    return f"ct_{label}_{uuid.uuid4().hex[:8]}"


def new_password() -> str:
    return "pw" + random.token_urlsafe(24)


@dataclass
class Scenario:
    invocation: Invocation
    # Kept out of repr: pytest prints fixture values in failure reports.
    passwords: dict[str, str] = field(repr=False)  # conn_id -> the password Airflow must now see
    raw: dict[str, str] = field(default_factory=dict, repr=False)  # secret name -> SecretString after the run
    writes: list[str] = field(default_factory=list)  # Secrets Manager writes the function made
    ecr_calls: int = 0


def run(emulator: LambdaEmulator, proxy: ProxyControl, secrets: Any, env: dict[str, str], *,
        ecr_password: str | dict[str, str], passwords: dict[str, str], secret_names: list[str],
        event_file: str | None = "events/scheduled.json", data: Any = None) -> Scenario:
    proxy.reset()
    proxy.configure(ecr_password=ecr_password)
    try:
        invocation = emulator.invoke(env, event_file=event_file, data=data)
        targets = proxy.requests()
    finally:
        proxy.reset()
    all_passwords = [ecr_password] if isinstance(ecr_password, str) else list(ecr_password.values())
    for password in all_passwords:
        # Function logs end up in CloudWatch: no token there, in any form.
        leak = leaked_in(invocation.function_log + invocation.error, password)
        assert leak is None, leak
    raw = {}
    for name in secret_names:
        try:
            raw[name] = secrets.get_secret_value(SecretId=name)["SecretString"]
        except secrets.exceptions.ResourceNotFoundException:
            pass
    return Scenario(invocation, passwords, raw,
                    writes=[t for t in targets if t in PUT_TARGETS],
                    ecr_calls=sum(t.endswith(".GetAuthorizationToken") for t in targets))


def ok(scenario: Scenario) -> dict[str, Any]:
    """The function's response, by conn_id, after checking the invocation succeeded."""
    assert scenario.invocation.ok, f"function failed: {scenario.invocation.error[-2000:]}"
    return {entry["conn_id"]: entry for entry in scenario.invocation.response["connections"]}


def assert_airflow_sees(seen: dict[str, Any], *, registry: str, password: str, extra: dict[str, Any]) -> None:
    """get_connection gives docker / registry host / AWS / password / extra, and DockerHook's
    login sends exactly {username, password, serveraddress} (+ email when set)."""
    problems = airflow_view_problems(seen, registry=registry, password=password, extra=extra)
    assert not problems, "\n".join(problems)


def assert_not_found(seen: dict[str, Any]) -> None:
    found = seen["connection"] is not None
    assert not found, "Airflow found a connection that should not exist"
    assert seen["error"]["type"] == "AirflowNotFoundException"


def put_secret(secrets: Any, name: str, value: str) -> None:
    secrets.create_secret(Name=name, SecretString=value)
