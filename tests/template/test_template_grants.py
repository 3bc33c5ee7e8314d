"""Checks of what template.yaml grants: the secret and parameter names Airflow's backends read,
for every prefix and separator it accepts, only the chosen store, in the secrets' region,
or through the backend's role instead."""

from __future__ import annotations

import copy
import fnmatch
import re

import pytest

from check_iam import ROOT
from iam_grants import as_list, collect_grants, resource_text, via_service
from iam_render import Rendering
from template_rendering import DEPLOYED, DOC, KEY, PARAMETER_STORE, PARAMS, ROLE, SECRETS_MANAGER, allowed, rendered, statements

# ConnectionsPrefix values to try, and those the template accepts (both spellings of a
# Parameter Store prefix among them).
PREFIXES = ["airflow/connections", "/airflow/connections", "airflow", "a", "team.x/airflow_conns",
            "airflow/connections/", "x-", "/", "", "//airflow", "airflow//connections", "/airflow/"]
ACCEPTED_PREFIXES = {"airflow/connections", "/airflow/connections", "airflow", "a", "team.x/airflow_conns"}


# --------------------------------------------------------------------------- secret names


def airflow_secret_name(prefix: str, sep: str, conn_id: str) -> str:
    """As Airflow's SecretsManagerBackend (and crates/core/src/target.rs) build it; Python's rstrip takes
    a set of characters."""
    return prefix.rstrip(sep) + sep + conn_id


def airflow_parameter_name(prefix: str, conn_id: str) -> str:
    """As Airflow's SystemsManagerParameterStoreBackend builds it: the prefix without trailing
    "/", "/" + conn_id, and a leading "/" if missing."""
    path = prefix.rstrip("/") + "/" + conn_id
    return path if path.startswith("/") else "/" + path


def resource_of(action: str, **values: str) -> str:
    (resource,) = {r for st in statements(rendered(**values)).values()
                   if action in as_list(st["Action"]) for r in as_list(st["Resource"])}
    return resource


# The template without the patterns of the prefix and separator: what it would grant for
# values it refuses.
UNCHECKED = copy.deepcopy(DEPLOYED)
for _name in ("ConnectionsPrefix", "ConnectionsSeparator"):
    del UNCHECKED["Parameters"][_name]["AllowedPattern"]


def render(prefix: str, sep: str) -> str:
    """The secrets granted, also for values the template refuses (what it would grant)."""
    r = Rendering(UNCHECKED, {"ConnectionsPrefix": prefix, "ConnectionsSeparator": sep})
    (resource,) = {st["Resource"] for st in statements(r).values()
                   if "secretsmanager:PutSecretValue" in as_list(st["Action"])}
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
    cited = re.search(r"(docs/[\w-]+\.md), section '([^']+)'", " ".join(constraint.split()))
    assert cited and cited.group(2) == "Without a prefix", constraint
    page = (ROOT / cited.group(1)).read_text()
    assert f"\n## {cited.group(2)}\n" in page
    # ...and that section tells how, for an empty prefix.
    body = page.split(f"\n## {cited.group(2)}\n", 1)[1].split("\n## ", 1)[0]
    assert "empty `ConnectionsPrefix`" in body


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
    assert not {a for st in ssm.values() for a in as_list(st["Action"]) if a.startswith("secretsmanager:")}
    assert {a for st in ssm.values() for a in as_list(st["Action"]) if a.startswith("kms:")} == {
        "kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"}
    sm = statements(rendered(KmsKeyArn=KEY))
    assert not {a for st in sm.values() for a in as_list(st["Action"]) if a.startswith("ssm:")}
    assert {a for st in sm.values() for a in as_list(st["Action"]) if a.startswith("kms:")} == {
        "kms:GenerateDataKey", "kms:Decrypt"}


@pytest.mark.parametrize("backend", [SECRETS_MANAGER, PARAMETER_STORE])
def test_the_backend_role_holds_the_rights_instead(backend: str) -> None:
    granted = statements(rendered(SecretsBackend=backend, SecretsRoleArn=ROLE, KmsKeyArn=KEY, ExtraKmsKeyArns=KEY))
    actions = {a for st in granted.values() for a in as_list(st["Action"])}
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
        services = {a.split(":")[0] for a in as_list(st["Action"])}
        resources = [r for r in as_list(st["Resource"]) if r != "*"]
        if services & {"secretsmanager", "ssm"}:
            assert all(r.split(":")[3] == "eu-west-1" for r in resources), (sid, resources)
            checked += len(resources)
        elif services == {"kms"}:
            assert st["Condition"] == {"StringEquals": {"kms:ViaService": f"{store}.eu-west-1.amazonaws.com"}}, sid
            checked += 1
        elif services == {"ecr"}:
            assert all(r.split(":")[3] == "*" for r in resources), sid  # the ECR statements keep theirs
        elif services == {"logs"}:
            # The function's own log group, in the stack's region (cloud-radar names a GetAtt so).
            assert resources == ["RefresherLogGroup.Arn"], sid
    assert checked >= 3
    # Without SecretsRegion: this stack's region.
    granted = statements(rendered(SecretsBackend=backend, KmsKeyArn=KEY))
    assert {st["Condition"]["StringEquals"]["kms:ViaService"] for st in granted.values()
            if "kms:ViaService" in st.get("Condition", {}).get("StringEquals", {})} == {
        f"{store}.us-east-1.amazonaws.com"}


def test_no_secrets_statement_names_the_stacks_region() -> None:
    # Symbolically: each store and KMS statement takes the secrets' region, never ${AWS::Region} itself.
    for g in collect_grants(DOC).grants:
        if g.action.split(":")[0] in ("secretsmanager", "ssm", "kms"):
            texts = [resource_text(r) for r in g.resources]
            if g.condition is not None:
                texts.append(via_service(g.condition) or "")
            assert not any("${AWS::Region}" in x for x in texts), (g.where, g.action, texts)
