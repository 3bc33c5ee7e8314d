"""Self-test of scripts/check_iam.py: it passes the real template, and finds missing, extra and
unknown actions against the needs from request records (the committed baseline, and
fixtures beside this file), wherever those come from."""

from __future__ import annotations

from pathlib import Path

from check_iam import BASELINE, ROOT, main
from iam_needs import needs_from_requests
from iam_scenarios import SCENARIOS
from selftest_variants import (FIXTURES, ON_PURPOSE, SSM_ACTIONS, baseline_requests, in_scenario, record, run,
                               variant)

SECRETS_ACTIONS = """                  Action:
                    - secretsmanager:GetSecretValue
                    - secretsmanager:DescribeSecret
                    - secretsmanager:PutSecretValue
                    - secretsmanager:CreateSecret
"""

def test_real_template_grants_exactly_what_the_baseline_needs() -> None:
    report = run(cargo_toml=ROOT / "Cargo.toml")
    assert report.ok, report
    assert set(report.needed) == ON_PURPOSE | SSM_ACTIONS | {
        "ecr:GetAuthorizationToken",
        "secretsmanager:BatchGetSecretValue",
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "secretsmanager:PutSecretValue",
        "secretsmanager:CreateSecret",
        "secretsmanager:TagResource",
        "secretsmanager:UpdateSecretVersionStage",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "kms:Encrypt",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    assert any("implied by secretsmanager.CreateSecret: CreateSecret with Tags" in w
               for w in report.needed["secretsmanager:TagResource"])
    assert any("implied by AmazonSSM.PutParameter: PutParameter with Tags (only if UsesParameterStore)" in w
               for w in report.needed["ssm:AddTagsToResource"])
    # Every scenario was rendered, and each grants something.
    assert set(report.scenarios) == {s.name for s in SCENARIOS}
    assert all(report.scenarios.values())


def test_catches_a_missing_action(tmp_path: Path) -> None:
    template = variant(tmp_path, "                    - secretsmanager:PutSecretValue\n", "")
    report = run(template)
    assert report.missing == ["secretsmanager:PutSecretValue"]
    assert not report.extra
    assert in_scenario(report, "secretsmanager:PutSecretValue is needed here but not granted", "Secrets Manager (the defaults)")
    assert main(["--template", str(template), "--requests", str(BASELINE)]) == 1


def test_catches_an_extra_action(tmp_path: Path) -> None:
    template = variant(
        tmp_path, SECRETS_ACTIONS, SECRETS_ACTIONS + "                    - secretsmanager:DeleteSecret\n"
    )
    report = run(template)
    assert report.extra == ["secretsmanager:DeleteSecret"]
    assert not report.missing


def test_catches_an_action_the_catalogue_does_not_know(tmp_path: Path) -> None:
    report = run(variant(tmp_path, "                  Action: secretsmanager:TagResource\n",
                         "                  Action: secretsmanager:TagResources\n"))
    assert any("secretsmanager:TagResources is not an action in the IAM catalogue" in p for p in report.problems)
    assert report.missing == ["secretsmanager:TagResource"]


def test_grants_the_tests_no_longer_need_are_extra() -> None:
    # No ECR request, no DescribeSecret, CreateSecret without tags, and no Parameter Store
    # request (so neither its actions nor the kms:Encrypt it implies). The actions granted on
    # purpose (pulls, AssumeRole) are needed whatever the code sends, and KMS whenever
    # secrets are read or written (under SecretsManagerKmsKeys).
    report = run(requests=FIXTURES / "requests_plain.json")
    assert report.extra == [
        "ecr:GetAuthorizationToken",
        "kms:Encrypt",
        "secretsmanager:DescribeSecret",
        "secretsmanager:TagResource",
        "secretsmanager:UpdateSecretVersionStage",
        *sorted(SSM_ACTIONS),
    ]
    assert ON_PURPOSE | {"kms:Decrypt", "kms:GenerateDataKey"} <= set(report.needed)
    assert in_scenario(report, "secretsmanager:DescribeSecret is granted here but not needed", "the defaults")
    assert in_scenario(report, "ssm:PutParameter is granted here but not needed", "Parameter Store")


def test_create_secret_with_a_kms_key_needs_kms_only_under_its_condition(tmp_path: Path) -> None:
    requests = [{"service": "secretsmanager", "target": "secretsmanager.CreateSecret", "params": ["KmsKeyId", "Name"]}]
    needs = needs_from_requests({"requests": requests}, [])
    assert needs["kms:GenerateDataKey"].conditions == {"SecretsManagerKmsKeys"}
    assert needs["secretsmanager:CreateSecret"].conditions == {"UsesSecretsManager"}
    assert "secretsmanager:TagResource" not in needs


def test_parameter_store_requests_need_tagging_and_kms_under_their_conditions() -> None:
    requests = [
        {"service": "ssm", "target": "AmazonSSM.GetParameters", "params": ["Names", "WithDecryption"]},
        {"service": "ssm", "target": "AmazonSSM.PutParameter", "params": ["Name", "Tags", "Type", "Value"]},
    ]
    needs = needs_from_requests({"requests": requests}, [])
    assert {a: n.conditions for a, n in needs.items()} == {
        "ssm:GetParameters": {"UsesParameterStore"},
        "ssm:PutParameter": {"UsesParameterStore"},
        "ssm:AddTagsToResource": {"UsesParameterStore"},
        # Encrypt writes a standard parameter, GenerateDataKey an advanced one, Decrypt reads.
        "kms:Encrypt": {"ParameterStoreKmsKeys"},
        "kms:GenerateDataKey": {"ParameterStoreKmsKeys"},
        "kms:Decrypt": {"ParameterStoreKmsKeys"},
    }
    untagged = [{"service": "ssm", "target": "AmazonSSM.PutParameter", "params": ["Name", "Overwrite", "Type", "Value"]}]
    assert "ssm:AddTagsToResource" not in needs_from_requests({"requests": untagged}, [])


def test_assume_role_is_needed_for_pull_roles_or_the_backend_role() -> None:
    needs = needs_from_requests({"requests": [{"service": "sts", "target": "sts.AssumeRole", "params": []}]}, [])
    assert needs["sts:AssumeRole"].conditions == {"HasPullRoles", "HasSecretsRole"}


def test_catches_a_request_botocore_does_not_know(tmp_path: Path) -> None:
    report = run(requests=record(tmp_path, baseline_requests() + [
        {"service": "secretsmanager", "target": "secretsmanager.FrobnicateSecret", "params": []},
        {"service": "nosuchservice", "target": "nosuchservice.Get", "params": []},
        {"service": "", "target": "GET /latest/meta-data", "params": []}]))
    assert sum("not an operation of botocore's secretsmanager model" in p for p in report.problems) == 1
    assert sum("not an AWS API call botocore knows" in p for p in report.problems) == 2


def test_a_record_without_requests_fails(tmp_path: Path) -> None:
    report = run(requests=record(tmp_path, []))
    assert any("lists no AWS request" in p for p in report.problems)


def test_an_sdk_the_tests_never_exercise_fails(tmp_path: Path) -> None:
    cargo = tmp_path / "Cargo.toml"
    cargo.write_text((ROOT / "Cargo.toml").read_text().replace(
        "[dependencies]\n", '[dependencies]\naws-sdk-dynamodb = "1"\n', 1))
    report = run(cargo_toml=cargo)
    assert any("aws-sdk-dynamodb, but the tests sent no dynamodb request" in p for p in report.problems)


# ------------------------------------------------------------------ where the needs come from


def test_without_a_record_the_baseline_is_used_and_said(tmp_path: Path) -> None:
    report = run(requests=tmp_path / "missing.json", baseline=BASELINE)
    assert report.ok, report
    assert "committed baseline" in report.source and "is missing" in report.source


def test_an_incomplete_record_is_not_trusted(tmp_path: Path) -> None:
    partial = record(tmp_path, [], complete=False, incomplete_because=["tests/contract did not run"])
    report = run(requests=partial, baseline=BASELINE)
    assert report.ok, report
    assert "incomplete: tests/contract did not run" in report.source


def test_a_complete_record_must_agree_with_the_baseline(tmp_path: Path) -> None:
    same = record(tmp_path, baseline_requests())
    report = run(requests=same, baseline=BASELINE)
    assert report.ok and "the requests the tests sent" in report.source
    # A record of code that sends no Parameter Store request: the baseline needs more.
    fewer = record(tmp_path, [r for r in baseline_requests() if r["service"] != "ssm"])
    report = run(requests=fewer, baseline=BASELINE)
    assert any("copy the record to the baseline" in p for p in report.problems)
