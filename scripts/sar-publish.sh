#!/usr/bin/env bash
# Publishes a release to the AWS Serverless Application Repository, or (--no-publish)
# does and checks every step before the publish call.
#
#   scripts/sar-publish.sh ZIP BUCKET [--no-publish]
#
# ZIP is the release's arm64 zip (scripts/release.sh); BUCKET an S3 bucket in the
# publishing region that the Serverless Application Repository may read (see
# docs/development.md, section 'Publish a release'). Steps:
#   1. scripts/gen_templates.py --sar: template.yaml with its code = ZIP
#   2. sam package: uploads ZIP as it is, README.md and the license, and rewrites the
#      template to point at them
#   3. checks the packaged template: CodeUri is s3://BUCKET/<key> and that object is ZIP
#      byte for byte; ReadmeUrl and LicenseUrl are S3 objects holding README.md and the
#      license; the metadata passes the checks `sam publish` makes before calling AWS;
#      and `sam validate --lint` passes on it
#   4. sam publish (not with --no-publish)
# `make test` runs it with --no-publish against moto's S3 (scripts/test.sh).
set -euo pipefail

usage() { echo "usage: $0 ZIP BUCKET [--no-publish]" >&2; exit 2; }
# Anything but exactly --no-publish as a third argument (a typo such as --no-pubish, or
# --dry-run) is refused before any work: it must never mean "publish".
case $# in
  2) publish=1 ;;
  3) [ "$3" = --no-publish ] || usage; publish=0 ;;
  *) usage ;;
esac
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
zip=$(realpath "$1") bucket=$2
[ -f "$zip" ] || { echo "sar-publish: FAILED: no $zip" >&2; exit 1; }

env_file=$("$root/scripts/bootstrap.sh" lint) ||
  { echo "sar-publish: FAILED: could not build the lint venv" >&2; exit 1; }
# shellcheck disable=SC1090
. "$env_file"
py=$AER_LINT_VENV/bin/python
export SAM_CLI_TELEMETRY=0
work=$(mktemp -d "${TMPDIR:-/tmp}/aer-sar.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$py" "$root/scripts/gen_templates.py" --sar "$zip" --out "$work/sar.yaml"
"$AER_LINT_VENV/bin/sam" package --template-file "$work/sar.yaml" --s3-bucket "$bucket" \
  --output-template-file "$work/packaged.yaml" --no-progressbar
"$py" - "$work/packaged.yaml" "$bucket" "$zip" "$root" <<'EOF'
import hashlib, sys
from pathlib import Path

import boto3
from samcli.vendor.serverlessrepo.parser import get_app_metadata, parse_template

packaged, bucket, zip_path, root = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
template = parse_template(Path(packaged).read_text())
s3 = boto3.client("s3")
bad = []

def s3_object(url, what):
    if not isinstance(url, str) or not url.startswith(f"s3://{bucket}/"):
        bad.append(f"{what} is {url!r}, not an object in s3://{bucket}/")
        return None
    return s3.get_object(Bucket=bucket, Key=url[len(f"s3://{bucket}/"):])["Body"].read()

code = template["Resources"]["RefresherFunction"]["Properties"]["CodeUri"]
body = s3_object(code, "CodeUri")
want = zip_path.read_bytes()
if body is not None and body != want:
    bad.append(f"{code} is not {zip_path.name} (sha256 {hashlib.sha256(body).hexdigest()[:12]}"
               f" != {hashlib.sha256(want).hexdigest()[:12]})")

meta = get_app_metadata(template)
meta.validate(["author", "description", "name"])  # what sam publish's CreateApplication needs
meta.validate(["semantic_version"])               # and CreateApplicationVersion
source = parse_template((root / "template.yaml").read_text())["Metadata"]["AWS::ServerlessRepo::Application"]
for key, attr in (("ReadmeUrl", "readme_url"), ("LicenseUrl", "license_url")):
    got = s3_object(getattr(meta, attr), key)
    if got is not None and got != (root / source[key]).read_bytes():
        bad.append(f"{key} {getattr(meta, attr)} does not hold {source[key]}")
for b in bad:
    print("sar-publish: FAILED:", b, file=sys.stderr)
if not bad:
    print(f"sar-publish: packaged: code {code} is {zip_path.name}; README and license uploaded;"
          f" {meta.name} {meta.semantic_version}")
sys.exit(1 if bad else 0)
EOF
"$AER_LINT_VENV/bin/sam" validate --lint --template-file "$work/packaged.yaml"

if [ $publish -eq 1 ]; then
  "$AER_LINT_VENV/bin/sam" publish --template "$work/packaged.yaml"
else
  echo "sar-publish: ok, packaged and checked; not published (--no-publish)"
fi
