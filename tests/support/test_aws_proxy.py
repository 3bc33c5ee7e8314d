"""Self-test of aws_proxy.py: the contract tests rely on each of these behaviours."""

from __future__ import annotations

import base64
import http.client
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import boto3
import pytest
from botocore.config import Config

from support.proxy_control import ProxyControl, running_proxy

# total_max_attempts counts the first try; max_attempts here would count retries.
NO_RETRIES = Config(retries={"total_max_attempts": 1}, read_timeout=5, connect_timeout=5)


def client(service: str, url: str, region: str = "us-east-1", config: Config = NO_RETRIES) -> Any:
    return boto3.client(service, endpoint_url=url, region_name=region, config=config)


def decoded_password(token: str) -> str:
    user, _, password = base64.b64decode(token).decode().partition(":")
    assert user == "AWS"
    return password


class Echo(BaseHTTPRequestHandler):
    """Upstream that answers with exactly what it received."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        doc = {"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
               "body": base64.b64encode(body).decode()}
        answer = json.dumps(doc).encode()
        self.send_response(201)
        self.send_header("X-Upstream", "echo")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


@pytest.fixture(scope="module")
def _own_proxy(moto_url: str) -> Iterator[ProxyControl]:
    with running_proxy(moto_url) as proxy:
        yield proxy


@pytest.fixture
def aws_proxy(_own_proxy: ProxyControl) -> Iterator[ProxyControl]:
    """This module's own proxy, not the session's: the requests these tests make are not
    the function's, so they stay out of what tests/conftest.py records for check_iam.py."""
    _own_proxy.reset()
    yield _own_proxy
    _own_proxy.reset()


@pytest.fixture
def echo_proxy() -> Iterator[ProxyControl]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with running_proxy(f"http://127.0.0.1:{server.server_address[1]}") as proxy:
            yield proxy
    finally:
        server.shutdown()


def test_forwards_method_path_headers_and_body_unchanged(echo_proxy: ProxyControl) -> None:
    body = bytes(range(256))
    auth = "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/secretsmanager/aws4_request, Signature=ab"
    connection = http.client.HTTPConnection("127.0.0.1", int(echo_proxy.url.rsplit(":", 1)[1]))
    connection.request("POST", "/a%2Fb/?x=1&y=%2B", body=body, headers={
        "Authorization": auth, "X-Amz-Target": "secretsmanager.GetSecretValue"})
    response = connection.getresponse()
    seen = json.loads(response.read())

    assert response.status == 201
    assert response.getheader("X-Upstream") == "echo"
    assert seen["method"] == "POST"
    assert seen["path"] == "/a%2Fb/?x=1&y=%2B"
    assert seen["headers"]["Authorization"] == auth
    assert seen["headers"]["X-Amz-Target"] == "secretsmanager.GetSecretValue"
    assert base64.b64decode(seen["body"]) == body
    assert echo_proxy.requests() == ["secretsmanager.GetSecretValue"]


def test_secrets_manager_round_trip_through_proxy(aws_proxy: ProxyControl, moto_url: str) -> None:
    name = f"proxy-selftest/{uuid.uuid4()}"
    client("secretsmanager", aws_proxy.url).create_secret(Name=name, SecretString="v1")

    # Written through the proxy, visible in moto itself.
    assert client("secretsmanager", moto_url).get_secret_value(SecretId=name)["SecretString"] == "v1"
    assert aws_proxy.requests() == ["secretsmanager.CreateSecret"]


def test_rewrites_ecr_password_per_region(aws_proxy: ProxyControl) -> None:
    special = "p+a/s=s%w:o rd"
    aws_proxy.configure(ecr_password={"eu-west-1": special})

    eu = client("ecr", aws_proxy.url, "eu-west-1").get_authorization_token()["authorizationData"]
    us = client("ecr", aws_proxy.url, "us-east-1").get_authorization_token()["authorizationData"]

    assert [decoded_password(d["authorizationToken"]) for d in eu] == [special]
    # Regions without a configured password keep moto's own token.
    assert [decoded_password(d["authorizationToken"]) for d in us] == ["123456789012-auth-token"]
    assert eu[0]["proxyEndpoint"] == "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com"


def test_rewrites_ecr_password_for_every_region(aws_proxy: ProxyControl) -> None:
    aws_proxy.configure(ecr_password="all+regions")
    data = client("ecr", aws_proxy.url, "ap-southeast-2").get_authorization_token()["authorizationData"]
    assert decoded_password(data[0]["authorizationToken"]) == "all+regions"


def test_fault_answers_given_times_then_forwards(aws_proxy: ProxyControl) -> None:
    aws_proxy.configure(faults=[{
        "target": "secretsmanager.ListSecrets", "times": 2, "status": 400,
        "body": {"__type": "ThrottlingException", "message": "slow down"}}])
    sm = client("secretsmanager", aws_proxy.url)

    for _ in range(2):
        with pytest.raises(sm.exceptions.ClientError) as error:
            sm.list_secrets()
        assert error.value.response["Error"]["Code"] == "ThrottlingException"
        assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    sm.list_secrets()  # rule used up: reaches moto
    # Other operations were never affected.
    client("ecr", aws_proxy.url).get_authorization_token()

    assert aws_proxy.requests() == ["secretsmanager.ListSecrets"] * 3 + [
        "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"]
    assert [e["outcome"] for e in aws_proxy.log()] == ["status:400", "status:400", "forwarded", "forwarded"]


def test_before_rule_sends_another_writers_request_first(aws_proxy: ProxyControl, moto_url: str) -> None:
    name = f"proxy-selftest/{uuid.uuid4()}"
    client("secretsmanager", moto_url).create_secret(Name=name, SecretString="v1")
    aws_proxy.configure(faults=[{"target": "secretsmanager.PutSecretValue", "before": {
        "body": {"SecretId": name, "SecretString": "theirs", "ClientRequestToken": str(uuid.uuid4())}}}])
    sm = client("secretsmanager", aws_proxy.url)
    sm.put_secret_value(SecretId=name, SecretString="ours")

    versions = client("secretsmanager", moto_url).describe_secret(SecretId=name)["VersionIdsToStages"]
    previous = [v for v, stages in versions.items() if "AWSPREVIOUS" in stages]
    assert client("secretsmanager", moto_url).get_secret_value(
        SecretId=name, VersionId=previous[0])["SecretString"] == "theirs"
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "ours"
    # Only the client's own requests are logged.
    assert aws_proxy.requests() == ["secretsmanager.PutSecretValue", "secretsmanager.GetSecretValue"]


def test_log_tells_first_tries_from_retries(aws_proxy: ProxyControl) -> None:
    # The write-quota test groups first tries only; a retry of a moto 500 must show as one.
    aws_proxy.configure(faults=[{"target": "secretsmanager.ListSecrets", "times": 2, "status": 500}])
    retrying = Config(retries={"mode": "standard", "total_max_attempts": 3}, read_timeout=5, connect_timeout=5)
    client("secretsmanager", aws_proxy.url, config=retrying).list_secrets()
    assert [(e["outcome"], e["attempt"]) for e in aws_proxy.log()] == [
        ("status:500", 1), ("status:500", 2), ("forwarded", 3)]


def test_reset_clears_config_and_log(aws_proxy: ProxyControl) -> None:
    aws_proxy.configure(ecr_password="x", faults=[{"status": 500, "times": 3}])
    assert aws_proxy.config()["faults"][0]["times"] == 3
    aws_proxy.reset()
    assert aws_proxy.config() == {}
    assert aws_proxy.requests() == []


def test_seen_lists_each_kind_of_request_with_its_members_and_survives_reset(echo_proxy: ProxyControl) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", int(echo_proxy.url.rsplit(":", 1)[1]))
    auth = "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/secretsmanager/aws4_request, Signature=ab"
    for body in ({"Name": "a", "Tags": []}, {"Name": "b", "KmsKeyId": "k"}):
        connection.request("POST", "/", body=json.dumps(body), headers={
            "Authorization": auth, "X-Amz-Target": "secretsmanager.CreateSecret",
            "Content-Type": "application/x-amz-json-1.1"})
        connection.getresponse().read()
    echo_proxy.reset()
    assert echo_proxy.seen() == [{"service": "secretsmanager", "target": "secretsmanager.CreateSecret",
                                  "params": ["KmsKeyId", "Name", "Tags"]}]
