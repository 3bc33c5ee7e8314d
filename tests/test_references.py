"""Every repository path that template.yaml, README.md and src/ name exists, and nothing in
src/ or the template points outside the repository (at shared/docs). Plain files, no AWS."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP_DIRS = ("docs", "scripts", "src", "tests", "events", "bench")
# `docs/deploy.md`, `scripts/lint-template.sh`, `tests/template/`... with a file extension,
# not preceded by a path or word character (so `shared/docs/x.md` or a URL's `/docs/x.html`
# is not taken for `docs/x.md`).
PATH_RE = re.compile(
    r"(?<![\w./-])((?:" + "|".join(TOP_DIRS) + r")/[A-Za-z0-9_./-]*?\.[A-Za-z0-9]+)(?![A-Za-z0-9_/-])"
)
OUTSIDE_RE = re.compile(r"shared/docs\b")


def sources() -> list[Path]:
    return [ROOT / "template.yaml", ROOT / "README.md", *sorted((ROOT / "src").rglob("*.rs"))]


def references(text: str) -> list[tuple[int, str]]:
    out = []
    for m in PATH_RE.finditer(text):
        path = m.group(1).rstrip(".")
        out.append((text.count("\n", 0, m.start()) + 1, path))
    return out


def test_the_path_pattern_finds_what_it_must() -> None:
    text = (
        "see docs/deploy.md, `scripts/check_iam.py` and (events/dry-run.json).\n"
        "not shared/docs/aws-facts.md, https://example.com/docs/page.html or tests/*.rs\n"
        "src/target.rs: and bench/run.sh."
    )
    assert [p for _, p in references(text)] == [
        "docs/deploy.md",
        "scripts/check_iam.py",
        "events/dry-run.json",
        "src/target.rs",
        "bench/run.sh",
    ]


@pytest.mark.parametrize("source", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_named_repository_path_exists(source: Path) -> None:
    missing = [
        f"{source.relative_to(ROOT)}:{line}: {path}"
        for line, path in references(source.read_text())
        if not (ROOT / path).exists()
    ]
    assert missing == [], "paths named but not in the repository:\n" + "\n".join(missing)


@pytest.mark.parametrize(
    "source", [ROOT / "template.yaml", *sorted((ROOT / "src").rglob("*.rs"))], ids=lambda p: str(p.relative_to(ROOT))
)
def test_nothing_points_outside_the_repository(source: Path) -> None:
    found = [
        f"{source.relative_to(ROOT)}:{n}: {line.strip()}"
        for n, line in enumerate(source.read_text().splitlines(), 1)
        if OUTSIDE_RE.search(line)
    ]
    assert found == [], "points at shared/docs, which is not in the repository:\n" + "\n".join(found)
