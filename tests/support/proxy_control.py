"""Starts tests/support/aws_proxy.py as a subprocess and drives its control API."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Iterator

PROXY_SCRIPT = Path(__file__).with_name("aws_proxy.py")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def local_moto_url() -> str:
    """The moto endpoint from scripts/with-moto.sh; refuses anything off this machine."""
    url = os.environ.get("AWS_ENDPOINT_URL", "")
    host = urllib.parse.urlsplit(url).hostname
    if host not in LOOPBACK:
        raise RuntimeError(
            f"AWS_ENDPOINT_URL={url!r} is not a local moto; run the tests under scripts/with-moto.sh"
        )
    return url


class ProxyControl:
    def __init__(self, url: str) -> None:
        self.url = url

    def _call(self, method: str, path: str, doc: Any = None) -> Any:
        data = None if doc is None else json.dumps(doc).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def configure(self, **config: Any) -> None:
        """Replaces the proxy config: ecr_password, faults."""
        self._call("POST", "/_proxy/config", config)

    def config(self) -> dict[str, Any]:
        return self._call("GET", "/_proxy/config")

    def reset(self) -> None:
        self._call("POST", "/_proxy/reset", {})

    def log(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_proxy/log")

    def seen(self) -> list[dict[str, Any]]:
        """Every distinct kind of request since the proxy started: service, target, params."""
        return self._call("GET", "/_proxy/seen")

    def requests(self) -> list[str]:
        """The target of every request in the log, in order."""
        return [entry["target"] for entry in self.log()]


@contextlib.contextmanager
def running_proxy(moto_url: str) -> Iterator[ProxyControl]:
    process = subprocess.Popen(
        [sys.executable, str(PROXY_SCRIPT), moto_url],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        if not port.isdigit():
            raise RuntimeError(f"aws_proxy did not start (exit {process.poll()}, said {port!r})")
        yield ProxyControl(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=10)
