"""Fixtures for the Airflow contract tests: the Lambda under cargo-lambda,
the fake Docker engine, and the three Airflow venvs built by scripts/bootstrap.sh."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from contract.airflow_reader import Airflow
from contract.fake_docker import FakeDocker
from contract.lambda_emulator import LambdaEmulator
from support.proxy_control import ProxyControl

REPO = Path(__file__).resolve().parents[2]
# The newest Airflow 3, Airflow 2.10, and the oldest Airflow 2 line Amazon MWAA still offers
# (2.7.2 with amazon provider 8.7.1, as MWAA pins it; the sources are cited in
# tests/requirements/airflow2_mwaa_oldest.txt, starting from
# https://docs.aws.amazon.com/mwaa/latest/userguide/airflow-versions.html).
AIRFLOWS = {"airflow3": "AIRFLOW3_PYTHON", "airflow2": "AIRFLOW2_PYTHON",
            "airflow2_mwaa_oldest": "AIRFLOW2_MWAA_OLDEST_PYTHON"}


@pytest.fixture(scope="session")
def fake_docker() -> Iterator[FakeDocker]:
    docker = FakeDocker()
    yield docker
    docker.close()


@pytest.fixture(scope="session")
def emulator(_proxy_process: ProxyControl) -> Iterator[LambdaEmulator]:
    """The function talks to AWS through the proxy, so tests can shape ECR's answers.
    Its output (cargo's and the function's logs) goes to target/contract-tests/."""
    log = REPO / "target" / "contract-tests" / "cargo-lambda-watch.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(b"")
    lam = LambdaEmulator(REPO, _proxy_process.url, log)
    yield lam
    lam.stop()


@pytest.fixture(scope="session")
def proxy(_proxy_process: ProxyControl) -> ProxyControl:
    """The session's proxy; scenarios configure and reset it around each invocation."""
    return _proxy_process


@pytest.fixture(scope="session", params=sorted(AIRFLOWS))
def airflow(request: pytest.FixtureRequest, moto_url: str, fake_docker: FakeDocker) -> Iterator[Airflow]:
    """Each test runs once per Airflow venv; a missing venv fails, never skips."""
    name = request.param
    python = os.environ.get(AIRFLOWS[name], "")
    if not python or not os.access(python, os.X_OK):
        pytest.fail(f"{AIRFLOWS[name]}={python!r} is not an executable; run scripts/bootstrap.sh first")
    venv = Airflow(name, python, moto_url, fake_docker)
    yield venv
    venv.close()
