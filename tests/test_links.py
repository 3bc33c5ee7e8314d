"""scripts/check-links.sh, the link check `make test` runs on README.md and docs/: it must fail
on a link to a missing file or a missing #anchor, pass the heading anchors GitHub makes of the
headings these docs use, and never fetch a web link. Runs lychee on trees made here."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Headings of the kinds the docs have: backticks, an apostrophe, a comma, parentheses, a repeat.
PAGE = """# Page

## Through the backend's `role_arn`

## The alarms, and what to do when one fires

## Deploy with cargo lambda (alternative)

## Example

## Example

[here](#through-the-backends-role_arn), [the second example](#example-1)
"""


def check(tmp_path: Path, readme: str, page: str = PAGE) -> subprocess.CompletedProcess[str]:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text(page)
    (tmp_path / "README.md").write_text(readme)
    return subprocess.run([ROOT / "scripts" / "check-links.sh", tmp_path], capture_output=True, text=True, timeout=300)


def test_links_that_resolve_pass(tmp_path: Path) -> None:
    run = check(tmp_path, "[alarms](docs/page.md#the-alarms-and-what-to-do-when-one-fires), "
                          "[cargo lambda](docs/page.md#deploy-with-cargo-lambda-alternative), [page](docs/page.md)\n")
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_link_to_a_missing_file_fails(tmp_path: Path) -> None:
    run = check(tmp_path, "[gone](docs/gone.md)\n")
    assert run.returncode != 0
    assert "docs/gone.md" in run.stdout + run.stderr


def test_a_link_to_a_missing_anchor_fails(tmp_path: Path) -> None:
    run = check(tmp_path, "[renamed](docs/page.md#the-alarms)\n")
    assert run.returncode != 0
    assert "page.md#the-alarms" in run.stdout + run.stderr


def test_a_missing_anchor_on_the_same_page_fails(tmp_path: Path) -> None:
    run = check(tmp_path, "[page](docs/page.md)\n", PAGE + "[third](#example-2)\n")
    assert run.returncode != 0
    assert "#example-2" in run.stdout + run.stderr


def test_web_links_are_not_fetched(tmp_path: Path) -> None:
    # .invalid never resolves (RFC 2606): passing means the link was not fetched.
    run = check(tmp_path, "[aws](https://docs.example.invalid/nowhere.html#x)\n")
    assert run.returncode == 0, run.stdout + run.stderr
