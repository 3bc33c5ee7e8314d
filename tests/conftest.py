"""Fixtures shared by every Python test suite: the local moto and the AWS proxy."""

from __future__ import annotations

from typing import Any, Iterator

import boto3
import pytest

from support.proxy_control import ProxyControl, local_moto_url, running_proxy


@pytest.fixture(scope="session")
def moto_url() -> str:
    return local_moto_url()


@pytest.fixture(scope="session")
def secrets(moto_url: str) -> Any:
    """Secrets Manager straight at moto, not through the proxy, so test set-up is never
    counted among the function's requests."""
    return boto3.client("secretsmanager", endpoint_url=moto_url, region_name="us-east-1")


@pytest.fixture(scope="session")
def _proxy_process(moto_url: str) -> Iterator[ProxyControl]:
    with running_proxy(moto_url) as proxy:
        yield proxy


@pytest.fixture
def aws_proxy(_proxy_process: ProxyControl) -> Iterator[ProxyControl]:
    """A proxy in front of moto, with empty config and log for each test."""
    _proxy_process.reset()
    yield _proxy_process
    _proxy_process.reset()
