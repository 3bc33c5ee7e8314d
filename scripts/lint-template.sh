#!/usr/bin/env bash
# Lints the deployment templates and checks their IAM against the code. Offline: no AWS call.
#
#   scripts/lint-template.sh [TEMPLATE]
#
# Without an argument: template.yaml and template-prebuilt.yaml (generated from it by
# scripts/gen_templates.py), each through the per-template steps below, plus:
#   prebuilt-fresh    template-prebuilt.yaml is what template.yaml generates (no drift)
#   release-metadata  scripts/check_release_metadata.py: the Serverless Application
#                     Repository metadata, SemanticVersion = Cargo.toml's version, package
#                     metadata, licenses, CHANGELOG.md
# Per-template steps (all run; the script exits non-zero if any fails, with a summary at the end):
#   sam-validate   sam validate             (the SAM transform, no AWS call; linting is cfn-lint's, once)
#   cfn-lint       cfn-lint, informational checks included: any finding fails
#   checkov        checkov on the template: any failed check or parsing error fails; a
#                  check skipped in the template must give a reason (`comment:`)
#   iam            scripts/check_iam.py: the template grants exactly the IAM actions that
#                  the requests the Python suites saw the function send need (their record,
#                  target/aws-requests-seen.json, written by tests/conftest.py; without a
#                  complete one, the committed tests/template/aws-requests-baseline.json,
#                  and it says so), each scoped (see the script's doc)
#   iam-selftest   pytest tests/template: check_iam.py catches missing, extra, too broad and
#                  wrongly conditional grants
# Tools come from the lint and checkov venvs built by scripts/bootstrap.sh (cached, keyed
# by tests/requirements/lint.txt and checkov.txt).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ $# -gt 0 ]; then
  templates=("$(realpath "$1")")
else
  templates=("$root/template.yaml" "$root/template-prebuilt.yaml")
fi
# shellcheck source=scripts/offline-aws.sh
source "$root/scripts/offline-aws.sh"

start=$SECONDS
env_file=$("$root/scripts/bootstrap.sh" lint checkov) ||
  { echo "lint-template: FAILED: could not build the lint venvs" >&2; exit 1; }
# shellcheck disable=SC1090
. "$env_file"
echo "lint-template: venvs ready in $((SECONDS - start))s"
main=$AER_LINT_VENV
checkov=$AER_CHECKOV_VENV
offline_aws_env
cd "$root" || exit 1

failed=()
step() { # name command...
  local name=$1 t=$SECONDS rc
  shift
  echo
  echo "=== $name: $*"
  "$@"
  rc=$?
  if [ $rc -eq 0 ]; then
    echo "=== $name: ok ($((SECONDS - t))s)"
  else
    echo "=== $name: FAILED (exit $rc, $((SECONDS - t))s)"
    failed+=("$name")
  fi
}

run_checkov() { # template...
  local out rc f files=()
  for f in "$@"; do files+=(-f "$f"); done
  out=$(mktemp -d)
  "$checkov/bin/checkov" "${files[@]}" --framework cloudformation --skip-download --compact \
    -o cli -o json --output-file-path "$out" >"$out/stdout" 2>&1
  rc=$?
  cat "$out/results_cli.txt" 2>/dev/null || cat "$out/stdout"
  # checkov exits 0 on parsing errors, and a skip needs its reason: judge the JSON.
  "$main/bin/python" - "$out/results_json.json" "$rc" <<'EOF'
import json, sys
path, rc = sys.argv[1], int(sys.argv[2])
try:
    data = json.load(open(path))
except (OSError, ValueError) as e:
    sys.exit(f"checkov wrote no JSON report ({e}); exit {rc}")
reports = data if isinstance(data, list) else [data]
bad = []
for r in reports:
    s = r.get("summary", {})
    if s.get("failed") or s.get("parsing_errors"):
        bad.append(f"{r.get('check_type')}: {s.get('failed')} failed, {s.get('parsing_errors')} parsing errors")
    if not s.get("passed"):
        bad.append(f"{r.get('check_type')}: no check passed, so nothing was scanned")
    for c in r.get("results", {}).get("skipped_checks", []):
        if not (c.get("check_result", {}).get("suppress_comment") or "").strip():
            bad.append(f"{c['check_id']} skipped on {c['resource']} without a reason")
if not reports:
    bad.append("empty report")
for b in bad:
    print("checkov:", b)
sys.exit(1 if bad or rc else 0)
EOF
  rc=$?
  rm -rf "$out"
  return $rc
}

if [ $# -eq 0 ]; then
  step prebuilt-fresh "$main/bin/python" scripts/gen_templates.py --check
  step release-metadata "$main/bin/python" scripts/check_release_metadata.py
fi
for template in "${templates[@]}"; do
  t=$(basename "$template")
  step "sam-validate:$t" "$main/bin/sam" validate --template-file "$template"
  step "iam:$t" "$main/bin/python" scripts/check_iam.py --template "$template"
done
# One process for all templates: each start costs seconds.
step cfn-lint "$main/bin/cfn-lint" --include-checks I -- "${templates[@]}"
step checkov run_checkov "${templates[@]}"
step iam-selftest "$main/bin/python" -m pytest tests/template -q -p no:cacheprovider --confcutdir=tests/template

echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "lint-template: FAILED: ${failed[*]} ($((SECONDS - start))s)"
  exit 1
fi
echo "lint-template: all checks passed ($((SECONDS - start))s)"
