#!/usr/bin/env bash
# `make demo`: the main job end to end on the shipped example, no server needed.
# Usage: examples/demo.sh BIN_DIR   (the virtualenv's bin directory)
set -uo pipefail
BIN=${1:-.venv/bin}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${GATEKEEPER_DEMO_OUT:-out/demo}
mkdir -p "$OUT"

# A waiver approved by legal for the GPL PDF generator. Expiry is computed from today so the
# demo shows a live waiver (waivers must expire within 90 days).
EXPIRES=$("$BIN/python" -c 'import datetime as d; print(d.date.today() + d.timedelta(days=30))')
cat > "$OUT/waivers.yaml" <<YAML
waivers:
  - id: W-2026-017
    policy: GK-LIC-001
    subject: "pkg:pypi/pdfgen"
    reason: "Legal approved GPL use for the internal PDF worker (LEGAL-311); replacement planned."
    approved_by: maria.gonzalez
    expires: $EXPIRES
YAML

echo "== gatekeeper gate run: payments-api 1.4.2 against the built-in policy library"
echo
"$BIN/gatekeeper" gate run \
  --release "$HERE/release.yaml" \
  --waivers "$OUT/waivers.yaml" \
  --output json="$OUT/decision.json" \
  --output sarif="$OUT/gatekeeper.sarif" \
  --output junit="$OUT/gatekeeper-junit.xml" \
  --output markdown="$OUT/gatekeeper.md" \
  "$HERE"/evidence/sbom.cdx.json \
  "$HERE"/evidence/grype.json \
  "$HERE"/evidence/trivy.json \
  "$HERE"/evidence/vex.openvex.json \
  "$HERE"/evidence/semgrep.json
status=$?
echo
echo "exit code $status (0 pass, 1 the policy said no, 2 bad input, 3 policy/engine error)"
echo "reports written to $OUT/: decision.json gatekeeper.sarif gatekeeper-junit.xml gatekeeper.md"
# The example is meant to fail its gate; only an error (2/3) fails the demo.
[ "$status" -le 1 ]
