#!/usr/bin/env python3
"""What a release carries agrees with itself, offline.

    check_release_metadata.py [--tag vX.Y.Z] [--repository-url https://github.com/OWNER/REPO]

Checks, and prints every problem found:
  - template.yaml's AWS::ServerlessRepo::Application metadata against the AWS Serverless
    Application Repository's rules (AWS SAM developer guide, "AWS SAM template Metadata
    section properties"): the required keys, lengths and patterns, at most 10 labels, no
    intrinsic functions, README and license files that exist and are under 5 MB, a single
    SPDX id that is one of Cargo.toml's license choices, with its license text; a
    HomePageUrl (the repository; with --repository-url, that one) and a SourceCodeUrl that is
    its tree at the tag v<SemanticVersion>;
  - SemanticVersion is Cargo.toml's version, a semantic version, and CHANGELOG.md has a
    section for it or an [Unreleased] one;
  - Cargo.toml's package metadata: description, license MIT OR Apache-2.0 with both texts,
    keywords and categories as crates.io allows them, and a rust-version no lower than any
    locked dependency's (cargo metadata --locked; cargo refuses to build below those);
  - with --tag (the release workflow): the tag is v<version>, and CHANGELOG.md has its section.
Runs in the lint venv (scripts/bootstrap.sh lint): SAM CLI's own template parser.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from samcli.vendor.serverlessrepo.parser import parse_template

ROOT = Path(__file__).resolve().parents[1]
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
LICENSE_FILES = {"MIT": ("LICENSE-MIT", "Permission is hereby granted"),
                 "Apache-2.0": ("LICENSE-APACHE", "Apache License\n                        Version 2.0")}


def version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def check_sar(meta: object, version: str, licenses: set[str], bad: list[str], repository_url: str | None = None) -> None:
    if not isinstance(meta, dict):
        bad.append("template.yaml has no AWS::ServerlessRepo::Application metadata")
        return
    for key, value in meta.items():
        if isinstance(value, dict):
            bad.append(f"SAR {key}: intrinsic functions are not supported there ({value})")
    rules = {  # key: (required, max length, pattern)
        "Name": (True, 140, r"^[a-zA-Z0-9-]+$"),
        "Description": (True, 256, None),
        "Author": (True, 127, r"^[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?$"),
        "SpdxLicenseId": (True, None, None),
        "LicenseUrl": (True, None, None),
        "ReadmeUrl": (True, None, None),
        "SemanticVersion": (True, None, None),
    }
    for key, (required, most, pattern) in rules.items():
        value = meta.get(key)
        if value is None:
            if required:
                bad.append(f"SAR {key} is missing (needed to publish publicly)")
            continue
        value = str(value)
        if most and not 1 <= len(value) <= most:
            bad.append(f"SAR {key} is {len(value)} characters, not 1 to {most}")
        if pattern and not re.match(pattern, value):
            bad.append(f"SAR {key} {value!r} does not match {pattern}")
    labels = meta.get("Labels", [])
    if len(labels) > 10:
        bad.append(f"SAR Labels: {len(labels)}, at most 10")
    for label in labels:
        if not re.match(r"^[a-zA-Z0-9+\-_:/@]{1,127}$", str(label)):
            bad.append(f"SAR label {label!r} is not allowed")
    for key in ("ReadmeUrl", "LicenseUrl"):
        path = ROOT / str(meta.get(key, ""))
        if not path.is_file():
            bad.append(f"SAR {key}: {path.relative_to(ROOT)} is not a file in the repository")
        elif path.stat().st_size > 5 * 1024 * 1024:
            bad.append(f"SAR {key}: {path.name} is over 5 MB")
    spdx = meta.get("SpdxLicenseId")
    if spdx not in licenses:
        bad.append(f"SAR SpdxLicenseId {spdx!r} is not one of Cargo.toml's licenses {sorted(licenses)}")
    elif meta.get("LicenseUrl") != LICENSE_FILES[spdx][0]:
        bad.append(f"SAR LicenseUrl must be {LICENSE_FILES[spdx][0]}, the text of {spdx}")
    if str(meta.get("SemanticVersion")) != version:
        bad.append(f"SAR SemanticVersion {meta.get('SemanticVersion')} is not Cargo.toml's version {version}")
    check_urls(meta, bad, repository_url)


def check_urls(meta: dict, bad: list[str], repository_url: str | None) -> None:
    """The application's page links its repository (HomePageUrl) and each version its source
    (SourceCodeUrl: "for example the URL of a specific GitHub commit", Serverless Application
    Repository API reference): here the tree at the version's tag."""
    home, source = meta.get("HomePageUrl"), meta.get("SourceCodeUrl")
    for key, value in (("HomePageUrl", home), ("SourceCodeUrl", source)):
        if not isinstance(value, str) or not re.match(r"^https://[^\s/]+/\S+$", value):
            bad.append(f"SAR {key} is {value!r}, not an https URL")
    if isinstance(home, str) and source != f"{home.rstrip('/')}/tree/v{meta.get('SemanticVersion')}":
        bad.append(f"SAR SourceCodeUrl {source!r} is not {home.rstrip('/')}/tree/v{meta.get('SemanticVersion')}, "
                   "the source of this version")
    if repository_url is not None and home != repository_url:
        bad.append(f"SAR HomePageUrl {home!r} is not the repository that publishes, {repository_url}")


def check_cargo(pkg: dict, bad: list[str]) -> set[str]:
    if not SEMVER.match(pkg["version"]):
        bad.append(f"Cargo.toml version {pkg['version']} is not a semantic version")
    if not pkg.get("description"):
        bad.append("Cargo.toml has no description")
    license_ = pkg.get("license", "")
    if license_ != "MIT OR Apache-2.0":
        bad.append(f"Cargo.toml license is {license_!r}, not 'MIT OR Apache-2.0'")
    ids = set(license_.split(" OR ")) & set(LICENSE_FILES)
    for spdx in ids:
        name, marker = LICENSE_FILES[spdx]
        path = ROOT / name
        if not path.is_file() or marker not in path.read_text():
            bad.append(f"{name} is missing or is not the {spdx} text")
    keywords = pkg.get("keywords", [])
    if not keywords or len(keywords) > 5 or not all(re.match(r"^[a-zA-Z][a-zA-Z0-9_-]{0,19}$", k) for k in keywords):
        bad.append(f"Cargo.toml keywords {keywords}: 1 to 5, each at most 20 ASCII characters")
    if not pkg.get("categories"):
        bad.append("Cargo.toml has no categories")
    rust_version = pkg.get("rust-version")
    if not rust_version:
        bad.append("Cargo.toml has no rust-version")
        return ids
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    used = {n["id"] for n in meta["resolve"]["nodes"]}
    need = max(((version_tuple(p["rust_version"]), p["name"]) for p in meta["packages"]
                if p["id"] in used and p.get("rust_version") and p["name"] != pkg["name"]), default=None)
    if need and version_tuple(rust_version) < need[0]:
        bad.append(f"Cargo.toml rust-version {rust_version} is below {need[1]}'s "
                   f"{'.'.join(map(str, need[0]))}: cargo refuses to build with that")
    return ids


def check_changelog(version: str, tagged: bool, bad: list[str]) -> None:
    path = ROOT / "CHANGELOG.md"
    text = path.read_text() if path.is_file() else ""
    has_version = re.search(rf"^## \[{re.escape(version)}\]", text, re.M)
    if tagged and not has_version:
        bad.append(f"CHANGELOG.md has no '## [{version}]' section for this release")
    elif not has_version and not re.search(r"^## \[Unreleased\]", text, re.M):
        bad.append(f"CHANGELOG.md has neither '## [{version}]' nor '## [Unreleased]'")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tag", help="the release tag, which must be v<Cargo.toml version>")
    ap.add_argument("--repository-url", help="the repository that publishes, which HomePageUrl must name")
    args = ap.parse_args()
    bad: list[str] = []
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    # Fields the package takes from the workspace (`license.workspace = true`) are read there.
    inherited = cargo.get("workspace", {}).get("package", {})
    pkg = {key: inherited[key] if value == {"workspace": True} else value
           for key, value in cargo["package"].items()}
    version = pkg["version"]
    licenses = check_cargo(pkg, bad)
    template = parse_template((ROOT / "template.yaml").read_text())
    check_sar(template.get("Metadata", {}).get("AWS::ServerlessRepo::Application"), version, licenses, bad,
              args.repository_url)
    if args.tag is not None and args.tag != f"v{version}":
        bad.append(f"tag {args.tag} is not v{version}, Cargo.toml's version")
    check_changelog(version, args.tag is not None, bad)
    for b in bad:
        print("check_release_metadata:", b, file=sys.stderr)
    if not bad:
        print(f"check_release_metadata: {pkg['name']} {version}: Cargo.toml, template metadata, "
              "licenses and CHANGELOG.md agree")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
