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
PULL_ACTIONS = {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"}
CACHE_ACTIONS = {"ecr:BatchImportUpstreamImage", "ecr:CreateRepository"}
ON_PURPOSE = PULL_ACTIONS | CACHE_ACTIONS | {"sts:AssumeRole"}
PULL_RESOURCE = """                Resource: !If
                  - PullFromAllRepositories
                  - !Sub arn:${AWS::Partition}:ecr:*:${AWS::AccountId}:repository/*
                  - !Ref PullRepositoryArns
              - !If
                - UsesPullThroughCache
"""
ASSUME_ROLE = """              - !If
                - HasPullRoles
                - Sid: AssumePullRoles
"""
SECRETS_ACTIONS = """                Action:
                  - secretsmanager:GetSecretValue
                  - secretsmanager:DescribeSecret
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
    assert set(report.needed) == ON_PURPOSE | {
        "ecr:GetAuthorizationToken",
        "secretsmanager:BatchGetSecretValue",
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
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
    # No ECR call, no DescribeSecret, and CreateSecret without tags or a KMS key. The actions
    # granted on purpose (pulls, AssumeRole) are needed whatever the code calls.
    report = run(src=FIXTURES / "src_plain")
    assert report.extra == [
        "ecr:GetAuthorizationToken",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "secretsmanager:DescribeSecret",
        "secretsmanager:TagResource",
    ]
    assert ON_PURPOSE <= set(report.needed)


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
    # Neither the policy's Condition nor the statement's Fn::If.
    text = TEMPLATE.read_text()
    for old, new in [
        ("    Condition: HasAnyKmsKey\n", ""),
        ("          - !If\n            - HasKmsKey\n            - Sid: SecretsKmsKey\n", "          -   Sid: SecretsKmsKey\n"),
        (
            "            - !Ref AWS::NoValue\n          - !If\n            - HasExtraKmsKeys\n",
            "          - !If\n            - HasExtraKmsKeys\n",
        ),
    ]:
        assert text.count(old) == 1, f"template.yaml changed; fix this test's anchor {old!r}"
        text = text.replace(old, new)
    path = tmp_path / "template.yaml"
    path.write_text(text)
    report = run(path)
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


# ------------------------------------------------------------------ granted on purpose


def test_pull_rights_and_assume_role_are_granted_on_purpose_with_a_reason() -> None:
    report = run()
    for action in ON_PURPOSE:
        assert action in check_iam.GRANTED_ON_PURPOSE
        assert any(w.startswith("granted on purpose") for w in report.needed[action]), action
    assert "pull" in check_iam.GRANTED_ON_PURPOSE["ecr:GetDownloadUrlForLayer"].why
    assert check_iam.GRANTED_ON_PURPOSE["sts:AssumeRole"].condition == "HasPullRoles"
    for action in CACHE_ACTIONS:
        assert check_iam.GRANTED_ON_PURPOSE[action].condition == "UsesPullThroughCache"


def test_the_allow_list_covers_nothing_else() -> None:
    # Widening it must be a deliberate change of this test too.
    assert set(check_iam.GRANTED_ON_PURPOSE) == ON_PURPOSE


def test_catches_a_missing_pull_grant(tmp_path: Path) -> None:
    report = run(variant(tmp_path, "                  - ecr:GetDownloadUrlForLayer\n", ""))
    assert report.missing == ["ecr:GetDownloadUrlForLayer"]
    assert not report.extra


def test_catches_an_extra_ecr_action_next_to_the_pull_rights(tmp_path: Path) -> None:
    old = "                  - ecr:BatchCheckLayerAvailability\n"
    report = run(variant(tmp_path, old, old + "                  - ecr:PutImage\n"))
    assert report.extra == ["ecr:PutImage"]
    assert not report.missing


def test_catches_pull_rights_on_star(tmp_path: Path) -> None:
    report = run(variant(tmp_path, PULL_RESOURCE, '                Resource: "*"\n              - !If\n                - UsesPullThroughCache\n'))
    assert any("ecr:BatchGetImage is granted on \"*\"" in p for p in report.problems)


def test_catches_pull_rights_on_other_repositories(tmp_path: Path) -> None:
    old = "                  - !Sub arn:${AWS::Partition}:ecr:*:${AWS::AccountId}:repository/*\n                  - !Ref PullRepositoryArns\n              - !If\n                - UsesPullThroughCache\n"
    new = "                  - !Sub arn:${AWS::Partition}:ecr:*:*:repository/*\n                  - !Ref PullRepositoryArns\n              - !If\n                - UsesPullThroughCache\n"
    report = run(variant(tmp_path, old, new))
    assert any("ecr:GetDownloadUrlForLayer must be on the PullRepositoryArns parameter" in p for p in report.problems)


def test_catches_pull_through_cache_granted_unconditionally(tmp_path: Path) -> None:
    old = "              - !If\n                - UsesPullThroughCache\n"
    report = run(variant(tmp_path, old, "              - !If\n                - HasPullRoles\n"))
    assert any(
        "ecr:CreateRepository must be granted only under the UsesPullThroughCache condition" in p
        for p in report.problems
    )


def test_catches_a_missing_assume_role(tmp_path: Path) -> None:
    text = TEMPLATE.read_text()
    start = text.index(ASSUME_ROLE)
    end = text.index("                - !Ref AWS::NoValue\n", start) + len("                - !Ref AWS::NoValue\n")
    path = tmp_path / "template.yaml"
    path.write_text(text[:start] + text[end:])
    report = run(path)
    assert report.missing == ["sts:AssumeRole"]


def test_catches_assume_role_on_star_or_without_its_condition(tmp_path: Path) -> None:
    report = run(variant(tmp_path, "                  Resource: !Ref PullRoleArns\n", '                  Resource: "*"\n'))
    assert any("sts:AssumeRole is granted on \"*\"" in p for p in report.problems)
    unconditional = variant(tmp_path, ASSUME_ROLE, ASSUME_ROLE.replace("HasPullRoles", "HasAlarmTopic"))
    report = run(unconditional)
    assert any("sts:AssumeRole must be granted only under the HasPullRoles condition" in p for p in report.problems)


# ------------------------------------------------------------------ KMS


def test_catches_kms_via_service_with_a_hard_coded_dns_suffix(tmp_path: Path) -> None:
    text = TEMPLATE.read_text()
    old = "secretsmanager.${AWS::Region}.${AWS::URLSuffix}"
    assert text.count(old) == 2
    path = tmp_path / "template.yaml"
    path.write_text(text.replace(old, "secretsmanager.${AWS::Region}.amazonaws.com", 1))
    report = run(path)
    assert any("kms:Decrypt must be granted only via Secrets Manager" in p for p in report.problems)


def test_catches_extra_kms_keys_on_star(tmp_path: Path) -> None:
    report = run(variant(tmp_path, "              Resource: !Ref ExtraKmsKeyArns\n", '              Resource: "*"\n'))
    assert any("kms:GenerateDataKey is granted on \"*\"" in p for p in report.problems)


def test_extra_kms_keys_are_granted_only_when_given() -> None:
    grants = check_iam.collect_grants(check_iam.load_template(TEMPLATE)).grants
    extra = [g for g in grants if g.resources == [{"Ref": "ExtraKmsKeyArns"}]]
    assert {g.action for g in extra} == {"kms:Decrypt", "kms:GenerateDataKey"}
    assert all(set(g.conditions) == {"HasAnyKmsKey", "HasExtraKmsKeys"} for g in extra)
