"""Checks that template.yaml hard-codes no partition or DNS suffix: every ARN uses
${AWS::Partition} and every AWS host ${AWS::URLSuffix}."""

from __future__ import annotations

import re
from typing import Any, Iterator

from iam_grants import collect_grants, via_service
from template_rendering import DOC


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
    # Parameter texts and rule messages are for people (examples) or validate what they type
    # (patterns accept every partition). A service principal is a name, not a host:
    # lambda.amazonaws.com in every partition (SAM writes the same for the roles it generates).
    if path[:1] == ("Parameters",) and path[-1] in ("Description", "ConstraintDescription", "AllowedPattern"):
        return True
    if path[:1] == ("Rules",) and path[-1] == "AssertDescription":
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
    grants = collect_grants(DOC).grants
    kms = [g for g in grants if g.action.startswith("kms:")]
    assert kms and {via_service(g.condition) for g in kms} == {
        "secretsmanager.<secrets region>.${AWS::URLSuffix}", "ssm.<secrets region>.${AWS::URLSuffix}"}
