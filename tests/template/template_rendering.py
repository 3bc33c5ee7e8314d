"""What the checks of template.yaml share: the template as read, its parameters, renderings of it
for given parameter values (scripts/iam_render.py: cloud-radar after SAM's transform) with the
statements they grant, and the template after the SAM transform."""

from __future__ import annotations

import functools
import re
from typing import Any

from check_iam import ROOT
from iam_grants import load_template
from iam_render import Rendering
from iam_render import sam_transformed as transformed
# The SecretsBackend parameter's two values, by the short names the tests use.
from iam_scenarios import PARAMETER_STORE_BACKEND as PARAMETER_STORE
from iam_scenarios import SECRETS_MANAGER_BACKEND as SECRETS_MANAGER

TEMPLATE = ROOT / "template.yaml"
DOC = load_template(TEMPLATE)
DEPLOYED = transformed(DOC)
PARAMS = DOC["Parameters"]
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE = "arn:aws:iam::210987654321:role/airflow-secrets"


def allowed(param: str, value: str) -> bool:
    # CloudFormation's AllowedPattern must match the whole value.
    return re.fullmatch(PARAMS[param]["AllowedPattern"], value) is not None


@functools.lru_cache(maxsize=None)  # a rendering takes ~0.1 s, and the tests only read it
def _rendered(values: frozenset[tuple[str, str]]) -> Rendering:
    return Rendering(DEPLOYED, dict(values))


def rendered(**values: str) -> Rendering:
    return _rendered(frozenset(values.items()))


def statements(r: Rendering) -> dict[str, dict[str, Any]]:
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


def sam_transformed(**values: str) -> dict[str, Any]:
    """template.yaml as CloudFormation gets it after the SAM transform (AWS::Serverless-2016-10-31)."""
    return transformed(DOC, {"Connections": "docker_ecr", **values})
