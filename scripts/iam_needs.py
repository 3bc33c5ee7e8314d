"""What the code needs of IAM, for scripts/check_iam.py: the actions of the AWS requests the
tests recorded (mapped through botocore's service models), what those imply (IMPLIED), what
the Lambda runtime needs (RUNTIME), what is granted on purpose for others' calls
(GRANTED_ON_PURPOSE), and the template Conditions a need holds under (NEEDED_UNDER); plus
the choice between the tests' record and the committed baseline."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iam_catalogue import service_model

KMS = ("kms:GenerateDataKey", "kms:Decrypt")
# The Conditions under which the connections' store uses customer managed keys (KmsKeyArn or
# ExtraKmsKeyArns) on the function's behalf: Secrets Manager or Parameter Store chosen, and no
# role_arn (SecretsRoleArn) that holds the rights instead.
SM_KMS = "SecretsManagerKmsKeys"
SSM_KMS = "ParameterStoreKmsKeys"


@dataclass(frozen=True)
class Implies:
    """`action` (sent with the JSON member `param`, if given) also needs `needs`."""

    action: str
    needs: tuple[str, ...]
    why: str
    param: str | None = None
    condition: str | None = None


# Secrets Manager API reference, "Required permissions" of each operation: a batch read is
# authorized per secret by GetSecretValue; CreateSecret with Tags needs TagResource; with a
# customer managed key, Secrets Manager calls KMS on the caller's behalf (writes
# GenerateDataKey, CreateSecret and reads Decrypt) - whether or not the call names the key.
# Parameter Store (Systems Manager user guide, "AWS KMS encryption for Parameter Store
# SecureString parameters", "Setting permissions to encrypt and decrypt parameter values"):
# with a customer managed key it calls KMS on the caller's behalf, Encrypt to write a standard
# parameter, GenerateDataKey to write an advanced one (the account's default tier can be
# advanced or intelligent-tiering, and an advanced parameter stays advanced), Decrypt to read
# either; PutParameter with Tags (tag on create) needs AddTagsToResource.
_CMK = "Secrets Manager uses the secret's customer managed key on the caller's behalf"
_PCMK = "Parameter Store uses the parameter's customer managed key on the caller's behalf"
IMPLIED = (
    Implies("secretsmanager:BatchGetSecretValue", ("secretsmanager:GetSecretValue",),
            "each secret in the answer is authorized by GetSecretValue on it"),
    Implies("secretsmanager:CreateSecret", ("secretsmanager:TagResource",), "CreateSecret with Tags", "Tags"),
    Implies("secretsmanager:CreateSecret", KMS, "CreateSecret with KmsKeyId", "KmsKeyId", SM_KMS),
    Implies("secretsmanager:CreateSecret", KMS, _CMK, condition=SM_KMS),
    Implies("secretsmanager:PutSecretValue", ("kms:GenerateDataKey",), _CMK, condition=SM_KMS),
    Implies("secretsmanager:GetSecretValue", ("kms:Decrypt",), _CMK, condition=SM_KMS),
    Implies("secretsmanager:BatchGetSecretValue", ("kms:Decrypt",), _CMK, condition=SM_KMS),
    Implies("ssm:PutParameter", ("ssm:AddTagsToResource",), "PutParameter with Tags", "Tags"),
    Implies("ssm:PutParameter", ("kms:Encrypt",), _PCMK + " (a standard parameter)", condition=SSM_KMS),
    Implies("ssm:PutParameter", ("kms:GenerateDataKey",), _PCMK + " (an advanced parameter)", condition=SSM_KMS),
    Implies("ssm:GetParameters", ("kms:Decrypt",), _PCMK, "WithDecryption", SSM_KMS),
)

# Needs that hold only under template Conditions (any of them), by action or by service prefix.
NEEDED_UNDER = {
    "sts:AssumeRole": (("HasPullRoles", "HasSecretsRole"),
                       "sent only for connections with a pull_role_arn, which PullRoleArns lists, "
                       "and for the backend's role_arn, which SecretsRoleArn names"),
    "secretsmanager": (("UsesSecretsManager",), "the Secrets Manager backend is used only when chosen, "
                       "and without a SecretsRoleArn that holds the rights"),
    "ssm": (("UsesParameterStore",), "the Parameter Store backend is used only when chosen, "
            "and without a SecretsRoleArn that holds the rights"),
}

RUNTIME = {a: "the Lambda runtime writes the function's logs" for a in ("logs:CreateLogStream", "logs:PutLogEvents")}


@dataclass(frozen=True)
class OnPurpose:
    why: str
    condition: str | None = None  # the template Condition it must be granted under, if any


# Granted although the function's requests do not need them from this role. A token carries
# the pull rights of the principal that fetched it (ECR user guide, "Private registry
# authentication"); a Docker pull needs BatchGetImage, GetDownloadUrlForLayer and
# BatchCheckLayerAvailability (AWS managed policy AmazonEC2ContainerRegistryPullOnly). Pulls
# through a pull through cache rule also import the upstream image and, the first time,
# create its repository (ECR user guide, "IAM permissions required to sync an upstream
# registry with an Amazon ECR private registry"). sts:AssumeRole is sent only by connections
# with a pull_role_arn, which PullRoleArns must list.
_PULL = "Airflow's Docker pulls with the token (it carries this role's pull rights)"
_CACHE = "Airflow's pulls through a pull through cache rule (PullThroughCache=true, on the PullRepositoryArns listed)"
# PullThroughCache=true is refused without PullRepositoryArns (a template rule), so the cache
# rights hold under this Condition, which says both.
CACHE_CONDITION = "PullThroughListedRepositories"
GRANTED_ON_PURPOSE = {
    "ecr:BatchGetImage": OnPurpose(_PULL + "; also the function's own pull check"),
    "ecr:GetDownloadUrlForLayer": OnPurpose(_PULL),
    "ecr:BatchCheckLayerAvailability": OnPurpose(_PULL),
    "ecr:BatchImportUpstreamImage": OnPurpose(_CACHE, CACHE_CONDITION),
    "ecr:CreateRepository": OnPurpose(_CACHE, CACHE_CONDITION),
    "sts:AssumeRole": OnPurpose("the pull role of a connection's pull_role_arn (aws-config's "
                                "AssumeRoleProvider), only when PullRoleArns is set", "HasPullRoles"),
}


class UsageError(Exception):
    """Bad usage or unreadable input: check_iam.py exits 2."""


@dataclass
class Need:
    why: list[str] = field(default_factory=list)
    conditions: set[str] | None = field(default_factory=set)  # None: always; else any of these

    def add(self, why: str, condition: str | tuple[str, ...] | None) -> None:
        conditions = (condition,) if isinstance(condition, str) else condition
        self.why.append(why + (f" (only if {' or '.join(conditions)})" if conditions else ""))
        if not conditions or self.conditions is None:
            self.conditions = None
        else:
            self.conditions.update(conditions)


def read_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {path}: {e}") from e
    if not isinstance(record.get("requests"), list):
        raise UsageError(f"{path} has no list of requests")
    return record


def request_actions(record: dict[str, Any], problems: list[str]) -> list[tuple[str, str, list[str]]]:
    """(IAM action, target, JSON members) for each request kind in the record."""
    out, models = [], {}
    for entry in record["requests"]:
        service, target, params = entry.get("service", ""), entry.get("target", ""), entry.get("params", [])
        prefix, _, operation = target.rpartition(".")
        if service not in models:
            models[service] = service_model(service)
        model = models[service]
        if not model or not prefix:
            problems.append(f"request {target!r} signed for {service!r}: not an AWS API call botocore knows")
            continue
        meta = model["metadata"]
        if meta.get("targetPrefix", service) != prefix or operation not in model["operations"]:
            problems.append(f"request {target!r}: not an operation of botocore's {service} model")
            continue
        out.append((f"{meta.get('signingName') or meta['endpointPrefix']}:{operation}", target, params))
    return out


def needs_from_requests(record: dict[str, Any], problems: list[str]) -> dict[str, Need]:
    needs: dict[str, Need] = {}

    def need(action: str, why: str, condition: str | None) -> None:
        under = NEEDED_UNDER.get(action) or NEEDED_UNDER.get(action.split(":")[0])
        needs.setdefault(action, Need()).add(why, condition or (under[0] if under else None))

    for action, target, params in request_actions(record, problems):
        need(action, f"sent as {target}", None)
        for rule in IMPLIED:
            if rule.action == action and (rule.param is None or rule.param in params):
                for implied in rule.needs:
                    need(implied, f"implied by {target}: {rule.why}", rule.condition)
    return needs


def requests_and_source(requests: Path, baseline: Path | None, problems: list[str]) -> tuple[dict[str, Need], str]:
    record = read_record(requests) if requests.is_file() else None
    if record is not None and record.get("complete"):
        needs = needs_from_requests(record, problems)
        if baseline is not None and baseline.is_file():
            base = needs_from_requests(read_record(baseline), [])
            if {a: n.conditions for a, n in needs.items()} != {a: n.conditions for a, n in base.items()}:
                problems.append(
                    f"{requests} (what the tests sent) needs {sorted(needs)} but {baseline} needs "
                    f"{sorted(base)} (or under other conditions): fix the template, then copy the record "
                    "to the baseline")
        return needs, f"the requests the tests sent ({requests})"
    if baseline is None:
        raise UsageError(f"no complete record of the tests' requests at {requests}, and no baseline")
    why = "missing" if record is None else "incomplete: " + "; ".join(record.get("incomplete_because", []))
    return (needs_from_requests(read_record(baseline), problems),
            f"the committed baseline {baseline}, since {requests} is {why} (run the Python suites to check "
            "against what the tests send)")


def sdk_services(cargo_toml: Path) -> set[str]:
    deps = tomllib.loads(cargo_toml.read_text()).get("dependencies", {})
    return {d.removeprefix("aws-sdk-") for d in deps if d.startswith("aws-sdk-")}
