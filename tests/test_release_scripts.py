"""The release scripts refuse what must never be published, first thing: sar-publish.sh a
third argument other than exactly --no-publish, release.sh a work tree with changes. Nothing
is built, uploaded or published; each refusal comes before the scripts' first real step
(the lint venv, cargo)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(script: Path, *args: str, cwd: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # No cargo, sam or venv reachable: a script that got past its checks would fail
    # differently (or, worse, work), so the exit code and message show where it stopped.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("bash", "git", "dirname", "realpath", "head", "python3", "sed", "cat"):
        found = shutil.which(tool)
        if found and not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(found)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path / "home"), "LC_ALL": "C"}
    return subprocess.run(["bash", str(script), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("args", [
    ["--no-pubish"], ["--dry-run"], ["no-publish"], ["--no-publish", "extra"], [],
], ids=["typo", "other-flag", "no-dashes", "fourth-argument", "too-few"])
def test_sar_publish_refuses_anything_but_exactly_no_publish(tmp_path: Path, args: list[str]) -> None:
    zip_path = tmp_path / "bootstrap-arm64.zip"
    zip_path.write_bytes(b"PK\x05\x06" + bytes(18))
    argv = [str(zip_path), "bucket", *args] if args != [] else [str(zip_path)]
    out = run(ROOT / "scripts" / "sar-publish.sh", *argv, cwd=tmp_path, tmp_path=tmp_path)
    assert out.returncode == 2, out
    assert out.stderr.strip().endswith("usage: " + str(ROOT / "scripts" / "sar-publish.sh")
                                       + " ZIP BUCKET [--no-publish]"), out.stderr
    assert out.stdout == "", out.stdout


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A clean git work tree holding release.sh and the files it reads first."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    for name in ("scripts/release.sh", "Cargo.toml", "template.yaml", ".gitignore"):
        shutil.copy2(ROOT / name, repo / name)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "release"], check=True)
    return repo


@pytest.mark.parametrize("change", ["modified", "staged", "untracked"])
def test_release_refuses_a_work_tree_with_changes_before_any_work(
        checkout: Path, tmp_path: Path, change: str) -> None:
    if change == "untracked":
        (checkout / "build.rs").write_text("fn main() {}\n")
    else:
        with (checkout / "Cargo.toml").open("a") as f:
            f.write("# local change\n")
        if change == "staged":
            subprocess.run(["git", "-C", str(checkout), "add", "Cargo.toml"], check=True)
    out = run(checkout / "scripts" / "release.sh", cwd=checkout, tmp_path=tmp_path)
    assert out.returncode == 1, out
    assert "release: FAILED: the work tree has uncommitted changes" in out.stderr, out.stderr
    assert ("build.rs" if change == "untracked" else "Cargo.toml") in out.stderr, out.stderr
    assert out.stdout == "", "nothing started"
    assert not (checkout / "target").exists(), "nothing built"


def test_release_ignores_what_gitignore_ignores(checkout: Path, tmp_path: Path) -> None:
    # target/ is where builds go: it never makes the tree dirty. Past the check, the
    # script's next step needs the lint venv, which this bare PATH cannot build.
    (checkout / "target").mkdir()
    (checkout / "target" / "leftover").write_text("x")
    out = run(checkout / "scripts" / "release.sh", cwd=checkout, tmp_path=tmp_path)
    assert "uncommitted changes" not in out.stderr, out.stderr
    assert os.path.exists(checkout / "target" / "leftover")
