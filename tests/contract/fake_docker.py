"""A Docker Engine API stub on 127.0.0.1 that records registry logins.

DockerHook.get_conn() pings the engine, asks its API version, then logs in to
the registry from the Airflow connection with POST /v<api>/auth; docker-py
sends the credentials as that request's JSON body, which is what we record.
GET /_fake/logins returns (and forgets) the bodies recorded so far.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_VERSION = "1.43"
VERSIONED = re.compile(r"^(/v[0-9.]+)?(/[^?]*)")


class FakeDocker:
    def __init__(self) -> None:
        self.logins: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"tcp://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take_logins(self) -> list[dict[str, Any]]:
        """The /auth bodies received since the last call."""
        with self.lock:
            logins, self.logins = self.logins, []
        return logins

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Api-Version", API_VERSION)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def route(self) -> str:
                match = VERSIONED.match(self.path)
                return match.group(2) if match else self.path

            def do_HEAD(self) -> None:
                self.do_GET()

            def do_GET(self) -> None:
                route = self.route()
                if self.path == "/_fake/logins":  # lets the probe attribute logins to conn ids
                    self.answer(200, json.dumps(fake.take_logins()).encode(), "application/json")
                elif route == "/_ping":
                    self.answer(200, b"OK", "text/plain")
                elif route == "/version":
                    doc = {"ApiVersion": API_VERSION, "MinAPIVersion": "1.12", "Version": "24.0.0",
                           "Os": "linux", "Arch": "amd64"}
                    self.answer(200, json.dumps(doc).encode(), "application/json")
                else:
                    self.answer(404, b'{"message":"not faked"}', "application/json")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.route() != "/auth":
                    self.answer(404, b'{"message":"not faked"}', "application/json")
                    return
                with fake.lock:
                    fake.logins.append(json.loads(body))
                reply = {"Status": "Login Succeeded", "IdentityToken": ""}
                self.answer(200, json.dumps(reply).encode(), "application/json")

        return Handler
