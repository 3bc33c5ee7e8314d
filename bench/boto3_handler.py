"""The job done the way a user would write it: a Python Lambda on boto3.

This is the baseline for bench/bench.py, not part of the project. It reads the same
environment as the Rust function (CONNECTIONS as a comma list or a JSON array of
{"conn_id", "region", "registry"}, AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX,
AWS_REGION) and does the
obvious thing: one ECR client per region and get_authorization_token per region, then
per connection get_secret_value, merge host/login/password into the JSON, and
put_secret_value (or create_secret when the secret does not exist).

    python bench/boto3_handler.py      # one invocation, like a Lambda cold start

Run as a whole process, so interpreter start and the boto3 import count.
"""

import base64
import json
import os

import boto3

PREFIX = os.environ.get("AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX", "airflow/connections").rstrip("/")
DEFAULT_REGION = os.environ.get("AWS_REGION", "us-east-1")

# Module level, as the Lambda docs recommend: reused by warm invocations.
secrets = boto3.client("secretsmanager")
ecr_clients = {}


def ecr(region):
    if region not in ecr_clients:
        ecr_clients[region] = boto3.client("ecr", region_name=region)
    return ecr_clients[region]


def load_connections():
    raw = os.environ.get("CONNECTIONS", "").strip()
    if raw.startswith("["):
        return json.loads(raw)
    return [{"conn_id": c.strip()} for c in raw.split(",") if c.strip()]


def handler(event, context):
    connections = event.get("connections") or load_connections()
    tokens = {}
    for conn in connections:
        region = conn.get("region") or DEFAULT_REGION
        if region not in tokens:
            data = ecr(region).get_authorization_token()["authorizationData"][0]
            user, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
            host = data["proxyEndpoint"].replace("https://", "")
            tokens[region] = (host, user, password)

    results = []
    for conn in connections:
        region = conn.get("region") or DEFAULT_REGION
        host, user, password = tokens[region]
        registry = conn.get("registry")
        if registry:
            host = registry if "." in registry else registry + "." + host.split(".", 1)[1]
        name = f"{PREFIX}/{conn['conn_id']}"
        try:
            value = json.loads(secrets.get_secret_value(SecretId=name)["SecretString"])
            value.update(host=host, login=user, password=password)
            secrets.put_secret_value(SecretId=name, SecretString=json.dumps(value))
            action = "updated"
        except secrets.exceptions.ResourceNotFoundException:
            value = {"conn_type": "docker", "host": host, "login": user,
                     "password": password, "extra": {"reauth": True}}
            secrets.create_secret(Name=name, SecretString=json.dumps(value))
            action = "created"
        results.append({"conn_id": conn["conn_id"], "secret_name": name, "action": action})
    return {"connections": results}


if __name__ == "__main__":
    print(json.dumps(handler({}, None)))
