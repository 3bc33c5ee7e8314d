"""What the self-tests of scripts/check_iam.py share: the actions the real template must grant,
anchors in template.yaml, variants of it, and check_iam runs on them."""

from __future__ import annotations

import json
from pathlib import Path

from check_iam import BASELINE, ROOT, Report, check

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEMPLATE = ROOT / "template.yaml"
PULL_ACTIONS = {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"}
CACHE_ACTIONS = {"ecr:BatchImportUpstreamImage", "ecr:CreateRepository"}
ON_PURPOSE = PULL_ACTIONS | CACHE_ACTIONS | {"sts:AssumeRole"}
SSM_ACTIONS = {"ssm:GetParameters", "ssm:PutParameter", "ssm:AddTagsToResource", "ssm:ListTagsForResource",
               "ssm:DescribeParameters", "ssm:GetParameterHistory"}
# The else branch of a policy statement granted under a Condition.
NO_VALUE = "                - !Ref AWS::NoValue\n"
SECRETS_REGION = "{SecretsRegionName: !If [HasSecretsRegion, !Ref SecretsRegion, !Ref AWS::Region]}"


def variant(tmp_path: Path, old: str, new: str, count: int = 1, only_first: bool = False) -> Path:
    """template.yaml with `old` (found `count` times) replaced by `new`: every one, or the first."""
    text = TEMPLATE.read_text()
    assert text.count(old) == count, f"template.yaml changed; fix this test's anchor {old!r}"
    path = tmp_path / "template.yaml"
    path.write_text(text.replace(old, new, 1 if only_first else -1))
    return path


def without_if_block(text: str, head: str, instead: str = "") -> str:
    """`text` with the policy statement `- !If` that starts with `head` cut up to the end of its
    else branch (`- !Ref AWS::NoValue`), and `instead` in its place."""
    start = text.index(head)
    end = text.index(NO_VALUE, start) + len(NO_VALUE)
    return text[:start] + instead + text[end:]


def in_scenario(report: Report, text: str, scenario: str = "") -> bool:
    """Whether some problem found in a rendered scenario (whose name contains `scenario`)
    contains `text`."""
    return any(p.startswith("scenario '") and scenario in p.split("': ", 1)[0] and text in p
               for p in report.problems)


def run(template: Path = TEMPLATE, requests: Path = BASELINE, baseline: Path | None = None,
        cargo_toml: Path | None = None) -> Report:
    return check(template, requests, baseline, cargo_toml)


def record(tmp_path: Path, requests: list[dict], **fields: object) -> Path:
    path = tmp_path / "requests.json"
    path.write_text(json.dumps({"complete": True, "requests": requests, **fields}))
    return path


def baseline_requests() -> list[dict]:
    return json.loads(BASELINE.read_text())["requests"]
