"""Checks of template.yaml itself: partitions, the secret and parameter names it grants, the
secrets' region and role, the function's environment, parameter patterns and rules."""

from __future__ import annotations

import fnmatch
import re
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import check_iam  # noqa: E402

TEMPLATE = ROOT / "template.yaml"
DOC = check_iam.load_template(TEMPLATE)
PARAMS = DOC["Parameters"]
SECRETS_MANAGER = check_iam.SECRETS_MANAGER_BACKEND
PARAMETER_STORE = check_iam.PARAMETER_STORE_BACKEND
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE = "arn:aws:iam::210987654321:role/airflow-secrets"
# ConnectionsPrefix values to try, and those the template accepts (both spellings of a
# Parameter Store prefix among them).
PREFIXES = ["airflow/connections", "/airflow/connections", "airflow", "a", "team.x/airflow_conns",
            "airflow/connections/", "x-", "/", "", "//airflow", "airflow//connections", "/airflow/"]
ACCEPTED_PREFIXES = {"airflow/connections", "/airflow/connections", "airflow", "a", "team.x/airflow_conns"}


# --------------------------------------------------------------------------- partitions

# An ARN whose partition is not ${AWS::Partition}, and any AWS DNS suffix written out.
HARD_CODED_ARN = re.compile(r"\barn:(?!\$\{AWS::Partition\}:)")
HARD_CODED_HOST = re.compile(r"amazonaws\.com(\.cn)?|amazonaws\.cn|\.on\.aws\b")


def strings(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from strings(v, (*path, str(k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from strings(v, (*path, str(i)))


def exempt(path: tuple[str, ...]) -> bool:
    # Parameter texts are for people (examples) or validate what they type (patterns accept
    # every partition). A service principal is a name, not a host: lambda.amazonaws.com in
    # every partition (SAM writes the same for the roles it generates).
    if path[:1] == ("Parameters",) and path[-1] in ("Description", "ConstraintDescription", "AllowedPattern"):
        return True
    return "Principal" in path and "Service" in path


def hard_coded(doc: dict[str, Any]) -> list[str]:
    found = []
    for path, text in strings(doc):
        if exempt(path):
            continue
        for rx in (HARD_CODED_ARN, HARD_CODED_HOST):
            if rx.search(text):
                found.append(f"{'/'.join(path)}: {text!r}")
    return found


def test_no_hard_coded_partition_or_dns_suffix() -> None:
    """Every ARN uses ${AWS::Partition} and every AWS host ${AWS::URLSuffix}, so the stack
    works in aws-cn and aws-us-gov too."""
    assert hard_coded(DOC) == []


def test_the_partition_check_catches_what_it_must() -> None:
    doc = {
        "Resources": {
            "P": {
                "Properties": {
                    "Condition": {"StringEquals": {"kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}}},
                    "Resource": {"Fn::Sub": "arn:aws:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:x*"},
                    "Ok": {"Fn::Sub": "arn:${AWS::Partition}:ecr:*:${AWS::AccountId}:repository/*"},
                    "AlsoOk": {"Fn::Sub": "secretsmanager.${AWS::Region}.${AWS::URLSuffix}"},
                    "Principal": {"Service": "lambda.amazonaws.com"},
                }
            }
        }
    }
    found = hard_coded(doc)
    assert len(found) == 2 and "kms:ViaService" in found[0] and "arn:aws:" in found[1]


def test_kms_via_service_uses_the_url_suffix() -> None:
    grants = check_iam.collect_grants(DOC).grants
    kms = [g for g in grants if g.action.startswith("kms:")]
    assert kms and {check_iam.via_service(g.condition) for g in kms} == {
        "secretsmanager.<secrets region>.${AWS::URLSuffix}", "ssm.<secrets region>.${AWS::URLSuffix}"}


# --------------------------------------------------------------------------- secret names


def airflow_secret_name(prefix: str, sep: str, conn_id: str) -> str:
    """As Airflow's SecretsManagerBackend (and src/target.rs) build it; Python's rstrip takes
    a set of characters."""
    return prefix.rstrip(sep) + sep + conn_id


def airflow_parameter_name(prefix: str, conn_id: str) -> str:
    """As Airflow's SystemsManagerParameterStoreBackend builds it: the prefix without trailing
    "/", "/" + conn_id, and a leading "/" if missing."""
    path = prefix.rstrip("/") + "/" + conn_id
    return path if path.startswith("/") else "/" + path


def allowed(param: str, value: str) -> bool:
    # CloudFormation's AllowedPattern must match the whole value.
    return re.fullmatch(PARAMS[param]["AllowedPattern"], value) is not None


def rendered(**values: str) -> check_iam.Rendering:
    r = check_iam.Rendering(DOC, values)
    assert r.problems == [], r.problems
    return r


def statements(r: check_iam.Rendering) -> dict[str, dict[str, Any]]:
    """Every IAM statement the rendering grants, by Sid."""
    out = {}
    for res in r.resources().values():
        props = res["Properties"]
        docs = [p["PolicyDocument"] for p in props.get("Policies", [])] + (
            [props["PolicyDocument"]] if "PolicyDocument" in props else [])
        for doc in docs:
            for st in doc["Statement"]:
                if "Sid" in st:
                    out[st["Sid"]] = st
    return out


def resource_of(action: str, **values: str) -> str:
    (resource,) = {r for st in statements(rendered(**values)).values()
                   if action in check_iam.as_list(st["Action"]) for r in check_iam.as_list(st["Resource"])}
    return resource


def render(prefix: str, sep: str) -> str:
    """The secrets granted, also for values the template refuses (what it would grant)."""
    r = check_iam.Rendering(DOC, {"ConnectionsPrefix": prefix, "ConnectionsSeparator": sep})
    (resource,) = {st["Resource"] for st in statements(r).values()
                   if "secretsmanager:PutSecretValue" in check_iam.as_list(st["Action"])}
    return resource


def secret_arn(name: str) -> str:
    # Secrets Manager appends a dash and six random characters to a secret's ARN.
    return f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbC123"


def granted(prefix: str, sep: str, name: str) -> bool:
    return fnmatch.fnmatchcase(secret_arn(name), render(prefix, sep))


def test_default_prefix_grants_the_names_airflow_reads() -> None:
    assert PARAMS["ConnectionsPrefix"]["Default"] == "airflow/connections"
    assert render("airflow/connections", "/") == (
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow/connections/*"
    )
    assert granted("airflow/connections", "/", airflow_secret_name("airflow/connections", "/", "docker_ecr"))
    assert not granted("airflow/connections", "/", "airflow/variables/docker_ecr")


def test_prefix_with_its_trailing_separator_is_refused() -> None:
    # It would be granted airflow/connections//*, which no name the code builds matches.
    name = airflow_secret_name("airflow/connections/", "/", "docker_ecr")
    assert name == "airflow/connections/docker_ecr"
    assert not granted("airflow/connections/", "/", name)
    assert not allowed("ConnectionsPrefix", "airflow/connections/")
    assert "trailing separator" in PARAMS["ConnectionsPrefix"]["ConstraintDescription"]
    # The same with another separator.
    assert not allowed("ConnectionsPrefix", "airflow-connections-")


def test_empty_prefix_is_refused() -> None:
    assert not allowed("ConnectionsPrefix", "")
    assert "not empty" in PARAMS["ConnectionsPrefix"]["ConstraintDescription"]


def test_the_refusal_of_an_empty_prefix_points_to_where_to_write_your_own_policy() -> None:
    constraint = PARAMS["ConnectionsPrefix"]["ConstraintDescription"]
    section = re.search(r"README\.md, section '([^']+)'", constraint)
    assert section, constraint
    readme = (ROOT / "README.md").read_text()
    assert f"### {section.group(1)}\n" in readme
    # ...and that section tells how, for an empty prefix.
    body = readme.split(f"### {section.group(1)}\n", 1)[1].split("\n### ", 1)[0]
    assert "'Without a prefix'" in constraint and "\n#### Without a prefix\n" in body
    assert "empty `ConnectionsPrefix`" in body.split("#### Without a prefix\n", 1)[1].split("\n####", 1)[0]


# --------------------------------------------------------------------------- parameter names


def parameter_arn(name: str, region: str = "us-east-1") -> str:
    # A parameter's ARN is parameter/ + its name without the leading "/".
    return f"arn:aws:ssm:{region}:123456789012:parameter/" + name.removeprefix("/")


@pytest.mark.parametrize("prefix", sorted(ACCEPTED_PREFIXES))
def test_parameter_store_grants_exactly_the_names_the_backend_reads(prefix: str) -> None:
    resource = resource_of("ssm:PutParameter", SecretsBackend=PARAMETER_STORE, ConnectionsPrefix=prefix)
    assert resource == parameter_arn(airflow_parameter_name(prefix, "*"))
    assert "parameter//" not in resource
    name = airflow_parameter_name(prefix, "docker_ecr")
    assert name.startswith("/") and "//" not in name
    assert fnmatch.fnmatchcase(parameter_arn(name), resource)
    assert not fnmatch.fnmatchcase(parameter_arn("/other/docker_ecr"), resource)
    assert not fnmatch.fnmatchcase(parameter_arn(prefix.strip("/") + "_x/docker_ecr"), resource)


def test_both_spellings_of_the_prefix_grant_the_same_parameters() -> None:
    with_slash = resource_of("ssm:GetParameters", SecretsBackend=PARAMETER_STORE, ConnectionsPrefix="/airflow/connections")
    without = resource_of("ssm:GetParameters", SecretsBackend=PARAMETER_STORE, ConnectionsPrefix="airflow/connections")
    assert with_slash == without == "arn:aws:ssm:us-east-1:123456789012:parameter/airflow/connections/*"
    # The backend's own default is /airflow/connections: the same parameters.
    assert airflow_parameter_name("/airflow/connections", "x") == airflow_parameter_name("airflow/connections", "x")


def test_parameter_store_needs_the_slash_separator() -> None:
    for sep, ok in [("/", True), ("-", False), ("//", False)]:
        failures = rendered(SecretsBackend=PARAMETER_STORE, ConnectionsSeparator=sep).rule_failures()
        assert (failures == []) is ok, (sep, failures)
    assert rendered(ConnectionsSeparator="-").rule_failures() == []


def test_the_name_pattern_output_names_what_airflow_reads() -> None:
    for prefix in ("airflow/connections", "/airflow/connections"):
        outputs = rendered(SecretsBackend=PARAMETER_STORE, ConnectionsPrefix=prefix).outputs()
        assert outputs["SecretNamePattern"] == "/airflow/connections/<conn_id>"
    assert rendered(ConnectionsSeparator="_").outputs()["SecretNamePattern"] == "airflow/connections_<conn_id>"
    assert rendered().outputs()["SecretsRegion"] == "us-east-1"
    assert rendered(SecretsRegion="eu-west-1").outputs()["SecretsRegion"] == "eu-west-1"


# --------------------------------------------------------------------------- which store, region, role


def test_only_the_chosen_store_is_granted() -> None:
    sm = statements(rendered())
    assert {"SecretsBatchRead", "ConnectionSecrets"} <= set(sm) and "ConnectionParameters" not in sm
    ssm = statements(rendered(SecretsBackend=PARAMETER_STORE, KmsKeyArn=KEY))
    assert "ConnectionParameters" in ssm
    assert not {a for st in ssm.values() for a in check_iam.as_list(st["Action"]) if a.startswith("secretsmanager:")}
    assert {a for st in ssm.values() for a in check_iam.as_list(st["Action"]) if a.startswith("kms:")} == {
        "kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"}
    sm = statements(rendered(KmsKeyArn=KEY))
    assert not {a for st in sm.values() for a in check_iam.as_list(st["Action"]) if a.startswith("ssm:")}
    assert {a for st in sm.values() for a in check_iam.as_list(st["Action"]) if a.startswith("kms:")} == {
        "kms:GenerateDataKey", "kms:Decrypt"}


@pytest.mark.parametrize("backend", [SECRETS_MANAGER, PARAMETER_STORE])
def test_the_backend_role_holds_the_rights_instead(backend: str) -> None:
    granted = statements(rendered(SecretsBackend=backend, SecretsRoleArn=ROLE, KmsKeyArn=KEY, ExtraKmsKeyArns=KEY))
    actions = {a for st in granted.values() for a in check_iam.as_list(st["Action"])}
    assert not {a for a in actions if a.split(":")[0] in ("secretsmanager", "ssm", "kms")}
    assert granted["AssumeSecretsRole"]["Action"] == "sts:AssumeRole"
    assert granted["AssumeSecretsRole"]["Resource"] == ROLE
    assert "AssumePullRoles" not in granted
    assert "AssumeSecretsRole" not in statements(rendered(SecretsBackend=backend))


@pytest.mark.parametrize("backend", [SECRETS_MANAGER, PARAMETER_STORE])
def test_the_secrets_region_reaches_every_secrets_arn_and_kms_condition(backend: str) -> None:
    granted = statements(rendered(SecretsBackend=backend, SecretsRegion="eu-west-1", KmsKeyArn=KEY, ExtraKmsKeyArns=KEY))
    store = "ssm" if backend == PARAMETER_STORE else "secretsmanager"
    checked = 0
    for sid, st in granted.items():
        services = {a.split(":")[0] for a in check_iam.as_list(st["Action"])}
        resources = [r for r in check_iam.as_list(st["Resource"]) if r != "*"]
        if services & {"secretsmanager", "ssm"}:
            assert all(r.split(":")[3] == "eu-west-1" for r in resources), (sid, resources)
            checked += len(resources)
        elif services == {"kms"}:
            assert st["Condition"] == {"StringEquals": {"kms:ViaService": f"{store}.eu-west-1.amazonaws.com"}}, sid
            checked += 1
        elif services == {"ecr"}:
            assert all(r.split(":")[3] == "*" for r in resources), sid  # the ECR statements keep theirs
        elif services == {"logs"}:
            assert all(r.split(":")[3] == "us-east-1" for r in resources), sid
    assert checked >= 3
    # Without SecretsRegion: this stack's region.
    granted = statements(rendered(SecretsBackend=backend, KmsKeyArn=KEY))
    assert {st["Condition"]["StringEquals"]["kms:ViaService"] for st in granted.values() if "Condition" in st} == {
        f"{store}.us-east-1.amazonaws.com"}


def test_no_secrets_statement_names_the_stacks_region() -> None:
    # Symbolically: each store and KMS statement takes the secrets' region, never ${AWS::Region} itself.
    for g in check_iam.collect_grants(DOC).grants:
        if g.action.split(":")[0] in ("secretsmanager", "ssm", "kms"):
            texts = [check_iam.resource_text(r) for r in g.resources]
            if g.condition is not None:
                texts.append(check_iam.via_service(g.condition) or "")
            assert not any("${AWS::Region}" in x for x in texts), (g.where, g.action, texts)


# --------------------------------------------------------------------------- the function's environment


def environment(**values: str) -> dict[str, str]:
    return rendered(**values).resources()["RefresherFunction"]["Properties"]["Environment"]["Variables"]


def test_environment_by_default() -> None:
    env = environment(Connections="docker_ecr")
    assert env == {
        "CONNECTIONS": "docker_ecr",
        "AIRFLOW__SECRETS__BACKEND": SECRETS_MANAGER,
        "CONNECTIONS_PREFIX": "airflow/connections",
        "CONNECTIONS_SEP": "/",
        "SECRETS_REGION": "us-east-1",  # always set: the function's own region
        "SECRET_FORMAT": "json",
    }


def test_environment_carries_the_backend_settings() -> None:
    kwargs = '{"connections_prefix": "/airflow/connections", "region_name": "eu-west-1", "role_arn": "' + ROLE + '"}'
    env = environment(Connections="docker_ecr", SecretsBackend=PARAMETER_STORE, SecretsBackendKwargs=kwargs,
                      ConnectionsPrefix="/airflow/connections", SecretsRegion="eu-west-1", SecretsRoleArn=ROLE,
                      KmsKeyArn=KEY)
    assert env == {
        "CONNECTIONS": "docker_ecr",
        "AIRFLOW__SECRETS__BACKEND": PARAMETER_STORE,
        "AIRFLOW__SECRETS__BACKEND_KWARGS": kwargs,
        "CONNECTIONS_PREFIX": "/airflow/connections",
        "CONNECTIONS_SEP": "/",
        "SECRETS_REGION": "eu-west-1",
        "SECRETS_ROLE_ARN": ROLE,
        "SECRET_FORMAT": "json",
        "KMS_KEY_ID": KEY,
    }


def test_backend_parameters_describe_how_they_are_checked() -> None:
    assert PARAMS["SecretsBackend"]["AllowedValues"] == [SECRETS_MANAGER, PARAMETER_STORE]
    assert PARAMS["SecretsBackend"]["Default"] == SECRETS_MANAGER
    for name in ("SecretsBackendKwargs", "SecretsRegion", "SecretsRoleArn"):
        assert PARAMS[name]["Type"] == "String" and PARAMS[name]["Default"] == "", name
    kwargs = PARAMS["SecretsBackendKwargs"]["Description"]
    for word in ("ConnectionsPrefix", "ConnectionsSeparator", "SecretsRegion", "SecretsRoleArn", "refuses"):
        assert word in kwargs, word
    groups = DOC["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [p for g in groups for p in g["Parameters"]]
    assert sorted(grouped) == sorted(PARAMS) and len(grouped) == len(set(grouped))


def test_every_accepted_prefix_and_separator_grant_exactly_the_names_the_code_builds() -> None:
    seps = ["/", "-", "_", "--", "x", "", "/x"]
    accepted = [
        (prefix, sep)
        for prefix in PREFIXES
        for sep in seps
        if allowed("ConnectionsPrefix", prefix) and allowed("ConnectionsSeparator", sep)
    ]
    assert {p for p, _ in accepted} == ACCEPTED_PREFIXES
    assert {s for _, s in accepted} == {"/", "-", "_", "--"}
    for prefix, sep in accepted:
        name = airflow_secret_name(prefix, sep, "docker_ecr")
        assert name == prefix + sep + "docker_ecr"
        assert granted(prefix, sep, name), (prefix, sep)


def test_separators_are_punctuation_only() -> None:
    # So a prefix ending with a letter or digit is never stripped by rstrip(sep).
    for sep in ["/", "_", "-", ".", "@", "+", "=", "//"]:
        assert allowed("ConnectionsSeparator", sep), sep
    for sep in ["", "x", "/x", "1", " "]:
        assert not allowed("ConnectionsSeparator", sep), sep


# --------------------------------------------------------------------------- other parameters


@pytest.mark.parametrize(
    ("param", "value", "ok"),
    [
        ("PullRepositoryArns", "", True),
        ("PullRepositoryArns", "arn:aws:ecr:us-east-1:123456789012:repository/team/*", True),
        ("PullRepositoryArns", "arn:aws-cn:ecr:cn-north-1:123456789012:repository/ecr-public/nginx", True),
        ("PullRepositoryArns", "arn:aws:ecr:*:123456789012:repository/*", True),
        ("PullRepositoryArns", "*", False),
        ("PullRepositoryArns", "arn:aws:s3:::bucket/*", False),
        ("PullRoleArns", "", True),
        ("PullRoleArns", "arn:aws:iam::210987654321:role/ecr-pull", True),
        ("PullRoleArns", "arn:aws:iam::210987654321:role/*", False),
        ("PullRoleArns", "*", False),
        ("ExtraKmsKeyArns", "", True),
        ("ExtraKmsKeyArns", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", True),
        ("ExtraKmsKeyArns", "arn:aws:kms:us-east-1:123456789012:alias/aws/secretsmanager", False),
    ],
)
def test_list_parameters_accept_arns_only(param: str, value: str, ok: bool) -> None:
    assert PARAMS[param]["Type"] == "CommaDelimitedList"
    assert PARAMS[param]["Default"] == ""
    assert allowed(param, value) is ok


@pytest.mark.parametrize(
    ("param", "value", "ok"),
    [
        ("SecretsRegion", "", True),
        ("SecretsRegion", "eu-west-1", True),
        ("SecretsRegion", "us-gov-west-1", True),
        ("SecretsRegion", "cn-north-1", True),
        ("SecretsRegion", "eusc-de-east-1", True),
        ("SecretsRegion", "us-isob-east-1", True),
        ("SecretsRegion", "EU-WEST-1", False),
        ("SecretsRegion", "eu-west", False),
        ("SecretsRegion", "nowhere", False),
        ("SecretsRegion", "*", False),
        ("SecretsRoleArn", "", True),
        ("SecretsRoleArn", ROLE, True),
        ("SecretsRoleArn", "arn:aws-us-gov:iam::123456789012:role/path/to/airflow,secrets", True),
        ("SecretsRoleArn", "arn:aws:iam::123456789012:role/*", False),
        ("SecretsRoleArn", "arn:aws:iam::123456789012:user/airflow", False),
        ("SecretsRoleArn", "*", False),
        ("SecretsBackendKwargs", "", True),
        ("SecretsBackendKwargs", "{}", True),
        ("SecretsBackendKwargs", '{"connections_prefix": "airflow/connections", "sep": "/"}', True),
        ("SecretsBackendKwargs", ' {\n  "region_name": "eu-west-1"\n} ', True),
        ("SecretsBackendKwargs", "connections_prefix=airflow/connections", False),
        ("SecretsBackendKwargs", '["airflow"]', False),
    ],
)
def test_backend_parameters_accept(param: str, value: str, ok: bool) -> None:
    assert allowed(param, value) is ok


def test_pull_through_cache_is_off_by_default() -> None:
    assert PARAMS["PullThroughCache"]["Default"] == "false"
    assert "<rule prefix>/" in PARAMS["PullThroughCache"]["Description"]


def test_stale_alarm_fires_after_one_missed_run_before_tokens_expire() -> None:
    # rate(6 hours) + 1 hour of margin; ECR tokens last 12 hours.
    assert PARAMS["ScheduleExpression"]["Default"] == "rate(6 hours)"
    assert PARAMS["StaleAfterHours"]["Default"] == 7
    assert "7 for rate(6 hours)" in PARAMS["StaleAfterHours"]["Description"]
