"""Runs the real Lambda binary under cargo-lambda's emulator.

`cargo lambda watch` starts the function with `cargo run` on its first
invocation and keeps that process for later ones, so the function's
environment (CONNECTIONS, ...) is fixed for the life of a watch process: it
inherits watch's own environment. A different environment therefore means a
new watch process; the binary is only compiled once (cargo sees it fresh),
so a restart costs about a second.

Flags are spelled long on purpose: in cargo-lambda 1.9 `invoke -A` is both
--invoke-address and --data-ascii.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FUNCTION = "airflow-ecr-refresher"
# Variables the function reads, and those it refuses (its own spellings of four backend kwargs
# in earlier versions); never inherited from the developer's shell. Nor is any of Airflow's
# (AIRFLOW__*): the workers' backend, per-key kwargs and [core] multi_team count too.
FUNCTION_VARS = ("CONNECTIONS", "SECRET_FORMAT", "KMS_KEY_ID", "SCHEDULE_EXPRESSION",
                 "CONNECTIONS_PREFIX", "CONNECTIONS_SEP", "SECRETS_REGION", "SECRETS_ROLE_ARN")
# A new watch process runs `cargo run`, which compiles first when sources changed
# (the whole crate on a fresh machine: minutes on 2 cores).
FIRST_INVOKE_TIMEOUT = 1800
INVOKE_TIMEOUT = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Invocation:
    ok: bool
    response: Any  # the function's JSON answer when ok
    error: str  # cargo lambda invoke's report of the function error when not ok
    function_log: str  # what the function (and cargo) wrote during this invocation


class LambdaEmulator:
    def __init__(self, repo: Path, aws_endpoint: str, log_path: Path) -> None:
        self.repo = repo
        self.aws_endpoint = aws_endpoint
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.env_key: str | None = None
        self.port = 0
        self.started_function = False  # whether this watch process already ran the function

    def invoke(self, env: dict[str, str], *, event_file: str | None = None, data: Any = None) -> Invocation:
        """Invokes the function with `env` as its configuration and one event:
        a file under the repo (events/...) or inline data (a str or JSON-able value)."""
        self._ensure_watch(env)
        if event_file is not None:
            payload = ["--data-file", str(self.repo / event_file)]
        else:
            payload = ["--data-ascii", data if isinstance(data, str) else json.dumps(data)]
        log_start = self.log_path.stat().st_size
        result = subprocess.run(
            ["cargo", "lambda", "invoke", "--invoke-address", "127.0.0.1",
             "--invoke-port", str(self.port), "--output-format", "json", "--color", "never", *payload, FUNCTION],
            cwd=self.repo, capture_output=True, text=True,
            timeout=INVOKE_TIMEOUT if self.started_function else FIRST_INVOKE_TIMEOUT,
        )
        self.started_function = True
        with self.log_path.open("rb") as log:
            log.seek(log_start)
            function_log = log.read().decode(errors="replace")
        if result.returncode == 0:
            return Invocation(True, json.loads(result.stdout), "", function_log)
        return Invocation(False, None, result.stdout + result.stderr, function_log)

    def _ensure_watch(self, env: dict[str, str]) -> None:
        key = json.dumps(env, sort_keys=True)
        if self.process is not None and self.process.poll() is None and key == self.env_key:
            return
        self.stop()
        process_env = {k: v for k, v in os.environ.items()
                       if k not in FUNCTION_VARS and not k.startswith("AIRFLOW__")}
        process_env.update(env)
        process_env["AWS_ENDPOINT_URL"] = self.aws_endpoint
        self.port = free_port()
        with self.log_path.open("ab") as log:
            log.write(f"\n=== cargo lambda watch on port {self.port} with {sorted(env)}\n".encode())
            self.process = subprocess.Popen(
                # --wait: build on the first invoke, not at start, so a restart
                # costs nothing when the binary is fresh; --ignore-changes: edits
                # under src/ during a run must not swap the binary mid-suite.
                # The same features as `make test`'s cargo test: one build serves both.
                ["cargo", "lambda", "watch", "--invoke-address", "127.0.0.1",
                 "--invoke-port", str(self.port), "--wait", "--ignore-changes",
                 "--features", "local-aws-tests"],
                cwd=self.repo, env=process_env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends cargo run and the function too
            )
        self.env_key = key
        self.started_function = False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"cargo lambda watch exited with {self.process.returncode}; see {self.log_path}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"cargo lambda watch did not listen on {self.port} within 60 s; see {self.log_path}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
