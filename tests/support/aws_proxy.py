"""An HTTP proxy in front of moto that lets tests shape AWS's answers.

    python aws_proxy.py MOTO_URL [--port N]

Listens on 127.0.0.1 (a free port unless --port is given) and prints the port
as the first line of stdout. Every request is forwarded to MOTO_URL unchanged
(method, path, headers including Authorization, body), except as configured
through the control API on the same port. Its faults are for runs of the real binary (as a
CLI, or through cargo-lambda's emulator with real Airflow reading) whose requests are counted
and recorded; other fault injection is the Rust tests' (aws-smithy-mocks, tests/faults*.rs).

    POST /_proxy/config   JSON, replaces the whole config:
        ecr_password  str, or {region: str}: every GetAuthorizationToken answer
                      gets authorizationToken = base64("AWS:" + password), so
                      tests can use passwords moto cannot produce
        faults        list of rules, tried in order; the first matching rule
                      with times left answers instead of moto:
                      {"target": "secretsmanager.PutSecretValue", "times": 1,
                       "status": 503, "body": {"__type": "...", "message": "..."}}
                      {"target": "sts.AssumeRole", "status": 403, "xml": "<ErrorResponse>..."}
                                    an XML body, for query-protocol services (STS)
                      {"target": ..., "before": {"target": ..., "body": {...}}}
                                    not an answer: first sends moto this request (the
                                    original's headers, this X-Amz-Target and JSON body;
                                    moto checks no signature), as another writer would,
                                    then forwards the original
                      "target" omitted matches every request; "times" defaults to 1
    GET  /_proxy/config    the config, with each rule's remaining "times"
    GET  /_proxy/log       every AWS request received since the last reset, in order,
                           faulted ones included (so tests can count retries), as
                           [{"target", "outcome", "at", "attempt", "status", "key_id"}]:
                           target the X-Amz-Target header, else "<service>.<Action>" for a
                           query-protocol request (STS), else method and path; key_id the
                           access key id that signed it,
                           outcome being "forwarded" or "status:<code>",
                           at the arrival time (seconds, monotonic clock), attempt the
                           SDK's try number from its amz-sdk-request header (1 = first
                           try, null without the header), and status moto's answer to
                           a forwarded request
    GET  /_proxy/seen      every distinct kind of AWS request received since the proxy
                           started (reset does not clear it), as [{"service", "target",
                           "params"}]: service the SigV4 signing name, target as in the
                           log, params the sorted union of the top-level members of its
                           JSON bodies (what scripts/check_iam.py derives IAM needs from)
    POST /_proxy/reset     clears config and request log

Standard library only, so it runs in any venv.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ECR_GET_TOKEN = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "transfer-encoding", "upgrade",
}
# SigV4: Credential=AKID/20240101/eu-west-1/ecr/aws4_request
SCOPE_REGION = re.compile(r"Credential=[^/,]+/\d{8}/([^/,]+)/")
SCOPE_SERVICE = re.compile(r"Credential=[^/,]+/\d{8}/[^/,]+/([^/,]+)/")
KEY_ID = re.compile(r"Credential=([^/,]+)/")
# Query protocol (STS): the operation is a form field of the body.
QUERY_ACTION = re.compile(rb"(?:^|&)Action=([A-Za-z]+)(?:&|$)")
# Sent by the AWS SDKs (Rust and boto3) on every try: amz-sdk-request: attempt=2; max=4
SDK_ATTEMPT = re.compile(r"attempt=(\d+)")


class State:
    """Config and request log, shared by the handler threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.config: dict[str, Any] = {}
        self.log: list[dict[str, str]] = []
        self.seen: dict[tuple[str, str], set[str]] = {}  # (service, target) -> params

    def set_config(self, config: dict[str, Any]) -> None:
        faults = [dict(rule) for rule in config.get("faults", [])]
        for rule in faults:
            rule.setdefault("times", 1)
        with self.lock:
            self.config = {**config, "faults": faults}

    def reset(self) -> None:
        with self.lock:
            self.config = {}
            self.log = []

    def take_fault(self, target: str) -> dict[str, Any] | None:
        """Returns the rule that answers this request, spending one of its times."""
        with self.lock:
            for rule in self.config.get("faults", []):
                if rule["times"] > 0 and rule.get("target", target) == target:
                    rule["times"] -= 1
                    return dict(rule)
        return None

    def record(self, target: str, outcome: str, attempt: int | None, key_id: str | None = None) -> dict[str, Any]:
        entry = {"target": target, "outcome": outcome, "at": time.monotonic(), "attempt": attempt,
                 "key_id": key_id}
        with self.lock:
            self.log.append(entry)
        return entry

    def saw(self, service: str, target: str, params: set[str]) -> None:
        with self.lock:
            self.seen.setdefault((service, target), set()).update(params)

    def answered(self, entry: dict[str, Any], status: int) -> None:
        with self.lock:
            entry["status"] = status


def ecr_token_for(password: str) -> str:
    return base64.b64encode(b"AWS:" + password.encode()).decode()


def rewrite_ecr(body: bytes, passwords: str | dict[str, str], region: str) -> bytes:
    password = passwords if isinstance(passwords, str) else passwords.get(region)
    if password is None:
        return body
    doc = json.loads(body)
    for entry in doc.get("authorizationData", []):
        entry["authorizationToken"] = ecr_token_for(password)
    return json.dumps(doc).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # SDKs keep connections alive
    # Answers go out in two writes (headers, body); with Nagle's algorithm the second waits
    # for the client's delayed ACK, about 40 ms a request (measured: 8 ms straight to moto,
    # 55 ms through the proxy with Nagle, 9 ms without). The benchmark adds its own latency.
    disable_nagle_algorithm = True
    server: "ProxyServer"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # request lines could carry secrets in bodies' neighbours; keep quiet

    def do_GET(self) -> None: self.handle_any()
    def do_POST(self) -> None: self.handle_any()
    def do_PUT(self) -> None: self.handle_any()
    def do_DELETE(self) -> None: self.handle_any()
    def do_HEAD(self) -> None: self.handle_any()
    def do_PATCH(self) -> None: self.handle_any()

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def reply(self, status: int, body: bytes, headers: list[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def attempt(self) -> int | None:
        match = SDK_ATTEMPT.search(self.headers.get("amz-sdk-request", ""))
        return int(match.group(1)) if match else None

    def reply_json(self, status: int, doc: Any) -> None:
        self.reply(status, json.dumps(doc).encode(), [("Content-Type", "application/json")])

    def handle_any(self) -> None:
        body = self.read_body()
        if self.path.startswith("/_proxy/"):
            self.control(body)
        else:
            self.proxy(body)

    def control(self, body: bytes) -> None:
        state = self.server.state
        route = (self.command, urllib.parse.urlsplit(self.path).path)
        if route == ("POST", "/_proxy/config"):
            state.set_config(json.loads(body or b"{}"))
            self.reply_json(200, {"ok": True})
        elif route == ("GET", "/_proxy/config"):
            with state.lock:
                self.reply_json(200, state.config)
        elif route == ("GET", "/_proxy/log"):
            with state.lock:
                self.reply_json(200, list(state.log))
        elif route == ("GET", "/_proxy/seen"):
            with state.lock:
                seen = [{"service": s, "target": t, "params": sorted(p)} for (s, t), p in state.seen.items()]
            self.reply_json(200, sorted(seen, key=lambda e: (e["service"], e["target"])))
        elif route == ("POST", "/_proxy/reset"):
            state.reset()
            self.reply_json(200, {"ok": True})
        else:
            self.reply_json(404, {"error": f"no control route {route}"})

    def target(self, body: bytes) -> str:
        if self.headers.get("X-Amz-Target"):
            return self.headers["X-Amz-Target"]
        action = QUERY_ACTION.search(body)
        service = SCOPE_SERVICE.search(self.headers.get("Authorization", ""))
        if action and service:
            return f"{service.group(1)}.{action.group(1).decode()}"
        return f"{self.command} {self.path}"

    def key_id(self) -> str | None:
        match = KEY_ID.search(self.headers.get("Authorization", ""))
        return match.group(1) if match else None

    def json_members(self, body: bytes) -> set[str]:
        if "json" not in self.headers.get("Content-Type", ""):
            return set()
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            return set()
        return set(doc) if isinstance(doc, dict) else set()

    def proxy(self, body: bytes) -> None:
        state = self.server.state
        target = self.target(body)
        service = SCOPE_SERVICE.search(self.headers.get("Authorization", ""))
        state.saw(service.group(1) if service else "", target, self.json_members(body))
        rule = state.take_fault(target)
        if rule is not None and "before" in rule:
            before = rule["before"]
            self.forward(json.dumps(before["body"]).encode(), before.get("target", target))
        elif rule is not None:
            self.fault(rule, target)
            return
        with state.lock:
            passwords = state.config.get("ecr_password")
        entry = state.record(target, "forwarded", self.attempt(), self.key_id())

        response, answer, headers = self.forward(body)
        state.answered(entry, response.status)

        if target == ECR_GET_TOKEN and passwords is not None and response.status == 200:
            match = SCOPE_REGION.search(self.headers.get("Authorization", ""))
            answer = rewrite_ecr(answer, passwords, match.group(1) if match else "")
        self.reply(response.status, answer, headers)

    def forward(self, body: bytes, target: str | None = None) -> tuple[http.client.HTTPResponse, bytes, list[tuple[str, str]]]:
        upstream = http.client.HTTPConnection(self.server.moto_host, self.server.moto_port, timeout=60)
        try:
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() == "x-amz-target" and target is not None:
                    value = target
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    upstream.putheader(name, value)
            upstream.putheader("Content-Length", str(len(body)))
            upstream.endheaders(body)
            response = upstream.getresponse()
            answer = response.read()
            headers = [(k, v) for k, v in response.getheaders()
                       if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"]
        finally:
            upstream.close()
        return response, answer, headers

    def fault(self, rule: dict[str, Any], target: str) -> None:
        status = int(rule.get("status", 500))
        self.server.state.record(target, f"status:{status}", self.attempt(), self.key_id())
        if "xml" in rule:
            self.reply(status, str(rule["xml"]).encode(), [("Content-Type", "text/xml")])
            return
        error = rule.get("body", {"__type": "InternalFailure", "message": "injected by aws_proxy"})
        headers = [("Content-Type", "application/x-amz-json-1.1")]
        if isinstance(error, dict) and "__type" in error:
            headers.append(("x-amzn-ErrorType", str(error["__type"])))
        self.reply(status, json.dumps(error).encode(), headers)


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a client opens dozens of connections at once

    def __init__(self, port: int, moto_url: str) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        parts = urllib.parse.urlsplit(moto_url)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit(f"aws_proxy forwards only to a local http moto, not {moto_url!r}")
        self.moto_host = parts.hostname
        self.moto_port = parts.port or 80
        self.state = State()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("moto_url")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ProxyServer(args.port, args.moto_url)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
