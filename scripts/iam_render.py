"""A CloudFormation renderer for scripts/check_iam.py: the template as deployed with given
parameter values (checked against AllowedValues and AllowedPattern), its Conditions and
Rules evaluated, Ref, Fn::If, Fn::Sub, Fn::Join, Fn::Split, Fn::Select and a log group's
Fn::GetAtt resolved."""

from __future__ import annotations

import re
from typing import Any

NO_VALUE = object()
# Where the scenarios deploy: the aws partition, this account and region.
PSEUDO: dict[str, Any] = {
    "AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "airflow-ecr-refresher", "AWS::NoValue": NO_VALUE,
}
_INTRINSICS = ("Ref", "Fn::If", "Fn::Sub", "Fn::Join", "Fn::Split", "Fn::Select", "Fn::GetAtt")


class RenderError(Exception):
    """The template uses something the renderer cannot evaluate."""


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
