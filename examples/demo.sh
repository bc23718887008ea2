#!/usr/bin/env bash
# `make demo`: the main job end to end on the shipped example, no server needed.
# Usage: examples/demo.sh BIN_DIR   (the virtualenv's bin directory)
set -uo pipefail
BIN=${1:-.venv/bin}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${GATEKEEPER_DEMO_OUT:-out/demo}
mkdir -p "$OUT"
# Every gate run records its decision; the demo keeps its own ledger, started afresh.
LEDGER="$OUT/ledger.db"
rm -f "$LEDGER" "$LEDGER-wal" "$LEDGER-shm"
export GATEKEEPER_LEDGER_URL="$LEDGER"

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

# ---- gatekeeper check (conftest compatibility) -------------------------------------------------
echo
echo "== gatekeeper check: conftest-style policies on a multi-document Kubernetes manifest"
echo
CHECK_BIN="$(cd "$BIN" && pwd)/gatekeeper"
(cd "$HERE/conftest" && "$CHECK_BIN" check --no-color manifests.yaml)
check_status=$?
echo "exit code $check_status (as conftest: 0 pass, 1 failures; 2/3 errors)"
# The manifest is meant to fail; an error (2/3) fails the demo like the gate's errors do.
[ "$check_status" -le 1 ] || status=$check_status
# ---- end gatekeeper check ----------------------------------------------------------------------

# ---- gatekeeper policy (explain, bundle) ------------------------------------------------------
echo
echo "== gatekeeper policy explain GK-VULN-001: what the failing policy checks and how to tune it"
echo
"$BIN/gatekeeper" policy explain GK-VULN-001 "$HERE/../policies"
explain_status=$?
[ "$explain_status" -eq 0 ] || status=$explain_status
echo
echo "== gatekeeper policy bundle: the library as a reproducible OPA bundle"
"$BIN/gatekeeper" policy bundle "$HERE/../policies" -o "$OUT/policies.tar.gz" --revision demo-1
bundle_status=$?
[ "$bundle_status" -eq 0 ] || status=$bundle_status
# ---- end gatekeeper policy ---------------------------------------------------------------------

# ---- gatekeeper audit (decision ledger) --------------------------------------------------------
echo
echo "== the decision ledger: every gate run is recorded, hash-chained (docs/ledger.md)"
ledger_status=0
# The demo's decision above is already recorded; add a small history of five other releases.
bash "$HERE/history/record.sh" "$BIN" "$LEDGER" || ledger_status=3
echo
echo "== gatekeeper audit log / verify"
"$BIN/gatekeeper" audit log --ledger "$LEDGER" || ledger_status=3
"$BIN/gatekeeper" audit verify --ledger "$LEDGER" || ledger_status=3
FIRST=$("$BIN/gatekeeper" audit log --ledger "$LEDGER" | awk -F'\t' 'NR == 1 {print $3}')
echo
echo "== gatekeeper audit replay $FIRST (reproduce the demo's decision from the ledger)"
"$BIN/gatekeeper" audit replay "$FIRST" --ledger "$LEDGER" || ledger_status=3
echo
echo "== gatekeeper policy impact: what if vulnerabilities failed at medium? (examples/history/stricter.yaml)"
"$BIN/gatekeeper" policy impact --ledger "$LEDGER" --candidate "$HERE/../policies" \
  -d "$HERE/history/stricter.yaml"
[ $? -le 1 ] || ledger_status=3
"$BIN/gatekeeper" audit report --ledger "$LEDGER" --format html -o "$OUT/compliance-report.html" \
  || ledger_status=3
"$BIN/gatekeeper" audit export vsa "$FIRST" --ledger "$LEDGER" -o "$OUT/decision.vsa.json" \
  || ledger_status=3
echo
echo "ledger $LEDGER; compliance report $OUT/compliance-report.html; VSA $OUT/decision.vsa.json"
[ "$ledger_status" -eq 0 ] || status=$ledger_status
# ---- end gatekeeper audit ----------------------------------------------------------------------

# ---- golden path: scaffold a python-service, run its pipeline to the gate (docs/templates.md) ----
# About 20-25 s on 2 cores, most of it semgrep starting up (see docs/templates.md).
echo
echo "== gatekeeper scaffold new python-service, then pipeline run (test, SBOM, SAST, gate)"
golden_status=0
if ! "$BIN/python" -c "import semgrep, cyclonedx_py, pytest" 2>/dev/null; then
  echo "(installing the pipeline tools once: pip install -e '.[pipeline]')"
  "$BIN/python" -m pip install -q -e "$HERE/..[pipeline]" || golden_status=3
fi
SERVICE_DIR="$OUT/orders-api"
"$BIN/gatekeeper" scaffold new python-service "$SERVICE_DIR" --force --no-input \
  --set name=orders-api --set owner=payments > /dev/null || golden_status=3
"$BIN/gatekeeper" pipeline run -C "$SERVICE_DIR" || golden_status=3
"$BIN/gatekeeper" scaffold check "$SERVICE_DIR" || golden_status=3
echo "service $SERVICE_DIR; its SBOM, semgrep results and decision are in $SERVICE_DIR/.gatekeeper/out/"
[ "$golden_status" -eq 0 ] || status=$golden_status
# ---- end golden path ----------------------------------------------------------------------------

# The example is meant to fail its gate; only an error (2/3) fails the demo.
[ "$status" -le 1 ]
