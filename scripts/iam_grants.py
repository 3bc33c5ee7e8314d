"""What template.yaml grants, symbolically, for scripts/check_iam.py: every Allow statement of
its IAM roles and policies (both branches of an Fn::If, under that Condition or its
negation), read with cfn-lint's decoder, and each grant's scope checked against SCOPE."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from iam_catalogue import has_resource_types
from iam_needs import SM_KMS, SSM_KMS, UsageError

# The kms:ViaService service of each: the store that uses the key.
KMS_VIA = {SM_KMS: "secretsmanager", SSM_KMS: "ssm"}

# Where an action that has resource types may be granted (by action, else by service):
#   secret     only secrets under ${ConnectionsPrefix}${ConnectionsSeparator}, in the secrets'
#              region (SECRETS_REGION) and this account
#   parameter  only parameters under /${ConnectionsPrefix}/, in the secrets' region and this
#              account (the ARN without the name's leading "/": the scenarios render it; with
#              it too for PARAMETER_ARN_WITH_NAME_SLASH)
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
# Tag on create: PutParameter with Tags is also authorized as AddTagsToResource, and a real
# AccessDenied (pepperize/cdk-ssm-parameters-cross-region#442) shows that check made on
# arn:...:parameter//<name without its leading "/">, an ARN of no documented resource type.
# Exactly these actions may, and must, be granted on that form too (iam_scenarios.py).
PARAMETER_ARN_WITH_NAME_SLASH = ("ssm:AddTagsToResource",)
DOUBLE_SLASH_PARAMETER_RESOURCE = re.compile(PARAMETER_RESOURCE.pattern.replace("parameter/", "parameter//", 1))
# The tag the function writes on what it creates (crates/core/src/store.rs, MANAGED_BY_TAG), the only one
# the tag actions may write: a Condition of exactly MANAGED_BY_CONDITION (both keys are among
# each action's condition keys in the Service Authorization Reference).
MANAGED_BY = ("managed-by", "airflow-ecr-refresher")
TAG_ACTIONS = ("secretsmanager:TagResource", "ssm:AddTagsToResource")
MANAGED_BY_CONDITION = {"StringEquals": {f"aws:RequestTag/{MANAGED_BY[0]}": MANAGED_BY[1]},
                        "ForAllValues:StringEquals": {"aws:TagKeys": [MANAGED_BY[0]]}}


def kms_via_service(store: str) -> str:
    return f"{store}.{SECRETS_REGION}.${{AWS::URLSuffix}}"


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
    out = []
    if g.action in TAG_ACTIONS and g.condition != MANAGED_BY_CONDITION:
        out.append(f"{where} must be limited to the {MANAGED_BY[0]} tag: Condition {json.dumps(MANAGED_BY_CONDITION)}, "
                   f"got {json.dumps(g.condition)}")
    return out + rule_problems(g, rule, texts, where)


def rule_problems(g: Grant, rule: str | None, texts: list[str], where: str) -> list[str]:
    if rule == "secret":
        bad = [t for t in texts if SECRET_RESOURCE not in t or not t.endswith("*") or "${AWS::AccountId}" not in t
               or f":secretsmanager:{SECRETS_REGION}:" not in t]
        return [f"{where} must be scoped to arn:...:secretsmanager:{SECRETS_REGION}:${{AWS::AccountId}}{SECRET_RESOURCE}*, "
                f"got {bad}"] if bad else []
    if rule == "parameter":
        forms = (PARAMETER_RESOURCE, DOUBLE_SLASH_PARAMETER_RESOURCE) if g.action in PARAMETER_ARN_WITH_NAME_SLASH else (
            PARAMETER_RESOURCE,)
        bad = [t for t in texts if not any(f.search(t) for f in forms)]
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
    return [f"{where}: no scope rule for this action; add one to SCOPE in scripts/iam_grants.py"]
