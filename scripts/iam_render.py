"""The template as CloudFormation deploys it with given parameter values, for scripts/check_iam.py
and tests/template: cloud-radar renders it (parameter values checked against AllowedValues and
AllowedPattern, Conditions, Ref, Fn::If/Sub/Join/Split/Select, pseudo parameters), after SAM's
own translator ran the transform (offline) where the tests need what SAM generates. Only the
Rules, which neither evaluates, are evaluated here."""

from __future__ import annotations

import copy
import json
import os
from typing import Any

from cloud_radar.cf.unit import Template, functions

# Where the scenarios deploy: the aws partition, this account and region.
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
          "AWS::URLSuffix": "amazonaws.com"}
# cloud-radar's own AWS::NoValue is "", which would also drop properties that are really empty.
NO_VALUE = "<AWS::NoValue>"


def sam_transformed(template: dict[str, Any], values: dict[str, str] | None = None) -> dict[str, Any]:
    """`template` after the AWS::Serverless-2016-10-31 transform, by SAM's translator: the resources
    SAM generates (the schedule's rule and permission, the EventInvokeConfig) included."""
    from samtranslator.translator.transform import transform  # noqa: PLC0415

    class NoManagedPolicies:  # the template may name none (iam_grants.py): nothing to look up
        def load(self) -> dict[str, str]:
            return {}

    doc = json.loads(json.dumps(template))  # plain dicts, and a copy
    for res in doc["Resources"].values():
        if res.get("Type") == "AWS::Serverless::Function":  # `sam package` would put an S3 location here
            res.setdefault("Properties", {})["CodeUri"] = "s3://bucket/key.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", PSEUDO["AWS::Region"])  # it reads the region, calls nothing
    return transform(doc, values or {}, NoManagedPolicies())


class _NoHooks:
    """cloud-radar 0.17's hook processor prints every template it is given (to stdout, which
    check_iam.py --json owns); no hook is used here."""

    def evaluate_template_hooks(self, template: Any) -> None:
        pass


class Rendering(Template):
    """A template rendered with `values`, in PSEUDO's partition, account and region: transformed,
    or without the Outputs that Ref what the transform makes (cloud-radar stops at such a Ref).
    Raises ValueError for a value the template refuses (AllowedValues, AllowedPattern, lengths,
    an unknown parameter). A required parameter not given is "<Name>": nothing checked uses it
    (Connections; CodeS3Bucket and CodeS3Key of template-prebuilt.yaml)."""

    AccountId = PSEUDO["AWS::AccountId"]
    Partition = PSEUDO["AWS::Partition"]
    URLSuffix = PSEUDO["AWS::URLSuffix"]
    StackName = "airflow-ecr-refresher"
    NoValue = NO_VALUE
    Hooks = _NoHooks()

    def __init__(self, template: dict[str, Any], values: dict[str, str]):
        # Template.render's steps, less its YAML dump and load of the template (a copy), which
        # took 90% of a rendering's time.
        super().__init__({})
        self.template = json.loads(json.dumps(template))
        # Fn::Contains is a Rules function only, which cloud-radar does not list.
        self.allowed_functions = {**self.allowed_functions, "Fn::Contains": lambda _t, v: v[1] in v[0]}
        # A required parameter not given gets a placeholder, checked against nothing.
        specs = self.template.get("Parameters", {})
        required = {n: f"<{n}>" for n, spec in specs.items() if "Default" not in spec and n not in values}
        for n in required:
            specs[n] = {"Type": "String"}
        self.set_parameters({**required, **values})
        self.template.setdefault("Metadata", {})["Cloud-Radar"] = {"Region": PSEUDO["AWS::Region"]}  # where Ref reads it
        for step in (self.render_all_sections, self.remove_conditional_resources, self.remove_novalue_properties):
            self.template = step(self.template)
        # cloud-radar drops AWS::NoValue properties but leaves it in lists (a Statement's !If).
        self.template["Resources"] = _without_no_value(self.template["Resources"])

    def param(self, name: str) -> Any:
        """A parameter's value (a CommaDelimitedList's as a list)."""
        return functions.ref(self, name)

    def condition(self, name: str) -> bool:
        return self.template["Conditions"][name]

    def resources(self) -> dict[str, Any]:
        """Each resource whose Condition holds, rendered."""
        return self.template["Resources"]

    def outputs(self) -> dict[str, Any]:
        return {name: out["Value"] for name, out in self.template.get("Outputs", {}).items()}

    def rule_failures(self) -> list[str]:
        """The AssertDescription of each Rules assertion that fails, as CloudFormation would."""
        def holds(node: Any) -> bool:
            return self.resolve_values(copy.deepcopy(node))

        return [f"{name}: {a.get('AssertDescription', '')}" for name, rule in self.template.get("Rules", {}).items()
                if holds(rule.get("RuleCondition", True)) for a in rule["Assertions"] if not holds(a["Assert"])]


def _without_no_value(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_no_value(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_without_no_value(v) for v in node if v != NO_VALUE]
    return node
