"""Self-test of scripts/check_iam.py on the connections' store: Parameter Store's grants, only the
chosen store's actions in each rendering, and the backend's role_arn instead of either."""

from __future__ import annotations

from pathlib import Path

from iam_grants import collect_grants, load_template, resource_text
from selftest_variants import (NO_VALUE, SECRETS_REGION, SSM_ACTIONS, TEMPLATE, in_scenario, run, variant,
                               without_if_block)

PARAMETER_RESOURCE = """                  Resource: !Join
                    - /
                    - !Split
                      - //
                      - !Sub
                        - arn:${AWS::Partition}:ssm:${SecretsRegionName}:${AWS::AccountId}:parameter/${ConnectionsPrefix}/*
                        - """ + SECRETS_REGION + """
"""
PARAMETERS_IF = "              - !If\n                - UsesParameterStore\n                - Sid: ConnectionParameters\n"


def test_parameter_store_grants_are_under_their_condition_and_scoped() -> None:
    grants = [g for g in collect_grants(load_template(TEMPLATE)).grants if g.action.startswith("ssm:")]
    assert {g.action for g in grants} == SSM_ACTIONS
    assert all(g.conditions == ["UsesParameterStore"] for g in grants)
    scoped = [g for g in grants if g.action not in ("ssm:DescribeParameters", "ssm:AddTagsToResource")]
    (resource,) = {resource_text(r) for g in scoped for r in g.resources}
    assert resource == "arn:${AWS::Partition}:ssm:<secrets region>:${AWS::AccountId}:parameter/${ConnectionsPrefix}/*"
    # Tag on create: also the parameter//<name> form AWS checks it on.
    (tags,) = [g for g in grants if g.action == "ssm:AddTagsToResource"]
    assert [resource_text(r) for r in tags.resources] == [resource, resource.replace("parameter/", "parameter//")]
    # DescribeParameters (the KMS key of a parameter to overwrite) has no resource type.
    (describe,) = [g for g in grants if g.action == "ssm:DescribeParameters"]
    assert [resource_text(r) for r in describe.resources] == ["*"]


def test_catches_a_missing_parameter_store_action(tmp_path: Path) -> None:
    report = run(variant(tmp_path, "                    - ssm:ListTagsForResource\n", ""))
    assert report.missing == ["ssm:ListTagsForResource"]
    assert in_scenario(report, "ssm:ListTagsForResource is needed here but not granted", "Parameter Store")


def test_catches_parameter_store_granted_under_another_condition(tmp_path: Path) -> None:
    other = variant(tmp_path, PARAMETERS_IF, PARAMETERS_IF.replace("UsesParameterStore", "HasPullRoles"))
    report = run(other)
    assert ("RefresherRole/refresher: ssm:PutParameter must be granted only under the UsesParameterStore "
            "condition, got ['HasPullRoles']") in report.problems, report.problems
    # The grant in the else branch: when Parameter Store is NOT chosen.
    text = TEMPLATE.read_text()
    start = text.index(PARAMETERS_IF)
    end = text.index(NO_VALUE, start)
    body = text[start + len(PARAMETERS_IF) - len("                - Sid: ConnectionParameters\n"):end]
    swapped = (text[:start] + "              - !If\n                - UsesParameterStore\n" + NO_VALUE
               + body + text[end + len(NO_VALUE):])
    path = tmp_path / "swapped.yaml"
    path.write_text(swapped)
    report = run(path)
    assert ("RefresherRole/refresher: ssm:PutParameter must be granted only under the UsesParameterStore "
            "condition, got ['!UsesParameterStore']") in report.problems, report.problems
    assert in_scenario(report, "grants ssm actions", "Secrets Manager (the defaults)")


def test_catches_parameter_store_granted_unconditionally_or_on_star(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(without_if_block(TEMPLATE.read_text(), PARAMETERS_IF, """              - Sid: ConnectionParameters
                Effect: Allow
                Action: [ssm:GetParameters, ssm:PutParameter, ssm:AddTagsToResource, ssm:ListTagsForResource]
                Resource: "*"
"""))
    report = run(path)
    assert any("ssm:GetParameters must be granted only under the UsesParameterStore condition" in p for p in report.problems)
    assert any("ssm:GetParameters is granted on \"*\"" in p for p in report.problems)
    # ...and so whatever the backend: the Secrets Manager renderings grant ssm too.
    assert in_scenario(report, "grants ssm actions", "Secrets Manager (the defaults)")


def test_catches_parameters_outside_the_prefix(tmp_path: Path) -> None:
    report = run(variant(tmp_path, "parameter/${ConnectionsPrefix}/*", "parameter/*", 2))
    assert any("ssm:PutParameter must be scoped to arn:...:ssm:<secrets region>:" in p for p in report.problems)
    assert in_scenario(report, "ssm:PutParameter on ['arn:aws:ssm:us-east-1:123456789012:parameter/*'], but "
                       "Airflow's backend names the connections ['arn:aws:ssm:us-east-1:123456789012:parameter/airflow/connections/*']",
                       "Parameter Store")


def test_catches_the_leading_slash_of_the_prefix_in_the_parameter_arn(tmp_path: Path) -> None:
    # Without the Join/Split, a prefix given as /airflow/connections grants parameter//airflow/...,
    # which the catalogue's ARN format (parameter/${ParameterNameWithoutLeadingSlash}) and the
    # backend's names both rule out. Symbolically it looks the same.
    plain = """                  Resource: !Sub
                    - arn:${AWS::Partition}:ssm:${SecretsRegionName}:${AWS::AccountId}:parameter/${ConnectionsPrefix}/*
                    - """ + SECRETS_REGION + "\n"
    report = run(variant(tmp_path, PARAMETER_RESOURCE, plain))
    assert not any(p for p in report.problems if not p.startswith("scenario "))
    bad = "'arn:aws:ssm:eu-west-1:123456789012:parameter//airflow/connections/*'"
    assert in_scenario(report, f"ssm:PutParameter on {bad}, which is no ARN of its resource types "
                       "(arn:${Partition}:ssm:${Region}:${Account}:parameter/${ParameterNameWithoutLeadingSlash})",
                       "prefix /airflow/connections")
    assert in_scenario(report, "but Airflow's backend names the connections "
                       "['arn:aws:ssm:eu-west-1:123456789012:parameter/airflow/connections/*']", "prefix /airflow/connections")
    # The prefix without its leading slash still renders right.
    assert not in_scenario(report, "ssm:", "prefix team.x/airflow_conns")


def test_catches_parameters_in_the_stacks_region_instead_of_the_secrets_region(tmp_path: Path) -> None:
    report = run(variant(tmp_path, ":ssm:${SecretsRegionName}:", ":ssm:${AWS::Region}:", 3))
    assert any("ssm:GetParameters must be scoped to arn:...:ssm:<secrets region>:" in p for p in report.problems)
    assert in_scenario(report, "ssm:GetParameters on ['arn:aws:ssm:us-east-1:", "secrets in eu-west-1")


def test_catches_secrets_manager_granted_when_parameter_store_is_chosen(tmp_path: Path) -> None:
    # UsesSecretsManager forgetting the backend choice: every condition check still passes
    # (the grants are under "their" Condition), only the rendering shows it.
    old = "  UsesSecretsManager: !And [!Not [!Condition IsParameterStoreBackend], !Not [!Condition HasSecretsRole]]\n"
    report = run(variant(tmp_path, old, "  UsesSecretsManager: !Not [!Condition HasSecretsRole]\n"))
    assert not any(p for p in report.problems if not p.startswith("scenario "))
    assert in_scenario(report, "grants secretsmanager actions (secretsmanager:BatchGetSecretValue, ", "Parameter Store")
    assert in_scenario(report, "but the function's role may only use ssm here", "Parameter Store")


def test_catches_parameter_store_granted_when_secrets_manager_is_chosen(tmp_path: Path) -> None:
    old = "  UsesParameterStore: !And [!Condition IsParameterStoreBackend, !Not [!Condition HasSecretsRole]]\n"
    report = run(variant(tmp_path, old, "  UsesParameterStore: !Not [!Condition HasSecretsRole]\n"))
    assert in_scenario(report, "grants ssm actions", "Secrets Manager (the defaults)")
    assert in_scenario(report, "grants ssm actions", "Secrets Manager: KMS keys")
    # ...and its KMS policy beside Secrets Manager's, via ssm.
    assert in_scenario(report, "RefresherParameterKmsPolicy: kms:Encrypt with Condition "
                       '{"StringEquals": {"kms:ViaService": "ssm.eu-west-1.amazonaws.com"}}, not only kms:ViaService '
                       "secretsmanager.eu-west-1.amazonaws.com", "Secrets Manager: KMS keys")


def test_catches_store_grants_beside_the_backend_role(tmp_path: Path) -> None:
    # With role_arn the role holds the rights: no store, no KMS for the function's own role.
    old = "  UsesParameterStore: !And [!Condition IsParameterStoreBackend, !Not [!Condition HasSecretsRole]]\n"
    report = run(variant(tmp_path, old, "  UsesParameterStore: !Condition IsParameterStoreBackend\n"))
    assert in_scenario(report, "grants ssm actions (ssm:AddTagsToResource, ssm:DescribeParameters, "
                       "ssm:GetParameterHistory, ssm:GetParameters, ssm:ListTagsForResource, ssm:PutParameter), but the function's role may only use the backend role_arn here",
                       "Parameter Store through role_arn")
    assert in_scenario(report, "grants KMS (kms:Decrypt, kms:Encrypt, kms:GenerateDataKey), but the backend's role_arn "
                       "holds the keys here", "Parameter Store through role_arn")
    old = "  SecretsManagerKmsKeys: !And [!Condition UsesSecretsManager, !Condition HasAnyKmsKey]\n"
    report = run(variant(tmp_path, old, "  SecretsManagerKmsKeys: !And [!Not [!Condition IsParameterStoreBackend], "
                         "!Condition HasAnyKmsKey]\n"))
    assert in_scenario(report, "grants KMS (kms:Decrypt, kms:GenerateDataKey), but the backend's role_arn holds the keys",
                       "Secrets Manager through role_arn")


def test_catches_a_missing_or_misplaced_backend_role_grant(tmp_path: Path) -> None:
    secrets_role = "              - !If\n                - HasSecretsRole\n                - Sid: AssumeSecretsRole\n"
    report = run(variant(tmp_path, secrets_role, secrets_role.replace("HasSecretsRole", "HasPullRoles")))
    assert any("sts:AssumeRole must be on the PullRoleArns parameter only (under HasPullRoles), or the "
               "SecretsRoleArn parameter only (under HasSecretsRole)" in p for p in report.problems)
    # Granted on the empty SecretsRoleArn when only pull roles are given, and not at all with
    # only the backend's role.
    assert in_scenario(report, "sts:AssumeRole on ['', 'arn:aws:iam::210987654321:role/ecr-pull'], but the roles to "
                       "assume are ['arn:aws:iam::210987654321:role/ecr-pull']", "a pull role")
    assert in_scenario(report, "sts:AssumeRole on '', which is no ARN of its resource types", "a pull role")
    assert in_scenario(report, "sts:AssumeRole is needed here but not granted", "Parameter Store through role_arn")
    path = tmp_path / "no-role.yaml"
    path.write_text(without_if_block(TEMPLATE.read_text(), secrets_role))
    report = run(path)
    assert not report.missing  # still granted for the pull roles...
    assert in_scenario(report, "sts:AssumeRole is needed here but not granted", "Parameter Store through role_arn")
    assert in_scenario(report, "sts:AssumeRole on [], but the roles to assume are "
                       "['arn:aws:iam::210987654321:role/airflow-secrets']", "Parameter Store through role_arn")
