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
PARAMETER_STORE = FIXTURES / "requests_parameter_store.json"
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
    assert any("implied by secretsmanager.CreateSecret: CreateSecret with Tags" in w
               for w in report.needed["secretsmanager:TagResource"])


def test_catches_a_missing_action(tmp_path: Path) -> None:
    template = variant(tmp_path, "                  - secretsmanager:PutSecretValue\n", "")
    report = run(template)
    assert report.missing == ["secretsmanager:PutSecretValue"]
    assert not report.extra
    assert in_scenario(report, "secretsmanager:PutSecretValue is needed here but not granted", "the defaults")
    assert check_iam.main(["--template", str(template), "--requests", str(BASELINE)]) == 1


def test_catches_an_extra_action(tmp_path: Path) -> None:
    template = variant(
        tmp_path, SECRETS_ACTIONS, SECRETS_ACTIONS + "                  - secretsmanager:DeleteSecret\n"
    )
    report = run(template)
    assert report.extra == ["secretsmanager:DeleteSecret"]
    assert not report.missing


def test_catches_an_action_the_catalogue_does_not_know(tmp_path: Path) -> None:
    report = run(variant(tmp_path, "                  - secretsmanager:TagResource\n",
                         "                  - secretsmanager:TagResources\n"))
    assert any("secretsmanager:TagResources is not an action in the IAM catalogue" in p for p in report.problems)
    assert report.missing == ["secretsmanager:TagResource"]


def test_grants_the_tests_no_longer_need_are_extra() -> None:
    # No ECR request, no DescribeSecret, and CreateSecret without tags. The actions granted
    # on purpose (pulls, AssumeRole) are needed whatever the code sends, and KMS whenever
    # secrets are read or written (under HasAnyKmsKey).
    report = run(requests=FIXTURES / "requests_plain.json")
    assert report.extra == [
        "ecr:GetAuthorizationToken",
        "secretsmanager:DescribeSecret",
        "secretsmanager:TagResource",
    ]
    assert in_scenario(report, "secretsmanager:DescribeSecret is granted here but not needed", "the defaults")
    assert ON_PURPOSE | {"kms:Decrypt", "kms:GenerateDataKey"} <= set(report.needed)


def test_create_secret_with_a_kms_key_needs_kms_only_under_its_condition(tmp_path: Path) -> None:
    requests = [{"service": "secretsmanager", "target": "secretsmanager.CreateSecret", "params": ["KmsKeyId", "Name"]}]
    needs = check_iam.needs_from_requests({"requests": requests}, [])
    assert needs["kms:GenerateDataKey"].conditions == {"HasAnyKmsKey"}
    assert "secretsmanager:TagResource" not in needs


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
        "[dependencies]\n", '[dependencies]\naws-sdk-ssm = "1"\n', 1))
    report = run(cargo_toml=cargo)
    assert any("aws-sdk-ssm, but the tests sent no ssm request" in p for p in report.problems)


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
    more = record(tmp_path, json.loads(PARAMETER_STORE.read_text())["requests"])
    report = run(requests=more, baseline=BASELINE)
    assert any("copy the record to the baseline" in p for p in report.problems)


# ------------------------------------------------------------------ scope


def test_catches_a_wildcard_action(tmp_path: Path) -> None:
    template = variant(tmp_path, "                  - secretsmanager:TagResource\n", "                  - secretsmanager:*\n")
    report = run(template)
    assert any("wildcard or non-literal action 'secretsmanager:*'" in p for p in report.problems)
    assert report.missing == ["secretsmanager:TagResource"]


def test_catches_secrets_granted_on_star(tmp_path: Path) -> None:
    old = "                Resource: !Sub arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${ConnectionsPrefix}${ConnectionsSeparator}*\n"
    report = run(variant(tmp_path, old, '                Resource: "*"\n'))
    assert any("secretsmanager:PutSecretValue is granted on \"*\"" in p for p in report.problems)


def test_catches_secrets_outside_the_prefix(tmp_path: Path) -> None:
    old = "secret:${ConnectionsPrefix}${ConnectionsSeparator}*"
    report = run(variant(tmp_path, old, "secret:*"))
    assert any("secretsmanager:CreateSecret must be scoped" in p for p in report.problems)
    assert in_scenario(report, "secretsmanager:CreateSecret on ['arn:aws:secretsmanager:us-east-1:123456789012:secret:*'], "
                       "but Airflow's backend names the connections "
                       "['arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow/connections/*']")


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
    assert any("kms:Decrypt must be granted only under the HasAnyKmsKey condition" in p for p in report.problems)


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


# ------------------------------------------------------------------ needed only under a condition

PARAMETERS = """              - !If
                - UsesParameterStore
                - Sid: ConnectionParameters
                  Effect: Allow
                  Action: [ssm:GetParameters, ssm:PutParameter, ssm:AddTagsToResource]
                  Resource: !Sub arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${ConnectionsPrefix}*
                - !Ref AWS::NoValue
"""


def with_parameters(tmp_path: Path, statement: str = PARAMETERS) -> Path:
    """The template with `statement`, and a UsesParameterStore Condition (never true here:
    the template has no such choice yet) for the renderings to evaluate."""
    path = variant(tmp_path, ASSUME_ROLE, statement + ASSUME_ROLE)
    anchor = "  HasAlarmTopic: !Not [!Equals [!Ref AlarmTopicArn, \"\"]]\n"
    text = path.read_text()
    assert text.count(anchor) == 1
    path.write_text(text.replace(anchor, anchor + '  UsesParameterStore: !Equals [parameter-store, chosen]\n'))
    return path


def test_parameter_store_needs_its_grants_under_its_condition(tmp_path: Path) -> None:
    report = run(requests=PARAMETER_STORE)
    assert report.missing == ["ssm:AddTagsToResource", "ssm:GetParameters", "ssm:PutParameter"]
    report = run(with_parameters(tmp_path), requests=PARAMETER_STORE)
    assert report.ok, report
    assert all("(only if UsesParameterStore)" in w for w in report.needed["ssm:PutParameter"])


def test_catches_parameter_store_granted_under_another_condition(tmp_path: Path) -> None:
    other = PARAMETERS.replace("- UsesParameterStore\n", "- HasPullRoles\n")
    lines = PARAMETERS.splitlines(keepends=True)  # the grant in the else branch: when NOT chosen
    negated = "".join(lines[:2] + lines[-1:] + lines[2:-1])
    for statement, got in ((other, "['HasPullRoles']"), (negated, "['!UsesParameterStore']")):
        report = run(with_parameters(tmp_path, statement), requests=PARAMETER_STORE)
        assert f"RefresherRole/refresher: ssm:PutParameter must be granted only under the UsesParameterStore condition, got {got}" in report.problems, report.problems


def test_catches_parameter_store_granted_unconditionally_or_on_star(tmp_path: Path) -> None:
    unconditional = """              - Sid: ConnectionParameters
                Effect: Allow
                Action: [ssm:GetParameters, ssm:PutParameter, ssm:AddTagsToResource]
                Resource: "*"
"""
    report = run(with_parameters(tmp_path, unconditional), requests=PARAMETER_STORE)
    assert any("ssm:GetParameters must be granted only under the UsesParameterStore condition" in p for p in report.problems)
    assert any("ssm:GetParameters is granted on \"*\"" in p for p in report.problems)
    outside = PARAMETERS.replace("parameter${ConnectionsPrefix}*", "parameter/*")
    report = run(with_parameters(tmp_path, outside), requests=PARAMETER_STORE)
    assert any("ssm:PutParameter must be scoped to" in p for p in report.problems)


# ------------------------------------------------------------------ rendering


def test_rendering_resolves_the_intrinsics_the_template_uses() -> None:
    template = check_iam.load_template(TEMPLATE)
    r = check_iam.Rendering(template, {"ConnectionsPrefix": "team/airflow", "ConnectionsSeparator": "-",
                                       "PullRoleArns": "arn:aws:iam::1:role/a,arn:aws:iam::1:role/b"})
    assert r.problems == ["PullRoleArns='arn:aws:iam::1:role/a,arn:aws:iam::1:role/b': 'arn:aws:iam::1:role/a' does not "
                          "match its AllowedPattern ^$|^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=.@_/-]+$",
                          "PullRoleArns='arn:aws:iam::1:role/a,arn:aws:iam::1:role/b': 'arn:aws:iam::1:role/b' does not "
                          "match its AllowedPattern ^$|^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=.@_/-]+$"]
    assert r.condition("HasPullRoles") and r.condition("PullFromAllRepositories") and not r.condition("HasAnyKmsKey")
    resources = r.resources()
    assert "RefresherKmsPolicy" not in resources
    statements = {s["Sid"]: s for s in resources["RefresherRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]}
    assert statements["ConnectionSecrets"]["Resource"] == "arn:aws:secretsmanager:us-east-1:123456789012:secret:team/airflow-*"
    assert statements["Logs"]["Resource"] == "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/airflow-ecr-refresher:*"
    assert statements["EcrPull"]["Resource"] == "arn:aws:ecr:*:123456789012:repository/*"
    assert statements["AssumePullRoles"]["Resource"] == ["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b"]
    assert "EcrPullThroughCache" not in statements
    assert r.outputs()["SecretNamePattern"] == "team/airflow-<conn_id>"


def test_scenarios_refuse_values_the_template_refuses() -> None:
    template = check_iam.load_template(TEMPLATE)
    needs = check_iam.needs_from_requests(check_iam.read_record(BASELINE), [])
    for values, problem in [
        ({"ConnectionsPrefix": ""}, "ConnectionsPrefix='': '' does not match its AllowedPattern"),
        ({"SecretFormat": "yaml"}, "is not one of its AllowedValues"),
        ({"NoSuchParameter": "x"}, "NoSuchParameter: not a parameter of the template"),
    ]:
        found, _ = check_iam.scenario_problems(template, needs, check_iam.Scenario("x", values, "secretsmanager"))
        assert any(problem in p for p in found), (values, found)


def test_catches_kms_on_other_keys_or_via_another_service_in_a_rendering(tmp_path: Path) -> None:
    report = run(variant(tmp_path, "              Resource: !Ref ExtraKmsKeyArns\n", "              Resource: !Ref KmsKeyArn\n"))
    assert in_scenario(report, "but the keys given are", "KMS keys")
    report = run(variant(tmp_path, "secretsmanager.${AWS::Region}.${AWS::URLSuffix}", "ssm.${AWS::Region}.${AWS::URLSuffix}", 2))
    assert in_scenario(report, "not only kms:ViaService secretsmanager.us-east-1.amazonaws.com", "KMS key")


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
