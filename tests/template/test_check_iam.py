"""Self-test of scripts/check_iam.py: it passes the real template and catches what it must.

Needs come from request records (what tests/conftest.py writes after the Python suites):
the committed baseline, and fixtures beside this file."""

from __future__ import annotations

import json
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(ROOT / "scripts"))

import check_iam  # noqa: E402

TEMPLATE = ROOT / "template.yaml"
BASELINE = check_iam.BASELINE
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
SECRETS_ACTIONS = """                  Action:
                    - secretsmanager:GetSecretValue
                    - secretsmanager:DescribeSecret
                    - secretsmanager:PutSecretValue
                    - secretsmanager:CreateSecret
                    - secretsmanager:TagResource
"""
SSM_ACTIONS = {"ssm:GetParameters", "ssm:PutParameter", "ssm:AddTagsToResource", "ssm:ListTagsForResource",
               "ssm:DescribeParameters"}
SECRETS_REGION = "{SecretsRegionName: !If [HasSecretsRegion, !Ref SecretsRegion, !Ref AWS::Region]}"
PARAMETER_RESOURCE = """                  Resource: !Join
                    - /
                    - !Split
                      - //
                      - !Sub
                        - arn:${AWS::Partition}:ssm:${SecretsRegionName}:${AWS::AccountId}:parameter/${ConnectionsPrefix}/*
                        - """ + SECRETS_REGION + """
"""
SECRET_RESOURCE = """                  Resource: !Sub
                    - arn:${AWS::Partition}:secretsmanager:${SecretsRegionName}:${AWS::AccountId}:secret:${ConnectionsPrefix}${ConnectionsSeparator}*
                    - """ + SECRETS_REGION + """
"""


def variant(tmp_path: Path, old: str, new: str, count: int = 1) -> Path:
    text = TEMPLATE.read_text()
    assert text.count(old) == count, f"template.yaml changed; fix this test's anchor {old!r}"
    path = tmp_path / "template.yaml"
    path.write_text(text.replace(old, new))
    return path


def in_scenario(report: check_iam.Report, text: str, scenario: str = "") -> bool:
    """Whether some problem found in a rendered scenario (whose name contains `scenario`)
    contains `text`."""
    return any(p.startswith("scenario '") and scenario in p.split("': ", 1)[0] and text in p
               for p in report.problems)


def run(template: Path = TEMPLATE, requests: Path = BASELINE, baseline: Path | None = None,
        cargo_toml: Path | None = None) -> check_iam.Report:
    return check_iam.check(template, requests, baseline, cargo_toml)


def record(tmp_path: Path, requests: list[dict], **fields: object) -> Path:
    path = tmp_path / "requests.json"
    path.write_text(json.dumps({"complete": True, "requests": requests, **fields}))
    return path


def baseline_requests() -> list[dict]:
    return json.loads(BASELINE.read_text())["requests"]


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
    assert set(report.scenarios) == {s.name for s in check_iam.SCENARIOS}
    assert all(report.scenarios.values())


def test_catches_a_missing_action(tmp_path: Path) -> None:
    template = variant(tmp_path, "                    - secretsmanager:PutSecretValue\n", "")
    report = run(template)
    assert report.missing == ["secretsmanager:PutSecretValue"]
    assert not report.extra
    assert in_scenario(report, "secretsmanager:PutSecretValue is needed here but not granted", "Secrets Manager (the defaults)")
    assert check_iam.main(["--template", str(template), "--requests", str(BASELINE)]) == 1


def test_catches_an_extra_action(tmp_path: Path) -> None:
    template = variant(
        tmp_path, SECRETS_ACTIONS, SECRETS_ACTIONS + "                    - secretsmanager:DeleteSecret\n"
    )
    report = run(template)
    assert report.extra == ["secretsmanager:DeleteSecret"]
    assert not report.missing


def test_catches_an_action_the_catalogue_does_not_know(tmp_path: Path) -> None:
    report = run(variant(tmp_path, "                    - secretsmanager:TagResource\n",
                         "                    - secretsmanager:TagResources\n"))
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
        *sorted(SSM_ACTIONS),
    ]
    assert ON_PURPOSE | {"kms:Decrypt", "kms:GenerateDataKey"} <= set(report.needed)
    assert in_scenario(report, "secretsmanager:DescribeSecret is granted here but not needed", "the defaults")
    assert in_scenario(report, "ssm:PutParameter is granted here but not needed", "Parameter Store")


def test_create_secret_with_a_kms_key_needs_kms_only_under_its_condition(tmp_path: Path) -> None:
    requests = [{"service": "secretsmanager", "target": "secretsmanager.CreateSecret", "params": ["KmsKeyId", "Name"]}]
    needs = check_iam.needs_from_requests({"requests": requests}, [])
    assert needs["kms:GenerateDataKey"].conditions == {"SecretsManagerKmsKeys"}
    assert needs["secretsmanager:CreateSecret"].conditions == {"UsesSecretsManager"}
    assert "secretsmanager:TagResource" not in needs


def test_parameter_store_requests_need_tagging_and_kms_under_their_conditions() -> None:
    requests = [
        {"service": "ssm", "target": "AmazonSSM.GetParameters", "params": ["Names", "WithDecryption"]},
        {"service": "ssm", "target": "AmazonSSM.PutParameter", "params": ["Name", "Tags", "Type", "Value"]},
    ]
    needs = check_iam.needs_from_requests({"requests": requests}, [])
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
    assert "ssm:AddTagsToResource" not in check_iam.needs_from_requests({"requests": untagged}, [])


def test_assume_role_is_needed_for_pull_roles_or_the_backend_role() -> None:
    needs = check_iam.needs_from_requests({"requests": [{"service": "sts", "target": "sts.AssumeRole", "params": []}]}, [])
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


# ------------------------------------------------------------------ scope


def test_catches_a_wildcard_action(tmp_path: Path) -> None:
    template = variant(tmp_path, "                    - secretsmanager:TagResource\n", "                    - secretsmanager:*\n")
    report = run(template)
    assert any("wildcard or non-literal action 'secretsmanager:*'" in p for p in report.problems)
    assert report.missing == ["secretsmanager:TagResource"]


def test_catches_secrets_granted_on_star(tmp_path: Path) -> None:
    report = run(variant(tmp_path, SECRET_RESOURCE, '                  Resource: "*"\n'))
    assert any("secretsmanager:PutSecretValue is granted on \"*\"" in p for p in report.problems)


def test_catches_secrets_outside_the_prefix(tmp_path: Path) -> None:
    old = "secret:${ConnectionsPrefix}${ConnectionsSeparator}*"
    report = run(variant(tmp_path, old, "secret:*"))
    assert any("secretsmanager:CreateSecret must be scoped" in p for p in report.problems)
    assert in_scenario(report, "but Airflow's backend names the connections")


def test_catches_secrets_in_the_stacks_region_instead_of_the_secrets_region(tmp_path: Path) -> None:
    report = run(variant(tmp_path, ":secretsmanager:${SecretsRegionName}:", ":secretsmanager:${AWS::Region}:"))
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


# ------------------------------------------------------------------ the connections' store

PARAMETERS_IF = "              - !If\n                - UsesParameterStore\n                - Sid: ConnectionParameters\n"


def test_parameter_store_grants_are_under_their_condition_and_scoped() -> None:
    grants = [g for g in check_iam.collect_grants(check_iam.load_template(TEMPLATE)).grants if g.action.startswith("ssm:")]
    assert {g.action for g in grants} == SSM_ACTIONS
    assert all(g.conditions == ["UsesParameterStore"] for g in grants)
    scoped = [g for g in grants if g.action != "ssm:DescribeParameters"]
    (resource,) = {check_iam.resource_text(r) for g in scoped for r in g.resources}
    assert resource == "arn:${AWS::Partition}:ssm:<secrets region>:${AWS::AccountId}:parameter/${ConnectionsPrefix}/*"
    # DescribeParameters (the KMS key of a parameter to overwrite) has no resource type.
    (describe,) = [g for g in grants if g.action == "ssm:DescribeParameters"]
    assert [check_iam.resource_text(r) for r in describe.resources] == ["*"]


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
    end = text.index("                - !Ref AWS::NoValue\n", start)
    body = text[start + len(PARAMETERS_IF) - len("                - Sid: ConnectionParameters\n"):end]
    swapped = (text[:start] + "              - !If\n                - UsesParameterStore\n                - !Ref AWS::NoValue\n"
               + body + text[end + len("                - !Ref AWS::NoValue\n"):])
    path = tmp_path / "swapped.yaml"
    path.write_text(swapped)
    report = run(path)
    assert ("RefresherRole/refresher: ssm:PutParameter must be granted only under the UsesParameterStore "
            "condition, got ['!UsesParameterStore']") in report.problems, report.problems
    assert in_scenario(report, "grants ssm actions", "Secrets Manager (the defaults)")


def test_catches_parameter_store_granted_unconditionally_or_on_star(tmp_path: Path) -> None:
    text = TEMPLATE.read_text()
    start = text.index(PARAMETERS_IF)
    end = text.index("                - !Ref AWS::NoValue\n", start) + len("                - !Ref AWS::NoValue\n")
    path = tmp_path / "template.yaml"
    path.write_text(text[:start] + """              - Sid: ConnectionParameters
                Effect: Allow
                Action: [ssm:GetParameters, ssm:PutParameter, ssm:AddTagsToResource, ssm:ListTagsForResource]
                Resource: "*"
""" + text[end:])
    report = run(path)
    assert any("ssm:GetParameters must be granted only under the UsesParameterStore condition" in p for p in report.problems)
    assert any("ssm:GetParameters is granted on \"*\"" in p for p in report.problems)
    # ...and so whatever the backend: the Secrets Manager renderings grant ssm too.
    assert in_scenario(report, "grants ssm actions", "Secrets Manager (the defaults)")


def test_catches_parameters_outside_the_prefix(tmp_path: Path) -> None:
    report = run(variant(tmp_path, "parameter/${ConnectionsPrefix}/*", "parameter/*"))
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
    report = run(variant(tmp_path, ":ssm:${SecretsRegionName}:", ":ssm:${AWS::Region}:"))
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
    assert in_scenario(report, "grants ssm actions (ssm:AddTagsToResource, ssm:DescribeParameters, ssm:GetParameters, "
                       "ssm:ListTagsForResource, ssm:PutParameter), but the function's role may only use the backend role_arn here",
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
    text = TEMPLATE.read_text()
    start = text.index(secrets_role)
    end = text.index("                - !Ref AWS::NoValue\n", start) + len("                - !Ref AWS::NoValue\n")
    path = tmp_path / "no-role.yaml"
    path.write_text(text[:start] + text[end:])
    report = run(path)
    assert not report.missing  # still granted for the pull roles...
    assert in_scenario(report, "sts:AssumeRole is needed here but not granted", "Parameter Store through role_arn")
    assert in_scenario(report, "sts:AssumeRole on [], but the roles to assume are "
                       "['arn:aws:iam::210987654321:role/airflow-secrets']", "Parameter Store through role_arn")


# ------------------------------------------------------------------ rendering


def test_rendering_resolves_the_intrinsics_the_template_uses() -> None:
    template = check_iam.load_template(TEMPLATE)
    r = check_iam.Rendering(template, {"SecretsBackend": check_iam.PARAMETER_STORE_BACKEND,
                                       "ConnectionsPrefix": "/airflow/connections", "SecretsRegion": "eu-west-1",
                                       "PullRoleArns": "arn:aws:iam::1:role/a,arn:aws:iam::1:role/b"})
    assert r.problems == ["PullRoleArns='arn:aws:iam::1:role/a,arn:aws:iam::1:role/b': 'arn:aws:iam::1:role/a' does not "
                          "match its AllowedPattern ^$|^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=.@_/-]+$",
                          "PullRoleArns='arn:aws:iam::1:role/a,arn:aws:iam::1:role/b': 'arn:aws:iam::1:role/b' does not "
                          "match its AllowedPattern ^$|^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=.@_/-]+$"]
    assert r.condition("UsesParameterStore") and not r.condition("UsesSecretsManager") and not r.condition("HasAnyKmsKey")
    resources = r.resources()
    assert "RefresherKmsPolicy" not in resources and "RefresherParameterKmsPolicy" not in resources
    statements = {s["Sid"]: s for s in resources["RefresherRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]}
    assert statements["ConnectionParameters"]["Resource"] == "arn:aws:ssm:eu-west-1:123456789012:parameter/airflow/connections/*"
    assert statements["Logs"]["Resource"] == "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/airflow-ecr-refresher:*"
    assert statements["AssumePullRoles"]["Resource"] == ["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b"]
    assert "SecretsBatchRead" not in statements and "AssumeSecretsRole" not in statements
    assert statements["EcrPull"]["Resource"] == "arn:aws:ecr:*:123456789012:repository/*"
    assert "EcrPullThroughCache" not in statements
    assert r.outputs()["SecretNamePattern"] == "/airflow/connections/<conn_id>"


def test_scenarios_refuse_values_the_template_refuses() -> None:
    template = check_iam.load_template(TEMPLATE)
    needs = check_iam.needs_from_requests(check_iam.read_record(BASELINE), [])
    for values, problem in [
        ({"ConnectionsPrefix": ""}, "ConnectionsPrefix='': '' does not match its AllowedPattern"),
        ({"ConnectionsPrefix": "airflow//connections"}, "does not match its AllowedPattern"),
        ({"SecretsBackend": "airflow.secrets.local_filesystem.LocalFilesystemBackend"}, "is not one of its AllowedValues"),
        ({"SecretsRegion": "EU-WEST-1"}, "does not match its AllowedPattern"),
        ({"SecretFormat": "yaml"}, "is not one of its AllowedValues"),
        ({"NoSuchParameter": "x"}, "NoSuchParameter: not a parameter of the template"),
        ({"SecretsBackend": check_iam.PARAMETER_STORE_BACKEND, "ConnectionsSeparator": "-"},
         "refused by Rules: ParameterStoreSeparator: The Parameter Store backend always separates with /"),
    ]:
        found, _ = check_iam.scenario_problems(template, needs, check_iam.Scenario("x", values, "secretsmanager"))
        assert any(problem in p for p in found), (values, found)


def test_the_scenarios_cover_both_backends_with_and_without_their_role() -> None:
    by_store: dict[object, list[dict[str, str]]] = {}
    for s in check_iam.SCENARIOS:
        by_store.setdefault(s.store, []).append(s.values)
        chosen = s.values.get("SecretsBackend", check_iam.SECRETS_MANAGER_BACKEND)
        assert (s.store is None) == bool(s.values.get("SecretsRoleArn")), s.name
        if s.store is not None:
            assert s.store == ("ssm" if chosen == check_iam.PARAMETER_STORE_BACKEND else "secretsmanager"), s.name
    for store in ("secretsmanager", "ssm"):
        assert any(v.get("SecretsRegion") and v.get("KmsKeyArn") and v.get("ExtraKmsKeyArns") for v in by_store[store])
        assert any(not v.get("KmsKeyArn") for v in by_store[store])
    assert {v.get("ConnectionsPrefix") for v in by_store["ssm"]} >= {None, "/airflow/connections"}
    assert {v.get("SecretsBackend") for v in by_store[None]} == {None, check_iam.PARAMETER_STORE_BACKEND}


def test_catches_kms_on_other_keys_in_a_rendering(tmp_path: Path) -> None:
    report = run(variant(tmp_path, "              Resource: !Ref ExtraKmsKeyArns\n", "              Resource: !Ref KmsKeyArn\n", 2))
    assert in_scenario(report, "but the keys given are", "Secrets Manager: KMS keys")
    assert in_scenario(report, "but the keys given are", "Parameter Store: prefix /airflow/connections")


def test_catches_assume_role_beyond_the_roles_given_in_a_rendering(tmp_path: Path) -> None:
    report = run(variant(tmp_path, "                  Resource: !Ref PullRoleArns\n",
                         "                  Resource: !Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*\n"))
    assert in_scenario(report, "sts:AssumeRole on ['arn:aws:iam::123456789012:role/*'], but the roles to assume are", "pull role")


def test_arn_formats_of_the_catalogue() -> None:
    parameter = check_iam.arn_type_pattern("arn:${Partition}:ssm:${Region}:${Account}:parameter/${ParameterNameWithoutLeadingSlash}")
    assert parameter.fullmatch("arn:aws:ssm:eu-west-1:123456789012:parameter/airflow/connections/*")
    assert parameter.fullmatch("arn:aws-cn:ssm:cn-north-1:123456789012:parameter/a")
    assert not parameter.fullmatch("arn:aws:ssm:eu-west-1:123456789012:parameter//airflow/connections/*")
    assert not parameter.fullmatch("arn:aws:ssm:eu-west-1:123456789012:document/x")
    repository = check_iam.arn_type_pattern("arn:${Partition}:ecr:${Region}:${Account}:repository/${RepositoryName}")
    assert repository.fullmatch("arn:aws:ecr:*:123456789012:repository/*")
    assert not repository.fullmatch("arn:aws:ecr:us-east-1:12345:repository/x")
    assert check_iam.arn_type_problems("w", "kms:Decrypt", ["arn:aws:kms:us-east-1:123456789012:alias/x"])
    assert check_iam.arn_type_problems("w", "sts:AssumeRole", ["arn:aws:iam::123456789012:user/x"])
    assert not check_iam.arn_type_problems("w", "sts:AssumeRole", ["arn:aws:iam::123456789012:role/path/x"])


def test_condition_keys_must_be_the_actions_own() -> None:
    via = {"StringEquals": {"kms:ViaService": "ssm.us-east-1.amazonaws.com"}}
    assert check_iam.condition_key_problems("w", "kms:Encrypt", via) == []
    assert check_iam.condition_key_problems("w", "kms:Encrypt", {"StringEquals": {"kms:ViaServices": "x"}}) == [
        "w: kms:Encrypt with condition key kms:ViaServices, which the catalogue does not list for it"]
    assert check_iam.condition_key_problems("w", "ssm:PutParameter", {"StringEquals": {"aws:RequestedRegion": "x"}}) == []


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
    # Still granted for the backend's role, but not for pull roles.
    assert not report.missing
    assert in_scenario(report, "sts:AssumeRole is needed here but not granted", "a pull role")
    assert in_scenario(report, "sts:AssumeRole on ['arn:aws:iam::210987654321:role/airflow-secrets'], but the roles to assume are",
                       "Secrets Manager through role_arn")
    secrets_role = "              - !If\n                - HasSecretsRole\n                - Sid: AssumeSecretsRole\n"
    text = path.read_text()
    start = text.index(secrets_role)
    end = text.index("                - !Ref AWS::NoValue\n", start) + len("                - !Ref AWS::NoValue\n")
    path.write_text(text[:start] + text[end:])
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
    text = TEMPLATE.read_text()
    old = "secretsmanager.${SecretsRegionName}.${AWS::URLSuffix}"
    assert text.count(old) == 2
    path = tmp_path / "template.yaml"
    path.write_text(text.replace(old, "secretsmanager.${SecretsRegionName}.amazonaws.com", 1))
    report = run(path)
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
    text = TEMPLATE.read_text()
    old = "              Resource: !Ref ExtraKmsKeyArns\n"
    assert text.count(old) == 2
    path = tmp_path / "template.yaml"
    path.write_text(text.replace(old, '              Resource: "*"\n', 1))
    report = run(path)
    assert any("kms:GenerateDataKey is granted on \"*\"" in p for p in report.problems)


def test_extra_kms_keys_are_granted_only_when_given() -> None:
    grants = check_iam.collect_grants(check_iam.load_template(TEMPLATE)).grants
    extra = [g for g in grants if g.resources == [{"Ref": "ExtraKmsKeyArns"}]]
    by_store = {c: {g.action for g in extra if c in g.conditions} for c in ("SecretsManagerKmsKeys", "ParameterStoreKmsKeys")}
    assert by_store == {"SecretsManagerKmsKeys": {"kms:Decrypt", "kms:GenerateDataKey"},
                        "ParameterStoreKmsKeys": {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"}}
    assert all(len(g.conditions) == 2 and "HasExtraKmsKeys" in g.conditions for g in extra)
