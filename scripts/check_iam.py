#!/usr/bin/env python3
"""Checks that template.yaml grants exactly the IAM actions the Rust code needs.

    scripts/check_iam.py [--template template.yaml] [--src src] [--json]

1. Finds every AWS SDK operation the code calls: fluent calls such as
   `client.put_secret_value()` in src/**/*.rs (comments and string literals are
   ignored), matched against the operation names of the ECR and Secrets Manager
   APIs, and maps each to its IAM action (`put_secret_value` ->
   `secretsmanager:PutSecretValue`). An operation name both APIs share (such as
   `tag_resource`) is attributed by the receiver or by the SDK crate the file
   uses; when neither tells, the check fails and asks for a `// iam: service:Action`
   comment on that line. `// iam: ignore` on a line skips a call there.
2. Adds what those calls imply (documented "Required permissions"):
   BatchGetSecretValue needs GetSecretValue on each secret; CreateSecret with
   `.tags(...)` needs TagResource; a `.kms_key_id(...)` on a write needs
   kms:GenerateDataKey and kms:Decrypt (granted only when a key is configured);
   and the Lambda runtime itself needs logs:CreateLogStream and logs:PutLogEvents.
   Plus the actions in GRANTED_ON_PURPOSE: granted for someone else's calls (Airflow's
   Docker pulls with the token) or for calls that are no `.send()` in src/ (the AWS config
   loader's STS AssumeRole), each with its reason and the condition it must be under.
3. Reads every Allow statement of the template's IAM roles and policies and fails
   if a needed action is not granted, if an action is granted that nothing needs,
   or if a grant is broader than its scope rule (see SCOPE below): "*" only for
   actions that cannot be scoped, secrets only under the configured prefix, KMS
   only on the given keys, only when some are given and only via Secrets Manager,
   ECR pull rights only on PullRepositoryArns, sts:AssumeRole only on PullRoleArns.
   Managed policies, SAM policy
   templates, wildcard actions and NotAction cannot be checked and so fail too.

Exit status: 0 all good, 1 findings, 2 bad usage or unreadable input.
The operation names come from botocore's service models (installed with
aws-sam-cli in the lint venv) and, when present, from the aws-sdk-* crate
sources that Cargo.lock pins (in $CARGO_HOME/registry/src).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

SERVICES = {"ecr": "aws-sdk-ecr", "secretsmanager": "aws-sdk-secretsmanager"}
# Receiver words (split at `_`, `.`, `::`...) that tell which client a shared operation
# name is called on.
RECEIVER_HINTS = {"ecr": re.compile(r"ecr\w*"), "secretsmanager": re.compile(r"secret\w*|sm")}

RUNTIME_ACTIONS = {
    "logs:CreateLogStream": "the Lambda runtime writes the function's logs",
    "logs:PutLogEvents": "the Lambda runtime writes the function's logs",
}
KMS_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")


@dataclass(frozen=True)
class OnPurpose:
    why: str
    condition: str | None = None  # the template Condition it must be granted under, if any


# Actions granted on purpose although no SDK call in src/ needs them from this role. Each is
# "needed" with its reason, so a missing grant fails like a missing call would, and nothing
# outside this list (or the calls) may be granted.
# A token carries the pull rights of the principal that fetched it (ECR user guide, "Private
# registry authentication"); a Docker pull needs BatchGetImage, GetDownloadUrlForLayer and
# BatchCheckLayerAvailability (AWS managed policy AmazonEC2ContainerRegistryPullOnly). Pulls
# through a pull through cache rule also import the upstream image and, the first time, create
# its repository (ECR user guide, "IAM permissions required to sync an upstream registry with
# an Amazon ECR private registry"). sts:AssumeRole: IAM service authorization reference, "AWS
# Security Token Service", resource type role.
_PULL = "Airflow's Docker pulls with the token (it carries this role's pull rights)"
_CACHE = "Airflow's pulls through a pull through cache rule (PullThroughCache=true)"
GRANTED_ON_PURPOSE = {
    "ecr:BatchGetImage": OnPurpose(_PULL + "; also the function's own pull check"),
    "ecr:GetDownloadUrlForLayer": OnPurpose(_PULL),
    "ecr:BatchCheckLayerAvailability": OnPurpose(_PULL),
    "ecr:BatchImportUpstreamImage": OnPurpose(_CACHE, "UsesPullThroughCache"),
    "ecr:CreateRepository": OnPurpose(_CACHE, "UsesPullThroughCache"),
    "sts:AssumeRole": OnPurpose(
        "the pull role of a connection's pull_role_arn, assumed by aws-config's "
        "AssumeRoleProvider (no `.send()` in src/; PullRoleArns set)",
        "HasPullRoles",
    ),
}

# Scope rule per action: where the template may grant it.
#   "star"       : Resource "*" (the action supports no resource-level permission)
#   "secret"     : only secrets under ${ConnectionsPrefix}${ConnectionsSeparator}
#   "kms"        : only the KmsKeyArn or ExtraKmsKeyArns parameter, only in a conditional
#                  grant, only with kms:ViaService = secretsmanager.${AWS::Region}.${AWS::URLSuffix}
#   "logs"       : only the function's own log group
#   "repository" : only the PullRepositoryArns parameter, or (when it is empty) this
#                  account's repositories: arn:${AWS::Partition}:ecr:*:${AWS::AccountId}:repository/*
#   "pull-role"  : only the PullRoleArns parameter
SCOPE = {
    "ecr:GetAuthorizationToken": "star",
    "secretsmanager:BatchGetSecretValue": "star",
    "kms:GenerateDataKey": "kms",
    "kms:Decrypt": "kms",
    "logs:CreateLogStream": "logs",
    "logs:PutLogEvents": "logs",
    "ecr:BatchGetImage": "repository",
    "ecr:GetDownloadUrlForLayer": "repository",
    "ecr:BatchCheckLayerAvailability": "repository",
    "ecr:BatchImportUpstreamImage": "repository",
    "ecr:CreateRepository": "repository",
    "sts:AssumeRole": "pull-role",
}
KMS_KEY_PARAMETERS = ("KmsKeyArn", "ExtraKmsKeyArns")
KMS_VIA_SERVICE = {"StringEquals": {"kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.${AWS::URLSuffix}"}}}
OWN_REPOSITORIES = "arn:${AWS::Partition}:ecr:*:${AWS::AccountId}:repository/*"
DEFAULT_SCOPE = {"secretsmanager": "secret"}
SECRET_RESOURCE = ":secret:${ConnectionsPrefix}${ConnectionsSeparator}"


class UsageError(Exception):
    pass


# --------------------------------------------------------------------------- operations


def snake(pascal: str) -> str:
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", pascal)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    return s.lower()


def botocore_operations(service: str) -> set[str]:
    try:
        import botocore  # noqa: PLC0415
    except ImportError:
        return set()
    root = Path(botocore.__file__).parent / "data" / service
    models = sorted(root.glob("*/service-2.json*"))
    if not models:
        return set()
    path = models[-1]
    if path.suffix == ".gz":
        import gzip  # noqa: PLC0415

        data = json.loads(gzip.decompress(path.read_bytes()))
    else:
        data = json.loads(path.read_text())
    return set(data["operations"])


def locked_version(cargo_lock: Path, crate: str) -> str | None:
    if not cargo_lock.is_file():
        return None
    m = re.search(
        r'\[\[package\]\]\nname = "' + re.escape(crate) + r'"\nversion = "([^"]+)"',
        cargo_lock.read_text(),
    )
    return m.group(1) if m else None


def crate_operations(cargo_lock: Path, crate: str) -> set[str]:
    version = locked_version(cargo_lock, crate)
    if not version:
        return set()
    home = os.environ.get("CARGO_HOME", str(Path.home() / ".cargo"))
    for d in glob.glob(f"{home}/registry/src/*/{crate}-{version}/src/operation"):
        return {
            "".join(w.capitalize() for w in p.name.split("_"))
            for p in Path(d).iterdir()
            if p.is_dir()
        }
    return set()


def load_operations(cargo_lock: Path) -> tuple[dict[str, dict[str, str]], list[str]]:
    """service -> {snake_name: PascalAction}, plus where the names came from."""
    ops: dict[str, dict[str, str]] = {}
    sources = []
    for service, crate in SERVICES.items():
        from_boto = botocore_operations(service)
        from_crate = crate_operations(cargo_lock, crate)
        if from_boto:
            sources.append(f"botocore model of {service}")
        if from_crate:
            sources.append(f"{crate} {locked_version(cargo_lock, crate)} sources")
        if not (from_boto or from_crate):
            raise UsageError(
                f"no operation list for {service}: neither botocore nor the {crate} crate "
                "sources are available (run inside the lint venv)"
            )
        names = {snake(p): p for p in from_crate}
        names.update({snake(p): p for p in from_boto})  # botocore's casing wins
        ops[service] = names
    return ops, sources


# --------------------------------------------------------------------------- Rust scan


def blank_comments_and_strings(text: str) -> str:
    """Same length and line breaks; comments, strings and char literals become spaces."""
    out = list(text)
    i, n = 0, len(text)

    def blank(a: int, b: int) -> None:
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif (m := re.match(r'(?:b|c)?r(#*)"', text[i:])) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            end = text.find('"' + m.group(1), i + m.end())
            j = n if end < 0 else end + 1 + len(m.group(1))
            blank(i, j)
            i = j
        elif c == '"' or (c in "bc" and text.startswith('"', i + 1) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"))):
            j = i + (1 if c == '"' else 2)
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(i, j + 1)
            i = j + 1
        elif c == "'":
            m = re.match(r"'(\\(u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'])'", text[i:])
            if m:  # a char literal, not a lifetime
                blank(i, i + m.end())
                i += m.end()
            else:
                i += 1
        else:
            i += 1
    return "".join(out)


@dataclass
class Call:
    action: str
    file: str
    line: int
    why: str = "called"


CALL_RE = re.compile(r"\.\s*([a-z_][a-z0-9_]*)\s*\(")
ANNOTATION_RE = re.compile(r"//\s*iam:\s*(ignore|[a-z0-9-]+:[A-Za-z0-9]+)")


def statement_before(code: str, pos: int) -> str:
    start = max(code.rfind(";", 0, pos), code.rfind("{", 0, pos), code.rfind("}", 0, pos))
    return code[start + 1 : pos]


def chain_after(code: str, pos: int) -> str:
    """The builder chain after a call: up to `.send(` or the end of the statement."""
    send = code.find(".send(", pos)
    semi = code.find(";", pos)
    ends = [e for e in (send, semi) if e >= 0]
    return code[pos : min(ends) if ends else len(code)]


def scan_sources(src: Path, ops: dict[str, dict[str, str]]) -> tuple[list[Call], list[str]]:
    calls: list[Call] = []
    problems: list[str] = []
    files = sorted(src.rglob("*.rs"))
    if not files:
        raise UsageError(f"no .rs files under {src}")
    for path in files:
        raw = path.read_text()
        raw_lines = raw.splitlines()
        code = blank_comments_and_strings(raw)
        crates = {s for s, crate in SERVICES.items() if crate.replace("-", "_") in code}
        try:
            rel = str(path.resolve().relative_to(Path.cwd()))
        except ValueError:
            rel = str(path)
        for m in CALL_RE.finditer(code):
            name = m.group(1)
            services = [s for s in ops if name in ops[s]]
            if not services:
                continue
            line = code.count("\n", 0, m.start(1)) + 1
            ann = ANNOTATION_RE.search(raw_lines[line - 1]) if line <= len(raw_lines) else None
            if ann and ann.group(1) == "ignore":
                continue
            if ann:
                calls.append(Call(ann.group(1), rel, line, "annotated"))
                continue
            service = services[0] if len(services) == 1 else None
            if service is None:
                words = re.findall(r"[a-z0-9]+", statement_before(code, m.start()).lower())
                hinted = [
                    s for s in services if any(RECEIVER_HINTS[s].fullmatch(w) for w in words)
                ]
                if len(hinted) == 1:
                    service = hinted[0]
                elif len(crates & set(services)) == 1:
                    service = (crates & set(services)).pop()
                else:
                    problems.append(
                        f"{rel}:{line}: .{name}() exists in {' and '.join(services)}; "
                        f"add `// iam: <service>:{ops[services[0]][name]}` on that line"
                    )
                    continue
            action = f"{service}:{ops[service][name]}"
            calls.append(Call(action, rel, line))
            chain = chain_after(code, m.end())
            if action == "secretsmanager:BatchGetSecretValue":
                calls.append(Call("secretsmanager:GetSecretValue", rel, line, "implied by BatchGetSecretValue (per secret)"))
            if action == "secretsmanager:CreateSecret" and re.search(r"\.\s*(set_)?tags\s*\(", chain):
                calls.append(Call("secretsmanager:TagResource", rel, line, "implied by CreateSecret with Tags"))
            if service == "secretsmanager" and re.search(r"\.\s*(set_)?kms_key_id\s*\(", chain):
                for kms in KMS_ACTIONS:
                    calls.append(Call(kms, rel, line, f"implied by {ops[service][name]} with KmsKeyId"))
    return calls, problems


# --------------------------------------------------------------------------- template


class CfnLoader(yaml.SafeLoader):
    pass


def _cfn_tag(loader: CfnLoader, suffix: str, node: yaml.Node) -> Any:
    fn = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if fn == "Fn::GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {fn: value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.load(path.read_text(), Loader=CfnLoader)  # noqa: S506 (SafeLoader subclass)
    except (OSError, yaml.YAMLError) as e:
        raise UsageError(f"cannot read {path}: {e}") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("Resources"), dict):
        raise UsageError(f"{path} has no Resources")
    return doc


@dataclass
class Grant:
    action: str
    resources: list[Any]
    where: str
    conditional: bool
    conditions: list[str] = field(default_factory=list)  # template Conditions it is under
    condition: Any = None  # the statement's IAM Condition block


@dataclass
class TemplateGrants:
    grants: list[Grant] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def statements(doc: Any) -> Iterable[tuple[Any, list[str]]]:
    """(statement, conditions) pairs; both branches of an Fn::If count, as conditional on
    that Fn::If's condition (negated or not: either way it is granted only sometimes)."""
    for st in as_list(doc.get("Statement", []) if isinstance(doc, dict) else []):
        if isinstance(st, dict) and set(st) == {"Fn::If"}:
            cond = str(st["Fn::If"][0])
            for branch in st["Fn::If"][1:]:
                if isinstance(branch, dict) and branch != {"Ref": "AWS::NoValue"}:
                    yield branch, [cond]
        else:
            yield st, []


def collect_grants(template: dict[str, Any]) -> TemplateGrants:
    out = TemplateGrants()
    for logical_id, res in template["Resources"].items():
        rtype = res.get("Type", "")
        props = res.get("Properties", {}) or {}
        res_conditions = [res["Condition"]] if "Condition" in res else []
        docs: list[tuple[str, Any]] = []
        if rtype == "AWS::IAM::Role":
            for p in props.get("Policies", []) or []:
                docs.append((f"{logical_id}/{p.get('PolicyName')}", p.get("PolicyDocument")))
            for arn in props.get("ManagedPolicyArns", []) or []:
                out.problems.append(f"{logical_id}: managed policy {arn!r} cannot be checked; write its statements inline")
        elif rtype in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            docs.append((logical_id, props.get("PolicyDocument")))
        elif rtype == "AWS::Serverless::Function":
            for p in as_list(props.get("Policies", [])):
                if isinstance(p, dict) and "Statement" in p:
                    docs.append((f"{logical_id}/Policies", p))
                elif p:
                    out.problems.append(f"{logical_id}: policy {p!r} (managed policy or SAM policy template) cannot be checked; use inline statements")
            if "Role" not in props:
                out.problems.append(f"{logical_id}: no Role, so SAM generates one with AWSLambdaBasicExecutionRole, which cannot be checked")
        for where, doc in docs:
            for st, st_conditions in statements(doc):
                if st.get("Effect") != "Allow":
                    continue
                if "NotAction" in st or "NotResource" in st:
                    out.problems.append(f"{where}: NotAction/NotResource cannot be checked")
                    continue
                for action in as_list(st.get("Action", [])):
                    if not isinstance(action, str):
                        out.problems.append(f"{where}: non-literal action {action!r}")
                        continue
                    if "*" in action or "?" in action:
                        out.problems.append(f"{where}: wildcard action {action!r} grants more than the code calls")
                        continue
                    conditions = res_conditions + st_conditions
                    out.grants.append(
                        Grant(
                            action,
                            as_list(st.get("Resource", [])),
                            where,
                            bool(conditions),
                            conditions,
                            st.get("Condition"),
                        )
                    )
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


def scope_problems(g: Grant) -> list[str]:
    service = g.action.split(":", 1)[0]
    rule = SCOPE.get(g.action, DEFAULT_SCOPE.get(service))
    texts = [resource_text(r) for r in g.resources]
    where = f"{g.where}: {g.action}"
    if not texts:
        return [f"{where} has no Resource"]
    if rule == "star":
        return [] if texts == ["*"] else [f"{where} should be on \"*\" only (it has no resource-level permissions), got {texts}"]
    if "*" in texts:
        return [f"{where} is granted on \"*\"; it must be scoped ({rule})"]
    if rule == "secret":
        bad = [t for t in texts if SECRET_RESOURCE not in t or not t.endswith("*") or "${AWS::AccountId}" not in t or "${AWS::Region}" not in t]
        return [f"{where} must be scoped to arn:...:${{AWS::Region}}:${{AWS::AccountId}}{SECRET_RESOURCE}*, got {bad}"] if bad else []
    if rule == "kms":
        out = []
        if len(g.resources) != 1 or g.resources[0] not in [{"Ref": p} for p in KMS_KEY_PARAMETERS]:
            out.append(f"{where} must be on the KmsKeyArn or the ExtraKmsKeyArns parameter only, got {texts}")
        if not g.conditional:
            out.append(f"{where} must be granted only when a key is given (a Condition on the resource or an Fn::If)")
        if g.condition != KMS_VIA_SERVICE:
            out.append(
                f"{where} must be granted only via Secrets Manager: Condition {json.dumps(KMS_VIA_SERVICE)}, "
                f"got {json.dumps(g.condition)}"
            )
        return out
    if rule == "repository":
        if len(g.resources) == 1 and own_or_listed_repositories(g.resources[0]):
            return []
        return [
            f"{where} must be on the PullRepositoryArns parameter (or, when it is empty, "
            f"{OWN_REPOSITORIES}) only, got {texts}"
        ]
    if rule == "pull-role":
        if g.resources == [{"Ref": "PullRoleArns"}]:
            return []
        return [f"{where} must be on the PullRoleArns parameter only, got {texts}"]
    if rule == "logs":
        ok = all("LogGroup" in t for t in texts)
        return [] if ok else [f"{where} must be on the function's log group only, got {texts}"]
    return [f"{where}: no scope rule for this action; add one to SCOPE in scripts/check_iam.py"]


# --------------------------------------------------------------------------- main


@dataclass
class Report:
    needed: dict[str, list[str]]
    granted: dict[str, list[str]]
    missing: list[str]
    extra: list[str]
    problems: list[str]
    sources: list[str]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.problems)


def check(template_path: Path, src: Path, cargo_lock: Path) -> Report:
    ops, sources = load_operations(cargo_lock)
    calls, problems = scan_sources(src, ops)
    if not any(c.why == "called" or c.why == "annotated" for c in calls) and not problems:
        problems.append(f"found no AWS SDK operation called in {src}; nothing to check the template against")
    needed: dict[str, list[str]] = {}
    for c in calls:
        needed.setdefault(c.action, []).append(f"{c.file}:{c.line} ({c.why})")
    for action, why in RUNTIME_ACTIONS.items():
        needed.setdefault(action, []).append(why)

    tg = collect_grants(load_template(template_path))
    for action, purpose in GRANTED_ON_PURPOSE.items():
        when = f" (only if {purpose.condition})" if purpose.condition else ""
        needed.setdefault(action, []).append(f"granted on purpose{when}: {purpose.why}")
    problems.extend(tg.problems)
    granted: dict[str, list[str]] = {}
    for g in tg.grants:
        granted.setdefault(g.action, []).append(g.where + (" (conditional)" if g.conditional else ""))
        problems.extend(scope_problems(g))
        purpose = GRANTED_ON_PURPOSE.get(g.action)
        if purpose and purpose.condition and purpose.condition not in g.conditions:
            problems.append(
                f"{g.where}: {g.action} must be granted only under the {purpose.condition} condition, "
                f"got {g.conditions or 'no condition'}"
            )
    missing = sorted(set(needed) - set(granted))
    extra = sorted(set(granted) - set(needed))
    return Report(needed, granted, missing, extra, problems, sources)


def main(argv: list[str] | None = None) -> int:
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--template", type=Path, default=root / "template.yaml")
    ap.add_argument("--src", type=Path, default=root / "src")
    ap.add_argument("--cargo-lock", type=Path, default=root / "Cargo.lock")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    args = ap.parse_args(argv)
    try:
        report = check(args.template, args.src, args.cargo_lock)
    except UsageError as e:
        print(f"check_iam: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.__dict__ | {"ok": report.ok}, indent=2))
        return 0 if report.ok else 1
    print(f"check_iam: operation names from {', '.join(report.sources)}")
    for action in sorted(report.needed):
        mark = "ok     " if action in report.granted else "MISSING"
        print(f"  {mark} {action:40} needed by {'; '.join(report.needed[action])}")
    for action in report.extra:
        print(f"  EXTRA   {action:40} granted in {'; '.join(report.granted[action])}, but nothing needs it")
    for p in report.problems:
        print(f"  PROBLEM {p}")
    if report.ok:
        print(f"check_iam: OK, {len(report.needed)} actions needed, all granted, nothing more")
        return 0
    print(
        f"check_iam: FAILED ({len(report.missing)} missing, {len(report.extra)} extra, "
        f"{len(report.problems)} other problems)"
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
