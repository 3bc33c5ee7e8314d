"""Self-test of scripts/check_iam.py: it catches grants broader than their scope, under the wrong
Condition, or of the wrong KMS keys, including the pull rights and sts:AssumeRole granted
on purpose."""

from __future__ import annotations

from pathlib import Path

from iam_grants import collect_grants, load_template
from iam_needs import GRANTED_ON_PURPOSE
from selftest_variants import (CACHE_ACTIONS, ON_PURPOSE, SECRETS_REGION, TEMPLATE, in_scenario, run,
                               variant, without_if_block)

PULL_RESOURCE = """                Resource: !If
                  - PullFromAllRepositories
                  - !Sub arn:${AWS::Partition}:ecr:*:${AWS::AccountId}:repository/*
                  - !Ref PullRepositoryArns
              - !If
                - PullThroughListedRepositories
"""
ASSUME_ROLE = """              - !If
                - HasPullRoles
                - Sid: AssumePullRoles
"""
SECRET_RESOURCE = """                  Resource: !Sub
                    - arn:${AWS::Partition}:secretsmanager:${SecretsRegionName}:${AWS::AccountId}:secret:${ConnectionsPrefix}${ConnectionsSeparator}*
                    - """ + SECRETS_REGION + """
"""

# ------------------------------------------------------------------ scope


def test_catches_a_wildcard_action(tmp_path: Path) -> None:
    template = variant(tmp_path, "                  Action: secretsmanager:TagResource\n", "                  Action: secretsmanager:*\n")
    report = run(template)
    assert any("wildcard or non-literal action 'secretsmanager:*'" in p for p in report.problems)
    assert report.missing == ["secretsmanager:TagResource"]


def test_catches_secrets_granted_on_star(tmp_path: Path) -> None:
    report = run(variant(tmp_path, SECRET_RESOURCE, '                  Resource: "*"\n', 2))
    assert any("secretsmanager:PutSecretValue is granted on \"*\"" in p for p in report.problems)


def test_catches_secrets_outside_the_prefix(tmp_path: Path) -> None:
    old = "secret:${ConnectionsPrefix}${ConnectionsSeparator}*"
    report = run(variant(tmp_path, old, "secret:*", 2))
    assert any("secretsmanager:CreateSecret must be scoped" in p for p in report.problems)
    assert in_scenario(report, "but Airflow's backend names the connections")


def test_catches_secrets_in_the_stacks_region_instead_of_the_secrets_region(tmp_path: Path) -> None:
    report = run(variant(tmp_path, ":secretsmanager:${SecretsRegionName}:", ":secretsmanager:${AWS::Region}:", 2))
    assert any("secretsmanager:CreateSecret must be scoped to arn:...:secretsmanager:<secrets region>:" in p
               for p in report.problems)
    assert in_scenario(report, "secretsmanager:CreateSecret on ['arn:aws:secretsmanager:us-east-1:", "secrets in eu-west-1")


def test_actions_without_resource_types_must_be_on_star(tmp_path: Path) -> None:
    # The catalogue says GetAuthorizationToken has no resource types.
    old = "                Action: ecr:GetAuthorizationToken\n                Resource: \"*\"\n"
    report = run(variant(tmp_path, old, "                Action: ecr:GetAuthorizationToken\n"
                         "                Resource: !Sub arn:${AWS::Partition}:ecr:*:${AWS::AccountId}:repository/*\n"))
    assert any("ecr:GetAuthorizationToken should be on \"*\" only" in p for p in report.problems)


def test_catches_kms_granted_without_a_key(tmp_path: Path) -> None:
    # Neither the policy's Condition nor the statement's Fn::If.
    text = TEMPLATE.read_text()
    for old, new in [
        ("    Condition: SecretsManagerKmsKeys\n", ""),
        ("          - !If\n            - HasKmsKey\n            - Sid: SecretsKmsKey\n", "          -   Sid: SecretsKmsKey\n"),
        (
            "            - !Ref AWS::NoValue\n          - !If\n            - HasExtraKmsKeys\n",
            "          - !If\n            - HasExtraKmsKeys\n",
        ),
    ]:
        # The first: Secrets Manager's policy.
        assert old in text, f"template.yaml changed; fix this test's anchor {old!r}"
        text = text.replace(old, new, 1)
    path = tmp_path / "template.yaml"
    path.write_text(text)
    report = run(path)
    assert any("kms:Decrypt must be granted only under the ParameterStoreKmsKeys or SecretsManagerKmsKeys condition" in p
               for p in report.problems), report.problems
    assert in_scenario(report, "grants KMS (kms:Decrypt, kms:GenerateDataKey), but no key is given", "Secrets Manager (the defaults)")


def test_catches_an_always_needed_action_granted_only_under_a_condition(tmp_path: Path) -> None:
    old = "                Effect: Allow\n                Action: ecr:GetAuthorizationToken\n                Resource: \"*\"\n"
    text = TEMPLATE.read_text()
    start = text.index("              - Sid: EcrToken\n")
    assert text.index(old, start) < text.index("              - Sid: SecretsBatchRead", start)
    end = text.index(old, start) + len(old)
    path = tmp_path / "template.yaml"
    path.write_text(text[:start] + "              - !If [HasAlarmTopic, {Effect: Allow, Action: ecr:GetAuthorizationToken, "
                    "Resource: \"*\"}, !Ref AWS::NoValue]\n" + text[end:])
    report = run(path)
    assert any("ecr:GetAuthorizationToken is needed always, but granted only under conditions" in p
               for p in report.problems), report.problems


def test_catches_a_managed_policy(tmp_path: Path) -> None:
    old = "      Policies:\n        - PolicyName: refresher\n"
    new = "      ManagedPolicyArns: [arn:aws:iam::aws:policy/SecretsManagerReadWrite]\n" + old
    report = run(variant(tmp_path, old, new))
    assert any("SecretsManagerReadWrite" in p and "cannot be checked" in p for p in report.problems)


# ------------------------------------------------------------------ granted on purpose


def test_pull_rights_and_assume_role_are_granted_on_purpose_with_a_reason() -> None:
    report = run()
    for action in ON_PURPOSE:
        assert action in GRANTED_ON_PURPOSE
        assert any(w.startswith("granted on purpose") for w in report.needed[action]), action
    assert "pull" in GRANTED_ON_PURPOSE["ecr:GetDownloadUrlForLayer"].why
    assert GRANTED_ON_PURPOSE["sts:AssumeRole"].condition == "HasPullRoles"
    for action in CACHE_ACTIONS:
        assert GRANTED_ON_PURPOSE[action].condition == "PullThroughListedRepositories"


def test_the_allow_list_covers_nothing_else() -> None:
    # Widening it must be a deliberate change of this test too.
    assert set(GRANTED_ON_PURPOSE) == ON_PURPOSE


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
    report = run(variant(tmp_path, PULL_RESOURCE, '                Resource: "*"\n              - !If\n                - PullThroughListedRepositories\n'))
    assert any("ecr:BatchGetImage is granted on \"*\"" in p for p in report.problems)


def test_catches_pull_rights_on_other_repositories(tmp_path: Path) -> None:
    old = "                  - !Sub arn:${AWS::Partition}:ecr:*:${AWS::AccountId}:repository/*\n                  - !Ref PullRepositoryArns\n              - !If\n                - PullThroughListedRepositories\n"
    new = "                  - !Sub arn:${AWS::Partition}:ecr:*:*:repository/*\n                  - !Ref PullRepositoryArns\n              - !If\n                - PullThroughListedRepositories\n"
    report = run(variant(tmp_path, old, new))
    assert any("ecr:GetDownloadUrlForLayer must be on the PullRepositoryArns parameter" in p for p in report.problems)


def test_catches_pull_through_cache_granted_unconditionally(tmp_path: Path) -> None:
    old = "              - !If\n                - PullThroughListedRepositories\n"
    report = run(variant(tmp_path, old, "              - !If\n                - HasPullRoles\n"))
    assert any(
        "ecr:CreateRepository must be granted only under the PullThroughListedRepositories condition" in p
        for p in report.problems
    )


def test_catches_a_missing_assume_role(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(without_if_block(TEMPLATE.read_text(), ASSUME_ROLE))
    report = run(path)
    # Still granted for the backend's role, but not for pull roles.
    assert not report.missing
    assert in_scenario(report, "sts:AssumeRole is needed here but not granted", "a pull role")
    assert in_scenario(report, "sts:AssumeRole on ['arn:aws:iam::210987654321:role/airflow-secrets'], but the roles to assume are",
                       "Secrets Manager through role_arn")
    secrets_role = "              - !If\n                - HasSecretsRole\n                - Sid: AssumeSecretsRole\n"
    path.write_text(without_if_block(path.read_text(), secrets_role))
    assert run(path).missing == ["sts:AssumeRole"]


def test_catches_assume_role_on_star_or_without_its_condition(tmp_path: Path) -> None:
    report = run(variant(tmp_path, "                  Resource: !Ref PullRoleArns\n", '                  Resource: "*"\n'))
    assert any("sts:AssumeRole is granted on \"*\"" in p for p in report.problems)
    unconditional = variant(tmp_path, ASSUME_ROLE, ASSUME_ROLE.replace("HasPullRoles", "HasAlarmTopic"))
    report = run(unconditional)
    assert any("sts:AssumeRole must be granted only under the HasPullRoles or HasSecretsRole condition" in p
               for p in report.problems)
    assert any("sts:AssumeRole must be on the PullRoleArns parameter only (under HasPullRoles)" in p for p in report.problems)


# ------------------------------------------------------------------ KMS


def test_catches_kms_via_service_with_a_hard_coded_dns_suffix(tmp_path: Path) -> None:
    old = "secretsmanager.${SecretsRegionName}.${AWS::URLSuffix}"
    report = run(variant(tmp_path, old, "secretsmanager.${SecretsRegionName}.amazonaws.com", 2, only_first=True))
    assert any("kms:Decrypt must be granted only via secretsmanager in the secrets' region" in p for p in report.problems)


def test_catches_kms_via_the_other_store_or_the_stacks_region(tmp_path: Path) -> None:
    text = TEMPLATE.read_text()
    old = "ssm.${SecretsRegionName}.${AWS::URLSuffix}"
    assert text.count(old) == 2
    report = run(variant(tmp_path, old, "secretsmanager.${SecretsRegionName}.${AWS::URLSuffix}", 2))
    assert any("RefresherParameterKmsPolicy: kms:Encrypt must be granted only via ssm in the secrets' region: Condition "
               "StringEquals kms:ViaService ssm.<secrets region>.${AWS::URLSuffix}, got "
               "secretsmanager.<secrets region>.${AWS::URLSuffix}" in p for p in report.problems)
    assert in_scenario(report, "not only kms:ViaService ssm.eu-west-1.amazonaws.com", "Parameter Store")
    report = run(variant(tmp_path, old, "ssm.${AWS::Region}.${AWS::URLSuffix}", 2))
    assert any("kms:Decrypt must be granted only via ssm in the secrets' region" in p for p in report.problems)
    assert in_scenario(report, "not only kms:ViaService ssm.eu-west-1.amazonaws.com", "secrets in eu-west-1")


def test_catches_kms_actions_of_the_other_store(tmp_path: Path) -> None:
    # Encrypt is for Parameter Store's standard parameters only.
    old = "              Action: [kms:GenerateDataKey, kms:Decrypt]\n"
    report = run(variant(tmp_path, old, "              Action: [kms:Encrypt, kms:GenerateDataKey, kms:Decrypt]\n", 2))
    assert any("RefresherKmsPolicy: kms:Encrypt must be granted only under the ParameterStoreKmsKeys condition" in p
               for p in report.problems)
    # GenerateDataKey (advanced parameters) is needed through Parameter Store too: without it
    # there, only the Parameter Store renderings with a key miss it.
    old = "              Action: [kms:Encrypt, kms:GenerateDataKey, kms:Decrypt]\n"
    report = run(variant(tmp_path, old, "              Action: [kms:Encrypt, kms:Decrypt]\n", 2))
    assert not report.missing
    assert in_scenario(report, "kms:GenerateDataKey is needed here but not granted", "Parameter Store: prefix team.x")
    assert not in_scenario(report, "kms:GenerateDataKey", "Secrets Manager")


def test_catches_extra_kms_keys_on_star(tmp_path: Path) -> None:
    old = "              Resource: !Ref ExtraKmsKeyArns\n"
    report = run(variant(tmp_path, old, '              Resource: "*"\n', 2, only_first=True))
    assert any("kms:GenerateDataKey is granted on \"*\"" in p for p in report.problems)


def test_extra_kms_keys_are_granted_only_when_given() -> None:
    grants = collect_grants(load_template(TEMPLATE)).grants
    extra = [g for g in grants if g.resources == [{"Ref": "ExtraKmsKeyArns"}]]
    by_store = {c: {g.action for g in extra if c in g.conditions} for c in ("SecretsManagerKmsKeys", "ParameterStoreKmsKeys")}
    assert by_store == {"SecretsManagerKmsKeys": {"kms:Decrypt", "kms:GenerateDataKey"},
                        "ParameterStoreKmsKeys": {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"}}
    assert all(len(g.conditions) == 2 and "HasExtraKmsKeys" in g.conditions for g in extra)
