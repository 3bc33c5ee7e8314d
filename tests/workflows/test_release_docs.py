"""Checks of the publishing role docs/development.md documents for .github/workflows/release.yml: its trust
policy takes only this repository's protected environment on a release tag, with the
audience configure-aws-credentials asks for, and its policy holds exactly what the publish
job calls."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEVELOPMENT = (ROOT / "docs" / "development.md").read_text()
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
# What the publish job calls with the role: `sam package` (PutObject; HeadObject, authorized as
# GetObject, to skip an upload already there), scripts/sar-publish.sh (GetObject of the
# uploads) and `sam publish` (CreateApplication, else UpdateApplication and
# CreateApplicationVersion: samcli/vendor/serverlessrepo/publish.py).
USED = {"s3:PutObject", "s3:GetObject", "serverlessrepo:CreateApplication", "serverlessrepo:UpdateApplication",
        "serverlessrepo:CreateApplicationVersion"}


def policies() -> list[dict]:
    section = DEVELOPMENT.split("\n## Publish a release\n", 1)[1].split("\n## ", 1)[0]
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", section, re.S)]


def test_the_trust_policy_takes_only_the_protected_environment_on_a_release_tag() -> None:
    trust, _ = policies()
    (st,) = trust["Statement"]
    assert st["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert st["Principal"]["Federated"].endswith(":oidc-provider/token.actions.githubusercontent.com")
    assert st["Condition"]["StringEquals"] == {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}
    environment = WORKFLOW["jobs"]["publish"]["environment"]
    assert st["Condition"]["StringLike"] == {
        "token.actions.githubusercontent.com:sub": f"repo:OWNER/REPO:environment:{environment}:ref:refs/tags/v*"}
    # The workflow runs on those tags only.
    assert all(tag.startswith("v") for tag in WORKFLOW[True]["push"]["tags"])


def test_the_role_policy_holds_what_the_publish_job_uses_and_nothing_else() -> None:
    _, role = policies()
    granted = {a for st in role["Statement"] for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])}
    assert granted == USED
    assert "serverlessrepo:ListApplications" not in granted
    by_action = {a: st["Resource"] for st in role["Statement"]
                 for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])}
    assert by_action["s3:GetObject"] == by_action["s3:PutObject"] == "arn:aws:s3:::SAR_BUCKET/*"
    # CreateApplication has no resource type; the others only on this application.
    assert by_action["serverlessrepo:CreateApplication"] == "*"
    assert by_action["serverlessrepo:UpdateApplication"].endswith(":applications/airflow-ecr-refresher")
