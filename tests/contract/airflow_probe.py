"""Reads connections the way an Airflow worker does; run by an Airflow venv's python.

    python airflow_probe.py DOCKER_URL CONN_ID [CONN_ID...]
    python airflow_probe.py DOCKER_URL --serve    one JSON list of conn ids per stdin
                                                  line, one report per stdout line

The secrets backend comes from the environment the test sets
(AIRFLOW__SECRETS__BACKEND, AIRFLOW__SECRETS__BACKEND_KWARGS, AWS_*), so no
metadata database is involved: the backend answers before Airflow would look
there. Importing Airflow takes seconds, hence several conn ids per run and
--serve, which keeps one process like a long-lived worker (Airflow caches no
secrets unless [secrets] use_cache is set). Each report is one JSON line:
  {"airflow": version, "results": {conn_id: {
      "connection": {conn_type, host, login, password, port, schema, extra_dejson} | null,
      "docker_logins": [bodies of POST /auth the fake engine got] | null,
      "error": {"step", "type", "message"} | null}}}
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from typing import Any

# Reports own stdout; anything Airflow prints goes to stderr (its log) instead.
REPORTS = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr

import airflow  # noqa: E402

if airflow.__version__.startswith("2."):
    from airflow.hooks.base import BaseHook
else:
    from airflow.sdk import BaseHook
from airflow.providers.docker.hooks.docker import DockerHook  # noqa: E402


def probe(conn_id: str, docker_url: str) -> dict[str, Any]:
    result: dict[str, Any] = {"connection": None, "docker_logins": None, "error": None}
    step = "get_connection"
    try:
        conn = BaseHook.get_connection(conn_id)
        result["connection"] = {
            "conn_type": conn.conn_type, "host": conn.host, "login": conn.login,
            "password": conn.password, "port": conn.port, "schema": conn.schema,
            "extra_dejson": conn.extra_dejson,
        }
        step = "docker_login"
        DockerHook(docker_conn_id=conn_id, base_url=docker_url).get_conn()
    except Exception as error:  # reported to the test, which asserts on it
        result["error"] = {"step": step, "type": type(error).__name__, "message": str(error)}
    if result["connection"] is not None:
        fake = docker_url.replace("tcp://", "http://") + "/_fake/logins"
        with urllib.request.urlopen(fake, timeout=10) as response:
            result["docker_logins"] = json.loads(response.read())
    return result


def report(conn_ids: list[str], docker_url: str) -> str:
    results = {conn_id: probe(conn_id, docker_url) for conn_id in conn_ids}
    return json.dumps({"airflow": airflow.__version__, "results": results})


if __name__ == "__main__":
    docker_url, args = sys.argv[1], sys.argv[2:]
    if args == ["--serve"]:
        for line in sys.stdin:
            print(report(json.loads(line), docker_url), file=REPORTS, flush=True)
    else:
        print(report(args, docker_url), file=REPORTS, flush=True)
