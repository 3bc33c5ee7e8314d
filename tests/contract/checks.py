"""Comparisons that never put a password into a failure message.

pytest prints the values an `assert` compares (and, in long tracebacks, every
frame's arguments). This module is not a test module, so its code is not
rewritten: it compares here and hands tests plain-text problems to assert on,
naming fields and showing only values that are not secret.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from typing import Any


def password_mismatch(actual: Any, expected: str) -> str | None:
    if actual == expected:
        return None
    if not isinstance(actual, str):
        return f"password is {type(actual).__name__}, not str"
    index = next((i for i, (a, b) in enumerate(zip(actual, expected)) if a != b), min(len(actual), len(expected)))
    return f"password differs (length {len(actual)} vs expected {len(expected)}, first difference at index {index})"


def redact(text: str, passwords: list[str]) -> str:
    for password in passwords:
        for form in (password, urllib.parse.quote(password, safe="")):
            text = text.replace(form, "<password>")
    return text


def airflow_view_problems(seen: dict[str, Any], *, registry: str, password: str,
                          extra: dict[str, Any]) -> list[str]:
    """What is wrong with one connection as the probe saw it: get_connection's
    fields, then the body DockerHook's login sent to the engine's POST /auth."""
    if seen["error"] is not None:
        error = seen["error"]
        return [f"{error['step']} raised {error['type']}: {redact(error['message'], [password])}"]
    conn = seen["connection"]
    problems = []
    expected = {"conn_type": "docker", "host": registry, "login": "AWS", "port": None, "extra_dejson": extra}
    for key, want in expected.items():
        if conn[key] != want:
            problems.append(f"get_connection {key}: {conn[key]!r}, expected {want!r}")
    if (mismatch := password_mismatch(conn["password"], password)) is not None:
        problems.append(f"get_connection {mismatch}")

    logins = seen["docker_logins"]
    if len(logins) != 1:
        return problems + [f"DockerHook logged in {len(logins)} times, expected once"]
    login = logins[0]
    want_login = {"username": "AWS", "serveraddress": registry}
    if extra.get("email"):
        want_login["email"] = extra["email"]
    fields = {k: v for k, v in login.items() if k != "password"}
    if fields != want_login:
        problems.append(f"docker login sent {fields!r} (+ password), expected {want_login!r}")
    if (mismatch := password_mismatch(login.get("password"), password)) is not None:
        problems.append(f"docker login {mismatch}")
    return problems


def stored_format(secret_string: str) -> str:
    """How Airflow will parse it: JSON if it starts with '{', else a URI."""
    return "json" if secret_string.strip().startswith("{") else "uri"


def stored_field_problems(secret_string: str, expected: dict[str, Any]) -> list[str]:
    """Non-secret keys a JSON secret must hold with these values (the user's own data)."""
    stored = json.loads(secret_string)
    return [f"stored {key}: {stored.get(key)!r}, expected {want!r}"
            for key, want in expected.items() if stored.get(key) != want]


def stored_keys(secret_string: str) -> list[str]:
    return sorted(json.loads(secret_string))


def leaked_in(text: str, password: str) -> str | None:
    """Names the form in which the password appears in text, if any."""
    forms = {
        "raw": password,
        "percent-encoded": urllib.parse.quote(password, safe=""),
        "ECR token": base64.b64encode(f"AWS:{password}".encode()).decode(),
    }
    for name, form in forms.items():
        if form in text:
            return f"the {name} password appears in the output"
    return None
