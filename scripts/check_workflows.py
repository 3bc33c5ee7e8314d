#!/usr/bin/env python3
"""Checks what actionlint does not in the CI workflows: pinning, permissions, credentials.

    check_workflows.py WORKFLOW.yml...

Fails on, and prints, each of these:
  - an action or reusable workflow not pinned to a full commit SHA (a tag or branch can be
    moved to other code), or pinned without a `# vX.Y.Z` comment naming the release that
    commit is (so an update is a reviewable change of both);
  - a workflow without a top-level `permissions` (the repository default may be write-all),
    or one that grants a write scope, `write-all` or `read-all` there: write scopes belong to
    the job that needs them;
  - a job whose permissions include `id-token: write` (it can mint tokens for cloud roles)
    without an `environment` (where reviewers and a tag rule protect it), or together with
    another write scope;
  - an actions/checkout step without `persist-credentials: false` (the token would stay in
    .git/config for every later step).
Local actions (./...) and docker:// images are not checked. Runs in the lint venv (PyYAML).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[^@\s]+)?@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)\s*(?:#\s*(?P<comment>.*))?$")
VERSION_COMMENT = re.compile(r"^v\d+\.\d+\.\d+\S*$")


def uses_problems(name: str, text: str) -> list[str]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        m = USES_LINE.match(line)
        if not m:
            continue
        ref = m.group("ref").strip("'\"")
        if ref.startswith(("./", "docker://")):
            continue
        where = f"{name}:{number}: uses: {ref}"
        if not PINNED.match(ref):
            out.append(f"{where} is not pinned to a full commit SHA")
        elif not VERSION_COMMENT.match((m.group("comment") or "").strip()):
            out.append(f"{where} has no '# vX.Y.Z' comment naming the release of that commit")
    return out


def scopes(permissions: Any) -> dict[str, str] | str:
    return permissions if isinstance(permissions, (dict, str)) else {}


def permission_problems(name: str, doc: dict[str, Any]) -> list[str]:
    out = []
    if "permissions" not in doc:
        out.append(f"{name}: no top-level permissions: every job would get the repository's default token rights")
    top = scopes(doc.get("permissions"))
    if isinstance(top, str):
        out.append(f"{name}: top-level permissions {top!r}: name each scope, none with write")
    else:
        out += [f"{name}: top-level permissions grant {k}: {v}: grant write scopes in the job that needs them"
                for k, v in top.items() if v == "write"]
    for job_id, job in (doc.get("jobs") or {}).items():
        perms = scopes(job.get("permissions", top))
        if isinstance(perms, str):
            out.append(f"{name}: job {job_id}: permissions {perms!r}: name each scope")
            continue
        writes = sorted(k for k, v in perms.items() if v == "write")
        if "id-token" in writes:
            if not job.get("environment"):
                out.append(f"{name}: job {job_id}: id-token: write without an environment (reviewers, a tag rule)")
            if len(writes) > 1:
                out.append(f"{name}: job {job_id}: id-token: write together with {', '.join(w for w in writes if w != 'id-token')}: "
                           "split the job")
        for i, step in enumerate(job.get("steps") or [], 1):
            uses = str(step.get("uses", ""))
            if uses.startswith("actions/checkout@"):
                persist = (step.get("with") or {}).get("persist-credentials")
                if persist not in (False, "false"):
                    out.append(f"{name}: job {job_id}, step {i}: actions/checkout without persist-credentials: false")
    return out


def check(path: Path) -> list[str]:
    text = path.read_text()
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict):
        return [f"{path}: not a workflow"]
    return uses_problems(str(path), text) + permission_problems(str(path), doc)


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: check_workflows.py WORKFLOW.yml...", file=sys.stderr)
        return 2
    problems = [p for path in argv for p in check(Path(path))]
    for p in problems:
        print(f"check_workflows: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"check_workflows: ok, {len(argv)} workflows: actions pinned, permissions per job, no persisted credentials")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
