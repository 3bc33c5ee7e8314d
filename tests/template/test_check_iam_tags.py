"""Self-test of scripts/check_iam.py on the tag actions: the managed-by Condition they must carry,
the condition keys each action takes, and the parameter//<name> ARN AWS checks a parameter's
tag on create on (that action only, and then both forms)."""

from __future__ import annotations

from pathlib import Path

from iam_grants import MANAGED_BY_CONDITION
from selftest_variants import TEMPLATE, in_scenario, run, variant

TAG_CONDITION = """                  Condition:
                    StringEquals:
                      aws:RequestTag/managed-by: airflow-ecr-refresher
                    ForAllValues:StringEquals:
                      aws:TagKeys: [managed-by]
"""
DOUBLE_SLASH = """                    - !Join
                      - //
                      - !Split
                        - ///
                        - !Sub
                          - arn:${AWS::Partition}:ssm:${SecretsRegionName}:${AWS::AccountId}:parameter//${ConnectionsPrefix}/*
                          - {SecretsRegionName: !If [HasSecretsRegion, !Ref SecretsRegion, !Ref AWS::Region]}
"""


def test_the_real_template_limits_both_tag_actions() -> None:
    text = TEMPLATE.read_text()
    assert text.count(TAG_CONDITION) == 2
    assert MANAGED_BY_CONDITION == {"StringEquals": {"aws:RequestTag/managed-by": "airflow-ecr-refresher"},
                                    "ForAllValues:StringEquals": {"aws:TagKeys": ["managed-by"]}}
    assert run().ok


def test_catches_a_tag_action_without_the_managed_by_condition(tmp_path: Path) -> None:
    report = run(variant(tmp_path, TAG_CONDITION, "", 2, only_first=True))
    assert any("secretsmanager:TagResource must be limited to the managed-by tag" in p for p in report.problems), report.problems
    assert not any("ssm:AddTagsToResource must be limited" in p for p in report.problems)
    report = run(variant(tmp_path, "aws:RequestTag/managed-by: airflow-ecr-refresher", "aws:RequestTag/managed-by: '*'", 2))
    assert any("ssm:AddTagsToResource must be limited to the managed-by tag" in p for p in report.problems)
    report = run(variant(tmp_path, "aws:TagKeys: [managed-by]", "aws:TagKeys: [managed-by, owner]", 2))
    assert any("secretsmanager:TagResource must be limited to the managed-by tag" in p for p in report.problems)


def test_catches_a_condition_key_the_action_does_not_take(tmp_path: Path) -> None:
    # The tag keys are not global: PutSecretValue takes neither (Service Authorization Reference).
    report = run(variant(tmp_path, "                  Action: secretsmanager:TagResource\n",
                         "                  Action: [secretsmanager:TagResource, secretsmanager:PutSecretValue]\n"))
    for key in ("aws:RequestTag/managed-by", "aws:TagKeys"):
        assert in_scenario(report, f"secretsmanager:PutSecretValue with condition key {key}, which the catalogue "
                           "does not list for it", "Secrets Manager (the defaults)"), report.problems
    assert not in_scenario(report, "secretsmanager:TagResource with condition key")


def test_catches_tag_on_create_without_the_double_slash_arn(tmp_path: Path) -> None:
    report = run(variant(tmp_path, DOUBLE_SLASH, ""))
    assert in_scenario(report, "ssm:AddTagsToResource on ['arn:aws:ssm:us-east-1:123456789012:parameter/airflow/connections/*'], "
                       "but Airflow's backend names the connections ['arn:aws:ssm:us-east-1:123456789012:parameter//airflow/"
                       "connections/*', 'arn:aws:ssm:us-east-1:123456789012:parameter/airflow/connections/*']",
                       "Parameter Store"), report.problems
    # Symbolically still scoped: only the renderings see what is missing.
    assert all(p.startswith("scenario ") for p in report.problems)


def test_catches_the_double_slash_arn_on_any_other_action(tmp_path: Path) -> None:
    report = run(variant(tmp_path, "                  Action: ssm:AddTagsToResource\n",
                         "                  Action: [ssm:AddTagsToResource, ssm:PutParameter]\n"))
    assert any("ssm:PutParameter must be scoped to arn:...:ssm:<secrets region>:${AWS::AccountId}:parameter/"
               "${ConnectionsPrefix}/*, got ['arn:${AWS::Partition}:ssm:<secrets region>:${AWS::AccountId}:parameter//"
               "${ConnectionsPrefix}/*']" in p for p in report.problems), report.problems
    assert in_scenario(report, "ssm:PutParameter on 'arn:aws:ssm:us-east-1:123456789012:parameter//airflow/connections/*', "
                       "which is no ARN of its resource types", "Parameter Store")
