"""Reads connections through one Airflow venv, the way its workers do.

Runs airflow_probe.py with the venv's python, configured only by environment:
SecretsManagerBackend pointed at moto, no metadata database (the backend answers
before Airflow would look there), a throwaway AIRFLOW_HOME and Docker config.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from contract.fake_docker import FakeDocker

PROBE = Path(__file__).with_name("airflow_probe.py")
BACKEND = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
PARAMETER_STORE = "airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend"
# Given to Airflow as AWS_ENDPOINT_URL: a backend that ignored its endpoint_url
# kwarg would fail on this closed local port instead of reaching real AWS.
DEAD_ENDPOINT = "http://127.0.0.1:9"


class Airflow:
    """One Airflow venv, read through long-lived probe processes (one per backend config)."""

    def __init__(self, name: str, python: str, moto_url: str, docker: FakeDocker) -> None:
        self.name, self.python, self.moto_url, self.docker = name, python, moto_url, docker
        self.probes: dict[str, tuple[subprocess.Popen[str], tempfile.TemporaryDirectory[str]]] = {}

    def read(self, conn_ids: list[str], backend: str = BACKEND, **backend_kwargs: Any) -> dict[str, Any]:
        """What this Airflow's get_connection and DockerHook login see for each conn id."""
        kwargs = {"connections_prefix": "airflow/connections", "region_name": "us-east-1",
                  "endpoint_url": self.moto_url, **backend_kwargs}
        return self.read_env(conn_ids, {"AIRFLOW__SECRETS__BACKEND": backend,
                                        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps(kwargs)})

    def read_env(self, conn_ids: list[str], airflow_env: dict[str, str]) -> dict[str, Any]:
        """The same, with Airflow configured by `airflow_env` alone (AIRFLOW__* variables)."""
        key = json.dumps(airflow_env, sort_keys=True)
        process = self._probe(key)
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(conn_ids) + "\n")
        process.stdin.flush()
        # A probe stuck on a dead endpoint must fail the test, not hang the suite.
        ready, _, _ = select.select([process.stdout], [], [], 300)
        line = process.stdout.readline() if ready else ""
        if not line:
            process.kill()
            # stderr is Airflow's own log; Airflow masks connection passwords in it.
            log = os.path.join(self.probes[key][1].name, "probe.log")
            with open(log) as text:
                pytest.fail(f"{self.name} probe died ({process.wait()}):\n{text.read()[-3000:]}")
        return json.loads(line)["results"]

    def _probe(self, key: str) -> subprocess.Popen[str]:
        if key not in self.probes:
            home = tempfile.TemporaryDirectory()
            env = {
                "PATH": os.environ["PATH"],
                # Importing Airflow writes airflow.cfg and logs under AIRFLOW_HOME; nothing
                # creates or reads a metadata DB because the secrets backend answers first.
                "AIRFLOW_HOME": home.name, "HOME": home.name,
                # An empty docker config: with reauth false, docker-py skips the login
                # when config.json already holds credentials for the registry.
                "DOCKER_CONFIG": home.name,
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                **json.loads(key),
                "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_ENDPOINT_URL": DEAD_ENDPOINT,
            }
            with open(os.path.join(home.name, "probe.log"), "w") as log:
                process = subprocess.Popen([self.python, str(PROBE), self.docker.url, "--serve"], env=env, text=True,
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
            self.probes[key] = (process, home)
        return self.probes[key][0]

    def close(self) -> None:
        for process, home in self.probes.values():
            process.kill()
            process.wait()
            home.cleanup()
