#!/usr/bin/env bash
# Every relative link and #anchor in the README and docs/ resolves: the file exists and the
# heading anchor exists as GitHub renders it. Offline: web links are not fetched.
#
#   scripts/check-links.sh [DIR]    (DIR: a tree with README.md and docs/; default this repository)
#
# lychee (lycheeverse/lychee) does the checking, from the docs venv scripts/bootstrap.sh builds.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=$(realpath "${1:-$root}")
env_file=$("$root/scripts/bootstrap.sh" docs)
# shellcheck disable=SC1090
. "$env_file"

files=("$dir/README.md" "$dir"/docs/*.md)
for f in "${files[@]}"; do
  [ -f "$f" ] || { echo "check-links: no such file: $f" >&2; exit 1; }
done
# --offline: only local files are checked (web links are excluded, never fetched);
#: #anchors are checked against the target's headings (GitHub's slugs).
exec "$AER_DOCS_VENV/bin/lychee" --offline --include-fragments --no-progress "${files[@]}"
