"""Checks of template.yaml itself: partitions, the secret names it grants, parameter patterns."""

from __future__ import annotations

import fnmatch
import re
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import check_iam  # noqa: E402

TEMPLATE = ROOT / "template.yaml"
DOC = check_iam.load_template(TEMPLATE)
PARAMS = DOC["Parameters"]


# --------------------------------------------------------------------------- partitions

# An ARN whose partition is not ${AWS::Partition}, and any AWS DNS suffix written out.
HARD_CODED_ARN = re.compile(r"\barn:(?!\$\{AWS::Partition\}:)")
HARD_CODED_HOST = re.compile(r"amazonaws\.com(\.cn)?|amazonaws\.cn|\.on\.aws\b")


def strings(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from strings(v, (*path, str(k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from strings(v, (*path, str(i)))


def exempt(path: tuple[str, ...]) -> bool:
    # Parameter texts are for people (examples) or validate what they type (patterns accept
    # every partition). A service principal is a name, not a host: lambda.amazonaws.com in
    # every partition (SAM writes the same for the roles it generates).
    if path[:1] == ("Parameters",) and path[-1] in ("Description", "ConstraintDescription", "AllowedPattern"):
        return True
    return "Principal" in path and "Service" in path


def hard_coded(doc: dict[str, Any]) -> list[str]:
    found = []
    for path, text in strings(doc):
        if exempt(path):
            continue
        for rx in (HARD_CODED_ARN, HARD_CODED_HOST):
            if rx.search(text):
                found.append(f"{'/'.join(path)}: {text!r}")
    return found


def test_no_hard_coded_partition_or_dns_suffix() -> None:
    """Every ARN uses ${AWS::Partition} and every AWS host ${AWS::URLSuffix}, so the stack
    works in aws-cn and aws-us-gov too."""
    assert hard_coded(DOC) == []


def test_the_partition_check_catches_what_it_must() -> None:
    doc = {
        "Resources": {
            "P": {
                "Properties": {
                    "Condition": {"StringEquals": {"kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}}},
                    "Resource": {"Fn::Sub": "arn:aws:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:x*"},
                    "Ok": {"Fn::Sub": "arn:${AWS::Partition}:ecr:*:${AWS::AccountId}:repository/*"},
                    "AlsoOk": {"Fn::Sub": "secretsmanager.${AWS::Region}.${AWS::URLSuffix}"},
                    "Principal": {"Service": "lambda.amazonaws.com"},
                }
            }
        }
    }
    found = hard_coded(doc)
    assert len(found) == 2 and "kms:ViaService" in found[0] and "arn:aws:" in found[1]


def test_kms_via_service_uses_the_url_suffix() -> None:
    grants = check_iam.collect_grants(DOC).grants
    kms = [g for g in grants if g.action.startswith("kms:")]
    assert kms and all(g.condition == check_iam.KMS_VIA_SERVICE for g in kms)


# --------------------------------------------------------------------------- secret names


def airflow_secret_name(prefix: str, sep: str, conn_id: str) -> str:
    """As Airflow's SecretsManagerBackend (and src/target.rs) build it; Python's rstrip takes
    a set of characters."""
    return prefix.rstrip(sep) + sep + conn_id


def allowed(param: str, value: str) -> bool:
    # CloudFormation's AllowedPattern must match the whole value.
    return re.fullmatch(PARAMS[param]["AllowedPattern"], value) is not None


def secret_resource() -> str:
    for g in check_iam.collect_grants(DOC).grants:
        if g.action == "secretsmanager:PutSecretValue":
            (res,) = g.resources
            return res["Fn::Sub"]
    raise AssertionError("no PutSecretValue grant")


def render(prefix: str, sep: str) -> str:
    values = {
        "AWS::Partition": "aws",
        "AWS::Region": "us-east-1",
        "AWS::AccountId": "123456789012",
        "ConnectionsPrefix": prefix,
        "ConnectionsSeparator": sep,
    }
    return re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], secret_resource())


def secret_arn(name: str) -> str:
    # Secrets Manager appends a dash and six random characters to a secret's ARN.
    return f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbC123"


def granted(prefix: str, sep: str, name: str) -> bool:
    return fnmatch.fnmatchcase(secret_arn(name), render(prefix, sep))


def test_default_prefix_grants_the_names_airflow_reads() -> None:
    assert PARAMS["ConnectionsPrefix"]["Default"] == "airflow/connections"
    assert render("airflow/connections", "/") == (
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow/connections/*"
    )
    assert granted("airflow/connections", "/", airflow_secret_name("airflow/connections", "/", "docker_ecr"))
    assert not granted("airflow/connections", "/", "airflow/variables/docker_ecr")


def test_prefix_with_its_trailing_separator_is_refused() -> None:
    # It would be granted airflow/connections//*, which no name the code builds matches.
    name = airflow_secret_name("airflow/connections/", "/", "docker_ecr")
    assert name == "airflow/connections/docker_ecr"
    assert not granted("airflow/connections/", "/", name)
    assert not allowed("ConnectionsPrefix", "airflow/connections/")
    assert "trailing separator" in PARAMS["ConnectionsPrefix"]["ConstraintDescription"]
    # The same with another separator.
    assert not allowed("ConnectionsPrefix", "airflow-connections-")


def test_empty_prefix_is_refused() -> None:
    assert not allowed("ConnectionsPrefix", "")
    assert "not empty" in PARAMS["ConnectionsPrefix"]["ConstraintDescription"]


def test_every_accepted_prefix_and_separator_grant_exactly_the_names_the_code_builds() -> None:
    prefixes = ["airflow/connections", "airflow", "a", "team.x/airflow_conns", "airflow/connections/", "x-", "/", ""]
    seps = ["/", "-", "_", "--", "x", "", "/x"]
    accepted = [
        (prefix, sep)
        for prefix in prefixes
        for sep in seps
        if allowed("ConnectionsPrefix", prefix) and allowed("ConnectionsSeparator", sep)
    ]
    assert {p for p, _ in accepted} == {"airflow/connections", "airflow", "a", "team.x/airflow_conns"}
    assert {s for _, s in accepted} == {"/", "-", "_", "--"}
    for prefix, sep in accepted:
        name = airflow_secret_name(prefix, sep, "docker_ecr")
        assert name == prefix + sep + "docker_ecr"
        assert granted(prefix, sep, name), (prefix, sep)


def test_separators_are_punctuation_only() -> None:
    # So a prefix ending with a letter or digit is never stripped by rstrip(sep).
    for sep in ["/", "_", "-", ".", "@", "+", "=", "//"]:
        assert allowed("ConnectionsSeparator", sep), sep
    for sep in ["", "x", "/x", "1", " "]:
        assert not allowed("ConnectionsSeparator", sep), sep


# --------------------------------------------------------------------------- other parameters


@pytest.mark.parametrize(
    ("param", "value", "ok"),
    [
        ("PullRepositoryArns", "", True),
        ("PullRepositoryArns", "arn:aws:ecr:us-east-1:123456789012:repository/team/*", True),
        ("PullRepositoryArns", "arn:aws-cn:ecr:cn-north-1:123456789012:repository/ecr-public/nginx", True),
        ("PullRepositoryArns", "arn:aws:ecr:*:123456789012:repository/*", True),
        ("PullRepositoryArns", "*", False),
        ("PullRepositoryArns", "arn:aws:s3:::bucket/*", False),
        ("PullRoleArns", "", True),
        ("PullRoleArns", "arn:aws:iam::210987654321:role/ecr-pull", True),
        ("PullRoleArns", "arn:aws:iam::210987654321:role/*", False),
        ("PullRoleArns", "*", False),
        ("ExtraKmsKeyArns", "", True),
        ("ExtraKmsKeyArns", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", True),
        ("ExtraKmsKeyArns", "arn:aws:kms:us-east-1:123456789012:alias/aws/secretsmanager", False),
    ],
)
def test_list_parameters_accept_arns_only(param: str, value: str, ok: bool) -> None:
    assert PARAMS[param]["Type"] == "CommaDelimitedList"
    assert PARAMS[param]["Default"] == ""
    assert allowed(param, value) is ok


def test_pull_through_cache_is_off_by_default() -> None:
    assert PARAMS["PullThroughCache"]["Default"] == "false"
    assert "<rule prefix>/" in PARAMS["PullThroughCache"]["Description"]


def test_stale_alarm_fires_after_one_missed_run_before_tokens_expire() -> None:
    # rate(6 hours) + 1 hour of margin; ECR tokens last 12 hours.
    assert PARAMS["ScheduleExpression"]["Default"] == "rate(6 hours)"
    assert PARAMS["StaleAfterHours"]["Default"] == 7
    assert "7 for rate(6 hours)" in PARAMS["StaleAfterHours"]["Description"]
