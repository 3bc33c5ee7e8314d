"""Issue 22 item 6 under the Lambda runtime, on Airflow 3 (3.3.2, task-sdk 1.3.2, amazon
9.39.0: the line that has these settings). Given the same AIRFLOW__* environment as Airflow's
workers, the function writes exactly where a worker's BaseHook.get_connection (DockerHook's
path) reads:
- [workers] secrets_backend with its own kwargs when that class is set, else [secrets] backend
  with [secrets] backend_kwargs (the workers' kwargs alone are not used);
- per-key AIRFLOW__<SECTION>__..._KWARG__<KEY> variables of the chosen section set that key
  with a raw string (apache/airflow#63312; where the JSON sets the same key differently the
  function refuses, tests/test_backend_kwargs.py);
- a conn id containing "--" is refused only in [core] multi_team mode (apache/airflow#71078);
- team-scoped names and their fallback to the plain name (apache/airflow#65703), looked up with
  the task's team by the API server's own backend (a worker asks its backend without a team).
Airflow 2 has none of these settings, so these run on Airflow 3 only."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from typing import Any, Iterator

import pytest

from contract.airflow_reader import BACKEND, PARAMETER_STORE, Airflow
from contract.checks import password_mismatch
from contract.fake_docker import FakeDocker
from contract.lambda_emulator import LambdaEmulator
from contract.scenario import assert_airflow_sees, assert_not_found, host, new_password, ok, put_secret, run, unique
from support.proxy_control import ProxyControl

SECRETS_KEY = "AIRFLOW__SECRETS__BACKEND_KWARG__"
WORKERS_KEY = "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARG__"


@pytest.fixture(scope="module")
def airflow3(moto_url: str, fake_docker: FakeDocker) -> Iterator[Airflow]:
    python = os.environ.get("AIRFLOW3_PYTHON", "")
    if not python or not os.access(python, os.X_OK):
        pytest.fail(f"AIRFLOW3_PYTHON={python!r} is not an executable; run scripts/bootstrap.sh first")
    venv = Airflow("airflow3", python, moto_url, fake_docker)
    yield venv
    venv.close()


def kwargs(moto_url: str, prefix: str | None) -> str:
    """What Airflow needs to reach moto; the function ignores endpoint_url (it has its own).
    No connections_prefix when `prefix` is None (a per-key variable sets it)."""
    prefix_kwarg = {} if prefix is None else {"connections_prefix": prefix}
    return json.dumps({**prefix_kwarg, "region_name": "us-east-1", "endpoint_url": moto_url})


def settings(moto_url: str) -> dict[str, tuple[dict[str, str], str]]:
    """Name -> (the AIRFLOW__* environment, the prefix a worker reads with it)."""
    return {
        # The workers' class and kwargs win; [secrets]' are a decoy in another store.
        "workers_backend": ({"AIRFLOW__SECRETS__BACKEND": BACKEND,
                             "AIRFLOW__SECRETS__BACKEND_KWARGS": kwargs(moto_url, "ct-secrets-decoy"),
                             "AIRFLOW__WORKERS__SECRETS_BACKEND": PARAMETER_STORE,
                             "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS": kwargs(moto_url, "/ct-workers")},
                            "/ct-workers"),
        # No workers' class: [secrets] with its own kwargs, the workers' kwargs unused.
        "secrets_fallback": ({"AIRFLOW__SECRETS__BACKEND": BACKEND,
                              "AIRFLOW__SECRETS__BACKEND_KWARGS": kwargs(moto_url, "ct-fallback"),
                              "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS": kwargs(moto_url, "ct-decoy")},
                             "ct-fallback"),
        # A per-key variable sets a key beside the JSON's others, as the template passes them.
        "secrets_per_key": ({"AIRFLOW__SECRETS__BACKEND": BACKEND,
                             "AIRFLOW__SECRETS__BACKEND_KWARGS": kwargs(moto_url, None),
                             SECRETS_KEY + "CONNECTIONS_PREFIX": "ct-per-key"},
                            "ct-per-key"),
        # The workers' per-key variable, any case, a raw string ("null" is a name, not JSON's
        # null); the [secrets] one is not the workers' section, so it is unused.
        "workers_per_key": ({"AIRFLOW__WORKERS__SECRETS_BACKEND": BACKEND,
                             "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS": kwargs(moto_url, None),
                             WORKERS_KEY + "connections_prefix": "null",
                             SECRETS_KEY + "CONNECTIONS_PREFIX": "ct-decoy"},
                            "null"),
    }


@pytest.fixture(scope="module")
def worker_runs(emulator: LambdaEmulator, proxy: ProxyControl, secrets: Any,
                moto_url: str) -> dict[str, tuple[Any, str, str]]:
    runs = {}
    for name, (airflow_env, prefix) in settings(moto_url).items():
        conn_id = unique(name)
        password = new_password()
        scenario = run(emulator, proxy, secrets, {**airflow_env, "CONNECTIONS": conn_id},
                       ecr_password=password, passwords={conn_id: password}, secret_names=[])
        runs[name] = (scenario, conn_id, prefix)
    return runs


@pytest.mark.parametrize("name", ["workers_backend", "secrets_fallback", "secrets_per_key", "workers_per_key"])
def test_a_worker_reads_what_the_same_environment_wrote(worker_runs: Any, airflow3: Airflow, moto_url: str,
                                                         name: str) -> None:
    scenario, conn_id, prefix = worker_runs[name]
    done = ok(scenario)[conn_id]
    assert done["secret_name"] == f"{prefix}/{conn_id}"
    if name == "workers_backend":
        assert not scenario.writes, "nothing written to Secrets Manager, the [secrets] decoy's store"
    seen = airflow3.read_env([conn_id], settings(moto_url)[name][0])[conn_id]
    assert_airflow_sees(seen, registry=host(), password=scenario.passwords[conn_id], extra={"reauth": True})


def test_a_double_dash_is_an_ordinary_conn_id_outside_multi_team_mode(
        emulator: LambdaEmulator, proxy: ProxyControl, secrets: Any, airflow3: Airflow, moto_url: str) -> None:
    airflow_env = {"AIRFLOW__SECRETS__BACKEND": BACKEND,
                   "AIRFLOW__SECRETS__BACKEND_KWARGS": kwargs(moto_url, "airflow/connections"),
                   "AIRFLOW__CORE__MULTI_TEAM": "False"}
    conn_id = unique("dash") + "--prod"
    password = new_password()
    scenario = run(emulator, proxy, secrets, {**airflow_env, "CONNECTIONS": conn_id}, ecr_password=password,
                   passwords={conn_id: password}, secret_names=[])
    assert ok(scenario)[conn_id]["secret_name"] == f"airflow/connections/{conn_id}"
    seen = airflow3.read_env([conn_id], airflow_env)[conn_id]
    assert_airflow_sees(seen, registry=host(), password=password, extra={"reauth": True})


def test_in_multi_team_mode_a_double_dash_is_refused_as_airflow_refuses_it(
        emulator: LambdaEmulator, aws_proxy: ProxyControl, secrets: Any, airflow3: Airflow, moto_url: str) -> None:
    airflow_env = {"AIRFLOW__SECRETS__BACKEND": BACKEND,
                   "AIRFLOW__SECRETS__BACKEND_KWARGS": kwargs(moto_url, "airflow/connections"),
                   "AIRFLOW__CORE__MULTI_TEAM": "True"}
    conn_id = unique("dash") + "--prod"
    invocation = emulator.invoke({**airflow_env, "CONNECTIONS": conn_id}, event_file="events/scheduled.json")
    assert not invocation.ok
    assert "InvalidRequest" in invocation.error, invocation.error[-2000:]
    assert f'conn_id "{conn_id}" contains "--"' in invocation.error, invocation.error[-2000:]
    assert not [t for t in aws_proxy.requests() if t.startswith("secretsmanager.")], "nothing read or written"
    # Why: written by someone else, Airflow's worker does not read it in this mode.
    put_secret(secrets, f"airflow/connections/{conn_id}",
               json.dumps({"conn_type": "docker", "host": host(), "login": "AWS", "password": "x"}))
    assert_not_found(airflow3.read_env([conn_id], airflow_env)[conn_id])


# The API server's lookup for a task of a team (the Execution API's connections route calls
# this with the team of the task's token), and the worker's own, which passes no team.
SERVER_PROBE = """
import json, sys
from airflow.models.connection import Connection
out = {}
for conn_id, team in json.loads(sys.argv[1]):
    try:
        out[conn_id + "@" + str(team)] = Connection.get_connection_from_secrets(conn_id, team_name=team).password
    except Exception as error:
        out[conn_id + "@" + str(team)] = {"error": type(error).__name__}
print(json.dumps(out))
"""


def server_lookups(python: str, airflow_env: dict[str, str], lookups: list[tuple[str, str | None]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        env = {"PATH": os.environ["PATH"], "AIRFLOW_HOME": home, "HOME": home, **airflow_env,
               "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
        probe = subprocess.run([python, "-c", SERVER_PROBE, json.dumps(lookups)], env=env, capture_output=True,
                               text=True, timeout=300)
    assert probe.returncode == 0, probe.stderr[-2000:]
    return json.loads(probe.stdout.strip().splitlines()[-1])


def test_team_names_and_their_fallback_are_what_a_teams_task_reads(
        emulator: LambdaEmulator, proxy: ProxyControl, secrets: Any, airflow3: Airflow, moto_url: str) -> None:
    airflow_env = {"AIRFLOW__SECRETS__BACKEND": BACKEND,
                   "AIRFLOW__SECRETS__BACKEND_KWARGS": kwargs(moto_url, "airflow/connections"),
                   "AIRFLOW__CORE__MULTI_TEAM": "True"}
    team_id, shared_id = unique("team"), unique("shared")
    password = new_password()
    connections = json.dumps([{"conn_id": team_id, "team": "ml"}, {"conn_id": shared_id}])
    scenario = run(emulator, proxy, secrets, {**airflow_env, "CONNECTIONS": connections}, ecr_password=password,
                   passwords={team_id: password, shared_id: password}, secret_names=[])
    done = ok(scenario)
    assert done[team_id]["secret_name"] == f"airflow/connections/ml--{team_id}"
    assert done[shared_id]["secret_name"] == f"airflow/connections/{shared_id}"
    seen = server_lookups(airflow3.python, airflow_env, [(team_id, "ml"), (shared_id, "ml"), (team_id, None)])
    for key in (f"{team_id}@ml", f"{shared_id}@ml"):  # its own name first, then the plain one
        mismatch = password_mismatch(seen[key], password)  # never prints the password
        assert mismatch is None, f"{key}: {mismatch}"
    assert seen[f"{team_id}@None"] == {"error": "AirflowNotFoundException"}, "only a team's task sees it"
    # A worker asks its own backend by the plain name only; the team's name is the server's.
    assert_not_found(airflow3.read_env([team_id], airflow_env)[team_id])
