#!/usr/bin/env python3
"""The templates derived from template.yaml, so they cannot drift from it.

    gen_templates.py             write template-prebuilt.yaml
    gen_templates.py --check     fail if template-prebuilt.yaml is not what this writes
    gen_templates.py --sar ZIP --out FILE
                                 write the template `sam package` + `sam publish` take for
                                 the AWS Serverless Application Repository, its code ZIP

template-prebuilt.yaml deploys a release zip from S3 with no Rust and no `sam build`: the
same parameters, conditions, IAM, alarms and outputs as template.yaml, plus CodeS3Bucket
and CodeS3Key; the function's CodeUri is that S3 object instead of the source tree, and
the build and publishing metadata are dropped. The --sar template keeps the publishing
metadata (README and license paths made relative to FILE), takes its code from ZIP (the
release's arm64 zip, uploaded as is by `sam package`) and allows only Architecture=arm64,
since one application version carries one zip.

Needs ruamel.yaml (the lint venv, tests/requirements/lint.txt): a round trip keeps the
comments and the short-form tags (!Ref, !Sub) that plain YAML loaders reject.
"""

from __future__ import annotations

import argparse
import copy
import io
import os
import sys
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "template.yaml"
PREBUILT = ROOT / "template-prebuilt.yaml"
FUNCTION = "RefresherFunction"
SAR = "AWS::ServerlessRepo::Application"


def yaml() -> YAML:
    y = YAML()
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def ref(name: str) -> TaggedScalar:
    return TaggedScalar(value=name, tag="!Ref")


def flow(*items: str) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def load() -> CommentedMap:
    return yaml().load(SOURCE.read_text())


def function(doc: CommentedMap) -> CommentedMap:
    fn = doc["Resources"][FUNCTION]
    meta = fn["Metadata"]
    if meta.get("BuildMethod") != "rust-cargolambda" or fn["Properties"].get("CodeUri") != ".":
        sys.exit(f"gen_templates: {SOURCE.name}: {FUNCTION} is no longer built from '.' by rust-cargolambda")
    del meta["BuildMethod"]
    return fn


def dump(doc: CommentedMap, header: str) -> str:
    out = io.StringIO()
    yaml().dump(doc, out)
    return header + out.getvalue()


def prebuilt() -> str:
    doc = load()
    doc["Description"] = (
        str(doc["Description"]).rstrip()
        + " This variant deploys a prebuilt release zip from S3: no Rust, no sam build."
    )
    del doc["Metadata"][SAR]
    groups = doc["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    group = CommentedMap([("Label", CommentedMap([("default", "Code (a release zip in S3)")]))])
    group["Label"].fa.set_flow_style()
    group["Parameters"] = flow("CodeS3Bucket", "CodeS3Key")
    groups.insert(0, group)

    params = doc["Parameters"]
    params.insert(0, "CodeS3Bucket", CommentedMap([
        ("Type", "String"),
        ("MinLength", 1),
        ("Description", "S3 bucket, in the stack's region, holding the release zip "
                        "(airflow-ecr-refresher-<version>-<arch>.zip from the project's releases)."),
    ]))
    params.insert(1, "CodeS3Key", CommentedMap([
        ("Type", "String"),
        ("AllowedPattern", r"^.+\.zip$"),
        ("ConstraintDescription", "must be the key of a .zip file"),
        ("Description", "Key of the release zip in CodeS3Bucket; its architecture must be Architecture's."),
    ]))
    params["Architecture"]["Description"] = (
        "Lambda architecture: the one the zip in CodeS3Key was built for (its name ends in it)."
    )

    fn = function(doc)
    fn["Properties"]["CodeUri"] = CommentedMap([("Bucket", ref("CodeS3Bucket")), ("Key", ref("CodeS3Key"))])
    return dump(doc, (
        "# GENERATED from template.yaml by scripts/gen_templates.py: edit template.yaml, then run\n"
        "# `scripts/gen_templates.py` (scripts/lint-template.sh fails when this file is stale).\n"
        "# Deploys a prebuilt release zip from S3, with no Rust: see docs/deploy.md, section 'Deploy without Rust'.\n"
    ))


def sar(zip_path: Path, out: Path) -> str:
    doc = load()
    here = out.resolve().parent
    meta = doc["Metadata"][SAR]
    for key, name in (("ReadmeUrl", meta["ReadmeUrl"]), ("LicenseUrl", meta["LicenseUrl"])):
        meta[key] = os.path.relpath(ROOT / name, here)
    arch = doc["Parameters"]["Architecture"]
    arch["AllowedValues"] = flow("arm64")
    arch["Description"] = "Lambda architecture: arm64, the build this application version carries."
    fn = function(doc)
    fn["Properties"]["CodeUri"] = os.path.relpath(zip_path.resolve(), here)
    return dump(doc, (
        "# GENERATED from template.yaml by scripts/gen_templates.py --sar, for sam package and\n"
        "# sam publish: the code is the release's arm64 zip, uploaded as it is.\n"
    ))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="fail if template-prebuilt.yaml is stale")
    ap.add_argument("--sar", type=Path, metavar="ZIP", help="write the publishing template, code ZIP")
    ap.add_argument("--out", type=Path, metavar="FILE", help="where --sar writes")
    args = ap.parse_args()
    if args.sar:
        if not args.out:
            ap.error("--sar needs --out")
        args.out.write_text(sar(args.sar, args.out))
        print(f"gen_templates: wrote {args.out} (code {args.sar})")
        return 0
    text = prebuilt()
    if args.check:
        if not PREBUILT.exists() or PREBUILT.read_text() != text:
            print(f"gen_templates: {PREBUILT.name} is stale: run scripts/gen_templates.py", file=sys.stderr)
            return 1
        print(f"gen_templates: {PREBUILT.name} is what {SOURCE.name} generates")
        return 0
    PREBUILT.write_text(text)
    print(f"gen_templates: wrote {PREBUILT.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
