"""Self-test of the template rendering behind scripts/check_iam.py: the intrinsics resolved, the
scenarios and the values they may take, and the catalogue's ARN formats and condition keys."""

from __future__ import annotations

from pathlib import Path

from check_iam import BASELINE
from iam_grants import load_template
from iam_needs import needs_from_requests, read_record
from iam_render import sam_transformed
from iam_scenarios import (PARAMETER_STORE_BACKEND, SCENARIOS, SECRETS_MANAGER_BACKEND, Scenario,
                           arn_type_pattern, arn_type_problems, condition_key_problems, scenario_problems)
from selftest_variants import TEMPLATE, in_scenario, run, variant
from template_rendering import rendered

PULL_ROLE = "arn:aws:iam::123456789012:role"


def test_rendering_resolves_the_intrinsics_the_template_uses() -> None:
    r = rendered(SecretsBackend=PARAMETER_STORE_BACKEND, ConnectionsPrefix="/airflow/connections",
                 SecretsRegion="eu-west-1", PullRoleArns=f"{PULL_ROLE}/a,{PULL_ROLE}/b")
    assert r.condition("UsesParameterStore") and not r.condition("UsesSecretsManager") and not r.condition("HasAnyKmsKey")
    resources = r.resources()
    assert "RefresherKmsPolicy" not in resources and "RefresherParameterKmsPolicy" not in resources
    statements = {s["Sid"]: s for s in resources["RefresherRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]}
    # !Join of !Split of !Sub with an !If in its variable map: the prefix's leading "/" collapsed.
    assert statements["ConnectionParameters"]["Resource"] == "arn:aws:ssm:eu-west-1:123456789012:parameter/airflow/connections/*"
    assert statements["AssumePullRoles"]["Resource"] == [f"{PULL_ROLE}/a", f"{PULL_ROLE}/b"]
    # Statements under a false !If are gone, not left as AWS::NoValue.
    assert "SecretsBatchRead" not in statements and "AssumeSecretsRole" not in statements
    assert all(isinstance(s, dict) for s in statements.values())
    assert statements["EcrPull"]["Resource"] == "arn:aws:ecr:*:123456789012:repository/*"
    assert "EcrPullThroughCache" not in statements
    assert r.outputs()["SecretNamePattern"] == "/airflow/connections/<conn_id>"


def test_scenarios_refuse_values_the_template_refuses() -> None:
    transformed = sam_transformed(load_template(TEMPLATE))
    needs = needs_from_requests(read_record(BASELINE), [])
    for values, problem in [
        ({"ConnectionsPrefix": ""}, "does not match the AllowedPattern for parameter ConnectionsPrefix"),
        ({"ConnectionsPrefix": "airflow//connections"}, "does not match the AllowedPattern"),
        ({"SecretsBackend": "airflow.secrets.local_filesystem.LocalFilesystemBackend"}, "not in allowed values"),
        ({"SecretsRegion": "EU-WEST-1"}, "does not match the AllowedPattern"),
        ({"SecretFormat": "yaml"}, "not in allowed values"),
        ({"PullRoleArns": f"{PULL_ROLE}/a,arn:aws:iam::1:role/b"}, "does not match the AllowedPattern for parameter PullRoleArns"),
        ({"NoSuchParameter": "x"}, "Parameters that were not in the Template - {'NoSuchParameter'}"),
        ({"SecretsBackend": PARAMETER_STORE_BACKEND, "ConnectionsSeparator": "-"},
         "refused by Rules: ParameterStoreSeparator: The Parameter Store backend always separates with /"),
    ]:
        found, _ = scenario_problems(transformed, needs, Scenario("x", values, "secretsmanager"))
        assert any(problem in p for p in found), (values, found)


def test_the_scenarios_cover_both_backends_with_and_without_their_role() -> None:
    by_store: dict[object, list[dict[str, str]]] = {}
    for s in SCENARIOS:
        by_store.setdefault(s.store, []).append(s.values)
        chosen = s.values.get("SecretsBackend", SECRETS_MANAGER_BACKEND)
        assert (s.store is None) == bool(s.values.get("SecretsRoleArn")), s.name
        if s.store is not None:
            assert s.store == ("ssm" if chosen == PARAMETER_STORE_BACKEND else "secretsmanager"), s.name
    for store in ("secretsmanager", "ssm"):
        assert any(v.get("SecretsRegion") and v.get("KmsKeyArn") and v.get("ExtraKmsKeyArns") for v in by_store[store])
        assert any(not v.get("KmsKeyArn") for v in by_store[store])
    assert {v.get("ConnectionsPrefix") for v in by_store["ssm"]} >= {None, "/airflow/connections"}
    assert {v.get("SecretsBackend") for v in by_store[None]} == {None, PARAMETER_STORE_BACKEND}


def test_catches_kms_on_other_keys_in_a_rendering(tmp_path: Path) -> None:
    report = run(variant(tmp_path, "              Resource: !Ref ExtraKmsKeyArns\n", "              Resource: !Ref KmsKeyArn\n", 2))
    assert in_scenario(report, "but the keys given are", "Secrets Manager: KMS keys")
    assert in_scenario(report, "but the keys given are", "Parameter Store: prefix /airflow/connections")


def test_catches_assume_role_beyond_the_roles_given_in_a_rendering(tmp_path: Path) -> None:
    report = run(variant(tmp_path, "                  Resource: !Ref PullRoleArns\n",
                         "                  Resource: !Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*\n"))
    assert in_scenario(report, "sts:AssumeRole on ['arn:aws:iam::123456789012:role/*'], but the roles to assume are", "pull role")


def test_arn_formats_of_the_catalogue() -> None:
    parameter = arn_type_pattern("arn:${Partition}:ssm:${Region}:${Account}:parameter/${ParameterNameWithoutLeadingSlash}")
    assert parameter.fullmatch("arn:aws:ssm:eu-west-1:123456789012:parameter/airflow/connections/*")
    assert parameter.fullmatch("arn:aws-cn:ssm:cn-north-1:123456789012:parameter/a")
    assert not parameter.fullmatch("arn:aws:ssm:eu-west-1:123456789012:parameter//airflow/connections/*")
    assert not parameter.fullmatch("arn:aws:ssm:eu-west-1:123456789012:document/x")
    repository = arn_type_pattern("arn:${Partition}:ecr:${Region}:${Account}:repository/${RepositoryName}")
    assert repository.fullmatch("arn:aws:ecr:*:123456789012:repository/*")
    assert not repository.fullmatch("arn:aws:ecr:us-east-1:12345:repository/x")
    assert arn_type_problems("w", "kms:Decrypt", ["arn:aws:kms:us-east-1:123456789012:alias/x"])
    assert arn_type_problems("w", "sts:AssumeRole", ["arn:aws:iam::123456789012:user/x"])
    assert not arn_type_problems("w", "sts:AssumeRole", ["arn:aws:iam::123456789012:role/path/x"])


def test_condition_keys_must_be_the_actions_own() -> None:
    via = {"StringEquals": {"kms:ViaService": "ssm.us-east-1.amazonaws.com"}}
    assert condition_key_problems("w", "kms:Encrypt", via) == []
    assert condition_key_problems("w", "kms:Encrypt", {"StringEquals": {"kms:ViaServices": "x"}}) == [
        "w: kms:Encrypt with condition key kms:ViaServices, which the catalogue does not list for it"]
    assert condition_key_problems("w", "ssm:PutParameter", {"StringEquals": {"aws:RequestedRegion": "x"}}) == []
