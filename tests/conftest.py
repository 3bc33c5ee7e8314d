"""Fixtures shared by every Python test suite: the local moto and the AWS proxy.

Also records what the function sent: at the end of a session that started the proxy,
target/aws-requests-seen.json lists every kind of AWS request the proxy received (its
/_proxy/seen), which scripts/check_iam.py turns into the IAM actions the code needs. The
record says whether the run was complete (every suite in PROXY_SUITES ran, nothing failed,
was skipped or deselected); check_iam.py trusts only a complete one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest

from support.proxy_control import ProxyControl, local_moto_url, running_proxy

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "target" / "aws-requests-seen.json"
# The suites whose requests, together, are everything the function sends.
PROXY_SUITES = ("tests/contract", "tests/test_request_counts.py", "tests/test_pull_rights.py")
_SEEN = pytest.StashKey[list]()
_NOT_PASSED = pytest.StashKey[list]()


@pytest.fixture(scope="session")
def moto_url() -> str:
    return local_moto_url()


@pytest.fixture(scope="session")
def secrets(moto_url: str) -> Any:
    """Secrets Manager straight at moto, not through the proxy, so test set-up is never
    counted among the function's requests."""
    return boto3.client("secretsmanager", endpoint_url=moto_url, region_name="us-east-1")


@pytest.fixture(scope="session")
def ssm(moto_url: str) -> Any:
    """Parameter Store straight at moto, like `secrets`."""
    return boto3.client("ssm", endpoint_url=moto_url, region_name="us-east-1")


@pytest.fixture(scope="session")
def _proxy_process(moto_url: str, request: pytest.FixtureRequest) -> Iterator[ProxyControl]:
    with running_proxy(moto_url) as proxy:
        yield proxy
        request.session.stash[_SEEN] = proxy.seen()


@pytest.fixture
def aws_proxy(_proxy_process: ProxyControl) -> Iterator[ProxyControl]:
    """A proxy in front of moto, with empty config and log for each test."""
    _proxy_process.reset()
    yield _proxy_process
    _proxy_process.reset()


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        items[0].session.stash.setdefault(_NOT_PASSED, []).append(f"{len(items)} tests deselected")


def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    if call.excinfo is not None and "_proxy_process" in getattr(item, "fixturenames", ()):
        item.session.stash.setdefault(_NOT_PASSED, []).append(f"{item.nodeid}: {call.when} did not pass")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _SEEN not in session.stash:
        return  # no test used the proxy
    ran = {str(item.path.relative_to(ROOT)) for item in session.items
           if "_proxy_process" in getattr(item, "fixturenames", ())}
    incomplete = list(session.stash.get(_NOT_PASSED, []))
    incomplete += [f"{suite} did not run" for suite in PROXY_SUITES
                   if not any(f == suite or f.startswith(suite + "/") for f in ran)]
    if exitstatus != 0:
        incomplete.append(f"pytest exited {exitstatus}")
    RECORD.parent.mkdir(parents=True, exist_ok=True)
    RECORD.write_text(json.dumps({
        "written_by": "tests/conftest.py",
        "complete": not incomplete,
        "incomplete_because": incomplete[:20],
        "suites": sorted(ran),
        "requests": session.stash[_SEEN],
    }, indent=2) + "\n")
