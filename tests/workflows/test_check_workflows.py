"""Self-test of scripts/check_workflows.py: the repository's workflows pass, and it catches an
unpinned action, write rights outside the job that needs them, an OIDC token outside a
protected environment, and persisted checkout credentials."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from check_workflows import check, main

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
SHA = "fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09"
GOOD = f"""name: good
on: push
permissions: {{}}
jobs:
  build:
    runs-on: ubuntu-24.04
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@{SHA} # v5.1.0
        with:
          persist-credentials: false
      - uses: ./.github/actions/local
  publish:
    runs-on: ubuntu-24.04
    environment: publish
    permissions:
      contents: read
      id-token: write
    steps:
      - uses: aws-actions/configure-aws-credentials@e6de054238d6b7531b4efff3b6587d9aade6a06c # v6.2.3
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "workflow.yml"
    path.write_text(text)
    return check(path)


def test_the_repositorys_workflows_pass() -> None:
    assert WORKFLOWS
    for path in WORKFLOWS:
        assert check(path) == [], path
    assert main([str(p) for p in WORKFLOWS]) == 0


def test_the_release_workflow_splits_its_rights() -> None:
    doc = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    assert doc["permissions"] == {}
    jobs = doc["jobs"]
    assert jobs["build"]["permissions"] == {"contents": "read"}
    assert jobs["release"]["permissions"] == {"contents": "write"}
    assert jobs["publish"]["permissions"] == {"contents": "read", "id-token": "write"}
    assert jobs["publish"]["environment"] == "sar-publish"
    assert jobs["release"]["needs"] == "build" and set(jobs["publish"]["needs"]) == {"build", "release"}
    # The later jobs take the build's files, and build nothing themselves.
    for job in ("release", "publish"):
        steps = jobs[job]["steps"]
        assert any(str(s.get("uses", "")).startswith("actions/download-artifact@") for s in steps), job
        assert not any("make release" in str(s.get("run", "")) for s in steps), job
    assert not any(str(s.get("uses", "")).startswith("actions/checkout@") for s in jobs["release"]["steps"])
    assert any(str(s.get("uses", "")).startswith("actions/upload-artifact@") for s in jobs["build"]["steps"])


def test_a_good_workflow_passes(tmp_path: Path) -> None:
    assert problems(tmp_path, GOOD) == []


@pytest.mark.parametrize(("old", "new", "found"), [
    (f"actions/checkout@{SHA} # v5.1.0", "actions/checkout@v5", "actions/checkout@v5 is not pinned to a full commit SHA"),
    (f"actions/checkout@{SHA} # v5.1.0", f"actions/checkout@{SHA[:12]} # v5.1.0", "is not pinned to a full commit SHA"),
    (f"actions/checkout@{SHA} # v5.1.0", f"actions/checkout@{SHA}", "has no '# vX.Y.Z' comment"),
    ("permissions: {}\n", "", "no top-level permissions"),
    ("permissions: {}\n", "permissions: write-all\n", "top-level permissions 'write-all'"),
    ("permissions: {}\n", "permissions:\n  contents: write\n", "top-level permissions grant contents: write"),
    ("    environment: publish\n", "", "job publish: id-token: write without an environment"),
    ("      id-token: write\n", "      id-token: write\n      contents: write\n",
     "job publish: id-token: write together with contents: split the job"),
    ("        with:\n          persist-credentials: false\n", "",
     "job build, step 1: actions/checkout without persist-credentials: false"),
    ("persist-credentials: false", "persist-credentials: true", "actions/checkout without persist-credentials: false"),
])
def test_catches(tmp_path: Path, old: str, new: str, found: str) -> None:
    assert GOOD.count(old) == 1, old
    got = problems(tmp_path, GOOD.replace(old, new))
    assert any(found in p for p in got), got
    assert main([str(tmp_path / "workflow.yml")]) == 1
