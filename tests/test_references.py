"""Every repository path that template.yaml, README.md, docs/ and src/ name exists, every
section of README.md or docs/ that a source cites exists, and nothing in src/ or the template
points outside the repository (at shared/docs). Plain files, no AWS. (Links inside README.md
and docs/ are scripts/check-links.sh's.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP_DIRS = ("docs", "scripts", "src", "crates", "tests", "events", "bench")
# `docs/deploy.md`, `scripts/lint-template.sh`, `tests/template/`... with a file extension,
# not preceded by a path or word character (so `shared/docs/x.md` or a URL's `/docs/x.html`
# is not taken for `docs/x.md`).
PATH_RE = re.compile(
    r"(?<![\w./-])((?:" + "|".join(TOP_DIRS) + r")/[A-Za-z0-9_./-]*?\.[A-Za-z0-9]+)(?![A-Za-z0-9_/-])"
)
OUTSIDE_RE = re.compile(r"shared/docs\b")


# A citation of a page's section, as comments and descriptions write them:
# `docs/iam.md, section 'Without a prefix'`, `README, "Why"`, or `docs/iam.md#anchor`.
CITATION_RE = re.compile(
    r"\b(README(?:\.md)?|docs/[\w-]+\.md)(?:,?\s+(?:section\s+)?(['\"])([^'\"]+?)\2|#([\w-]+))"
)
# Comment leaders, so a citation wrapped over comment lines reads as one line.
LEADER_RE = re.compile(r"^[ \t]*(?://[/!]?|#+|\*)?[ \t]*", re.M)


def sources() -> list[Path]:
    return [ROOT / "template.yaml", ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
            *sorted((ROOT / "src").rglob("*.rs")), *sorted((ROOT / "crates").rglob("*.rs"))]


def citing_sources() -> list[Path]:
    """What cites the docs: the templates, scripts, Python tests, workflows, bench and src/."""
    found = [ROOT / "template.yaml", ROOT / "template-prebuilt.yaml", ROOT / "Makefile",
             *(p for p in sorted((ROOT / "scripts").iterdir()) if p.is_file()),
             *sorted((ROOT / "tests").rglob("*.py")), *sorted((ROOT / ".github" / "workflows").glob("*.yml")),
             *(p for p in sorted((ROOT / "bench").iterdir()) if p.is_file() and p.suffix in {".py", ".sh"}),
             *sorted((ROOT / "src").rglob("*.rs")), *sorted((ROOT / "crates").rglob("*.rs")),
             *sorted(ROOT.glob("**/Cargo.toml")), ROOT / ".cargo" / "config.toml"]
    # These two write sample citations of pages that exist only in their examples.
    samples = {Path(__file__).resolve(), ROOT / "tests" / "test_links.py"}
    return [p for p in found if p not in samples]


def headings(markdown: str) -> list[tuple[str, str]]:
    """(text, anchor) of each heading, the anchor as GitHub renders it: lower case, punctuation
    but `-` and `_` dropped, spaces made `-`, a repeat suffixed -1, -2 ... Code blocks hold none."""
    out: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    fence = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fence = not fence
        m = None if fence else re.match(r"#{1,6} (.+)", line)
        if m:
            text = m.group(1).strip()
            slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.append((text, slug if n == 0 else f"{slug}-{n}"))
    return out


def citations(text: str) -> list[tuple[str, str | None, str | None]]:
    """(page, section heading, anchor) of each citation in text, wrapped lines joined."""
    flat = " ".join(LEADER_RE.sub("", text).split())
    return [(m.group(1), m.group(3), m.group(4)) for m in CITATION_RE.finditer(flat)]


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


def test_the_citation_pattern_finds_what_it_must() -> None:
    text = (
        "see docs/iam.md, section 'Without\n"
        "      a prefix'. /// (README, \"Performance\")\n"
        "/// and README.md, 'Publish a release', docs/iam.md#through-the-backends-role_arn; not docs/iam.md alone"
    )
    assert citations(text) == [
        ("docs/iam.md", "Without a prefix", None),
        ("README", "Performance", None),
        ("README.md", "Publish a release", None),
        ("docs/iam.md", None, "through-the-backends-role_arn"),
    ]
    md = "# T\n## Through the backend's `role_arn`\n```\n# not a heading\n```\n## Dup\n## Dup\n"
    assert headings(md) == [("T", "t"), ("Through the backend's `role_arn`", "through-the-backends-role_arn"),
                            ("Dup", "dup"), ("Dup", "dup-1")]


@pytest.mark.parametrize("source", citing_sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_cited_section_exists(source: Path) -> None:
    bad = []
    for page, heading, anchor in citations(source.read_text()):
        path = ROOT / (page if page.endswith(".md") else page + ".md")
        if not path.is_file():
            bad.append(f"{page}: no such page")
            continue
        found = headings(path.read_text())
        if heading is not None and heading not in {text for text, _ in found}:
            bad.append(f"{page}, section '{heading}': no such heading")
        if anchor is not None and anchor not in {a for _, a in found}:
            bad.append(f"{page}#{anchor}: no such anchor")
    assert bad == [], f"{source.relative_to(ROOT)} cites what is not there:\n" + "\n".join(bad)


@pytest.mark.parametrize("source", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_named_repository_path_exists(source: Path) -> None:
    missing = [
        f"{source.relative_to(ROOT)}:{line}: {path}"
        for line, path in references(source.read_text())
        if not (ROOT / path).exists()
    ]
    assert missing == [], "paths named but not in the repository:\n" + "\n".join(missing)


@pytest.mark.parametrize(
    "source", [ROOT / "template.yaml", *sorted((ROOT / "src").rglob("*.rs")), *sorted((ROOT / "crates").rglob("*.rs"))], ids=lambda p: str(p.relative_to(ROOT))
)
def test_nothing_points_outside_the_repository(source: Path) -> None:
    found = [
        f"{source.relative_to(ROOT)}:{n}: {line.strip()}"
        for n, line in enumerate(source.read_text().splitlines(), 1)
        if OUTSIDE_RE.search(line)
    ]
    assert found == [], "points at shared/docs, which is not in the repository:\n" + "\n".join(found)
