"""Self-test of scripts/check_iam.py: it passes the real template and catches what it must."""

from __future__ import annotations

import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(ROOT / "scripts"))

import check_iam  # noqa: E402

TEMPLATE = ROOT / "template.yaml"
LOCK = ROOT / "Cargo.lock"
SECRETS_ACTIONS = """                Action:
                  - secretsmanager:GetSecretValue
                  - secretsmanager:PutSecretValue
                  - secretsmanager:CreateSecret
                  - secretsmanager:TagResource
"""


def variant(tmp_path: Path, old: str, new: str) -> Path:
    text = TEMPLATE.read_text()
    assert text.count(old) == 1, f"template.yaml changed; fix this test's anchor {old!r}"
    path = tmp_path / "template.yaml"
    path.write_text(text.replace(old, new))
    return path


def run(template: Path = TEMPLATE, src: Path = FIXTURES / "src_full") -> check_iam.Report:
    return check_iam.check(template, src, LOCK)


def test_real_template_grants_exactly_what_the_fixture_code_needs() -> None:
    report = run()
    assert report.ok, report
    assert set(report.needed) == {
        "ecr:GetAuthorizationToken",
        "secretsmanager:BatchGetSecretValue",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:CreateSecret",
        "secretsmanager:TagResource",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }


def test_calls_in_comments_and_strings_do_not_count() -> None:
    assert "secretsmanager:DeleteSecret" not in run().needed


def test_real_template_grants_exactly_what_src_needs() -> None:
    report = run(src=ROOT / "src")
    assert report.ok, report


def test_catches_a_missing_action(tmp_path: Path) -> None:
    template = variant(tmp_path, "                  - secretsmanager:PutSecretValue\n", "")
    report = run(template)
    assert report.missing == ["secretsmanager:PutSecretValue"]
    assert not report.extra
    assert check_iam.main(["--template", str(template), "--src", str(FIXTURES / "src_full")]) == 1


def test_catches_an_extra_action(tmp_path: Path) -> None:
    template = variant(
        tmp_path, SECRETS_ACTIONS, SECRETS_ACTIONS + "                  - secretsmanager:DeleteSecret\n"
    )
    report = run(template)
    assert report.extra == ["secretsmanager:DeleteSecret"]
    assert not report.missing


def test_grants_the_code_no_longer_needs_are_extra() -> None:
    # No ECR call, and CreateSecret without tags or a KMS key.
    report = run(src=FIXTURES / "src_plain")
    assert report.extra == [
        "ecr:GetAuthorizationToken",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "secretsmanager:TagResource",
    ]


def test_catches_a_wildcard_action(tmp_path: Path) -> None:
    template = variant(tmp_path, "                  - secretsmanager:TagResource\n", "                  - secretsmanager:*\n")
    report = run(template)
    assert any("wildcard action 'secretsmanager:*'" in p for p in report.problems)
    assert report.missing == ["secretsmanager:TagResource"]


def test_catches_secrets_granted_on_star(tmp_path: Path) -> None:
    old = "                Resource: !Sub arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${ConnectionsPrefix}${ConnectionsSeparator}*\n"
    report = run(variant(tmp_path, old, '                Resource: "*"\n'))
    assert any("secretsmanager:PutSecretValue is granted on \"*\"" in p for p in report.problems)


def test_catches_secrets_outside_the_prefix(tmp_path: Path) -> None:
    old = "secret:${ConnectionsPrefix}${ConnectionsSeparator}*"
    report = run(variant(tmp_path, old, "secret:*"))
    assert any("secretsmanager:CreateSecret must be scoped" in p for p in report.problems)


def test_catches_kms_granted_without_a_key(tmp_path: Path) -> None:
    report = run(variant(tmp_path, "    Condition: HasKmsKey\n", ""))
    assert any("kms:Decrypt must be granted only when a key is given" in p for p in report.problems)


def test_catches_a_managed_policy(tmp_path: Path) -> None:
    old = "      Policies:\n        - PolicyName: refresher\n"
    new = "      ManagedPolicyArns: [arn:aws:iam::aws:policy/SecretsManagerReadWrite]\n" + old
    report = run(variant(tmp_path, old, new))
    assert any("SecretsManagerReadWrite" in p and "cannot be checked" in p for p in report.problems)


def test_shared_operation_names_need_a_hint() -> None:
    calls, problems = check_iam.scan_sources(FIXTURES / "src_ambiguous", check_iam.load_operations(LOCK)[0])
    assert len(problems) == 1 and "lib.rs:3: .tag_resource() exists in ecr and secretsmanager" in problems[0]
    # `secrets.tag_resource()` resolves by its receiver, the annotated line by its comment,
    # and the `// iam: ignore` line not at all.
    assert [(c.action, c.line) for c in calls] == [
        ("secretsmanager:TagResource", 6),
        ("secretsmanager:TagResource", 9),
    ]


def test_code_with_no_aws_call_fails(tmp_path: Path) -> None:
    (tmp_path / "main.rs").write_text('fn main() { println!("Hello, world!"); }\n')
    report = run(src=tmp_path)
    assert any("found no AWS SDK operation" in p for p in report.problems)
