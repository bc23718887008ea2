#!/usr/bin/env bash
# `make demo`: the main job end to end on the shipped example, no server needed.
# Usage: examples/demo.sh BIN_DIR   (the virtualenv's bin directory)
set -uo pipefail
BIN=${1:-.venv/bin}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${GATEKEEPER_DEMO_OUT:-out/demo}
mkdir -p "$OUT"
# Absolute from here on: later steps run commands from inside the scaffolded service.
OUT=$(cd "$OUT" && pwd)
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
# --no-cache: the demo records a fresh ledger each run, so the verified prefix an earlier run
# left in .gatekeeper/verified/ is started over (docs/ledger.md, "The verified prefix").
"$BIN/gatekeeper" audit verify --no-cache --ledger "$LEDGER" || ledger_status=3
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

# ---- gatekeeper deploy: canary of the scaffolded service on the local target (docs/deployer.md) --
# About 20-30 s: two versions of orders-api, each pinned by its code digest and gated, v1 first
# deployed, then v2 as a canary under light load, judged from the proxy's measurements and the
# workers' logs; `deploy status` shows the verdicts; everything is stopped at the end.
echo
echo "== gatekeeper deploy: orders-api v1, then a canary of v2 on the local target"
deploy_status=0
DEPLOY_OUT="$OUT/deploy"
rm -rf "$DEPLOY_OUT"
mkdir -p "$DEPLOY_OUT/releases"
SERVICE_ABS=$(cd "$SERVICE_DIR" && pwd)
GK_ABS="$(cd "$BIN" && pwd)/gatekeeper"
DEPLOY_LEDGER="$SERVICE_ABS/.gatekeeper/ledger.db"
# Short analysis intervals for the demo (the template's deploy section has no strategy).
cat >> "$SERVICE_DIR/gatekeeper.yaml" <<'YAML'
  stop_grace_period: 3
  drain_timeout: 5
  strategy:
    kind: canary
    steps:
      - setWeight: 20
      - pause: {duration: 2}
      - setWeight: 50
      - analysis: {interval: 4, max_inconclusive: 6}
YAML
# The demo's decision service keeps this deploy history's ledger: it signs with its own key,
# and the gate runs and the deployer below sign with the same key (GATEKEEPER_LEDGER_KEY), so it
# takes their records into its log as it takes a replica's (docs/server.md). Its dashboard and
# the DORA keys of the history end the demo (docs/dora.md).
SERVE_DIR="$OUT/serve"
rm -rf "$SERVE_DIR" && mkdir -p "$SERVE_DIR"
# Each demo run starts this history afresh: a new ledger, and the deployer's memory of the
# old one's head forgotten with it (kept, it would rightly refuse the new ledger).
rm -f "$DEPLOY_LEDGER" "$DEPLOY_LEDGER-wal" "$DEPLOY_LEDGER-shm" \
  "$SERVICE_DIR/.gatekeeper/deploy/orders-api/ledger-checkpoint.json"
"$BIN/gatekeeper" audit keygen "$SERVE_DIR/service.pem" > /dev/null || deploy_status=3
SERVE_PORT=$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SERVE_URL="http://127.0.0.1:$SERVE_PORT"
nohup "$BIN/gatekeeper" serve --state-dir "$SERVE_DIR" --ledger "$DEPLOY_LEDGER" \
  --key "$SERVE_DIR/service.pem" --port "$SERVE_PORT" > "$SERVE_DIR/serve.log" 2>&1 &
SERVE_PID=$!
"$BIN/python" - "$SERVE_URL" <<'PY' || deploy_status=3
import sys, time, urllib.request
for _ in range(150):
    try:
        urllib.request.urlopen(sys.argv[1] + "/health/ready", timeout=2).read()
        sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit("the demo's decision service did not start: see its serve.log")
PY
export GATEKEEPER_LEDGER_KEY="$SERVE_DIR/service.pem"
for VERSION in 0.1.0 0.2.0; do
  REL="$DEPLOY_OUT/releases/$VERSION"
  mkdir -p "$REL"
  (cd "$SERVICE_DIR" && tar --exclude=./.gatekeeper -cf - .) | (cd "$REL" && tar -xf -) \
    || deploy_status=3
  sed -i "s/^__version__ = .*/__version__ = \"$VERSION\"/" "$REL/src/orders_api/__init__.py"
  DIGEST=$("$BIN/gatekeeper" deploy digest "$REL") || deploy_status=3
  # commit_time: where DORA's lead time starts (the template's pipelines record the real one)
  COMMIT_TIME=$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%SZ)
  printf 'service: orders-api\nversion: %s\nartifact_digest: %s\ncommit_time: "%s"\n' \
    "$VERSION" "$DIGEST" "$COMMIT_TIME" > "$REL/release.yaml"
  # The gate judges this exact code (its digest) with the pipeline's evidence, and records it.
  (cd "$SERVICE_DIR" && "$GK_ABS" gate run --no-color --ledger "$DEPLOY_LEDGER" \
    --release "$(cd "$REL" && pwd)/release.yaml" \
    .gatekeeper/out/sbom.cdx.json .gatekeeper/out/semgrep.json > /dev/null) || deploy_status=3
done
"$BIN/gatekeeper" deploy "$DEPLOY_OUT/releases/0.1.0/release.yaml" --env dev \
  -C "$SERVICE_DIR" --ledger "$DEPLOY_LEDGER" || deploy_status=3
PROXY_PORT=$("$BIN/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["proxy"]["port"])' \
  "$SERVICE_DIR/.gatekeeper/deploy/orders-api/state.json" 2>/dev/null)
# Light steady traffic through the proxy while the canary is judged (bounded: 60 s at most).
"$BIN/python" - "${PROXY_PORT:-0}" > "$DEPLOY_OUT/load.txt" 2>&1 <<'PY' &
import http.client, signal, sys, threading, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
port, stop, counts = int(sys.argv[1]), time.monotonic() + 60, {"ok": 0, "failed": 0}
def run():
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    while time.monotonic() < stop:
        try:
            conn.request("GET", "/"); response = conn.getresponse(); response.read()
            counts["ok" if response.status < 500 else "failed"] += 1
        except (OSError, http.client.HTTPException):
            counts["failed"] += 1; conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        time.sleep(0.005)
threads = [threading.Thread(target=run, daemon=True) for _ in range(3)]
[t.start() for t in threads]
try:
    while time.monotonic() < stop: time.sleep(0.2)
finally:
    print(f"load: {counts['ok']} requests answered, {counts['failed']} failed")
PY
LOAD_PID=$!
"$BIN/gatekeeper" deploy "$DEPLOY_OUT/releases/0.2.0/release.yaml" --env dev \
  -C "$SERVICE_DIR" --ledger "$DEPLOY_LEDGER"
[ $? -le 1 ] || deploy_status=3
kill "$LOAD_PID" 2>/dev/null; wait "$LOAD_PID" 2>/dev/null
cat "$DEPLOY_OUT/load.txt"
echo
echo "== gatekeeper deploy status / history"
"$BIN/gatekeeper" deploy status -C "$SERVICE_DIR" --ledger "$DEPLOY_LEDGER" || deploy_status=3
"$BIN/gatekeeper" deploy history -C "$SERVICE_DIR" --ledger "$DEPLOY_LEDGER" || deploy_status=3
"$BIN/gatekeeper" deploy stop -C "$SERVICE_DIR" --ledger "$DEPLOY_LEDGER" || deploy_status=3
[ "$deploy_status" -eq 0 ] || status=$deploy_status
unset GATEKEEPER_LEDGER_KEY
# ---- end gatekeeper deploy ----------------------------------------------------------------------

# ---- the decision service: gate and deploy through a local `gatekeeper serve` (docs/server.md) --
# About 10-15 s: a service on loopback with its own key, tokens and ledger; the demo's bundle
# uploaded and activated on it; orders-api 0.2.0 gated through it (the service judges, signs and
# records; the client verifies the proof); the deployer takes its permission from the service;
# an auditor verifies the service's whole log with its public key. Stopped at the end.
echo
echo "== gatekeeper serve: one gate run and one deploy through a local decision service"
service_status=0
SVC="$OUT/service"
rm -rf "$SVC"
mkdir -p "$SVC"
"$BIN/gatekeeper" audit keygen "$SVC/service.pem" > /dev/null || service_status=3
SUBMIT_TOKEN=$("$BIN/gatekeeper" serve token create --state-dir "$SVC/state" \
  --project orders-api --scope submit --description "demo CI" 2>/dev/null) || service_status=3
ADMIN_TOKEN=$("$BIN/gatekeeper" serve token create --state-dir "$SVC/state" \
  --project platform --scope admin --description "demo operator" 2>/dev/null) || service_status=3
SVC_PORT=$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SVC_URL="http://127.0.0.1:$SVC_PORT"
# The organisation's selection of the library for its services (as orders-api's gatekeeper.yaml).
NAMESPACES=()
for NS in gatekeeper.sbom.present gatekeeper.sbom.freshness gatekeeper.sbom.purl \
  'gatekeeper.licenses.*' 'gatekeeper.sast.*' 'gatekeeper.vulnerabilities.*' \
  'gatekeeper.supply_chain.*' 'gatekeeper.release.*'; do NAMESPACES+=(-n "$NS"); done
"$BIN/gatekeeper" serve --state-dir "$SVC/state" --key "$SVC/service.pem" --port "$SVC_PORT" \
  "${NAMESPACES[@]}" > "$SVC/serve.log" 2>&1 &
SVC_PID=$!
trap 'kill "$SVC_PID" 2>/dev/null' EXIT
"$BIN/python" - "$SVC_URL" <<'PY' || service_status=3
import sys, time, urllib.request
deadline = time.monotonic() + 30
while True:
    try:
        with urllib.request.urlopen(sys.argv[1] + "/health/ready", timeout=2) as answer:
            if answer.status == 200:
                break
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit("the decision service did not become ready")
    time.sleep(0.2)
PY
echo "service $SVC_URL (log: $SVC/serve.log)"
export GATEKEEPER_SERVER_PUBLIC_KEY="$SVC/service.pem.pub"
BUNDLE_DIGEST=$(GATEKEEPER_TOKEN="$ADMIN_TOKEN" "$BIN/gatekeeper" serve bundle upload \
  --server "$SVC_URL" "$OUT/policies.tar.gz") || service_status=3
GATEKEEPER_TOKEN="$ADMIN_TOKEN" "$BIN/gatekeeper" serve bundle activate --server "$SVC_URL" \
  --env '*' "$BUNDLE_DIGEST" || service_status=3
REL2=$(cd "$DEPLOY_OUT/releases/0.2.0" && pwd)
(cd "$SERVICE_DIR" && GATEKEEPER_TOKEN="$SUBMIT_TOKEN" "$GK_ABS" gate run --no-color \
  --server "$SVC_URL" --release "$REL2/release.yaml" \
  .gatekeeper/out/sbom.cdx.json .gatekeeper/out/semgrep.json) || service_status=3
echo
# The deployer's own records go to the deploy history's ledger, signed with the key of the
# service that keeps it (above), as in the deploy section.
GATEKEEPER_SERVER="$SVC_URL" GATEKEEPER_TOKEN="$SUBMIT_TOKEN" \
  GATEKEEPER_LEDGER_KEY="$SERVE_DIR/service.pem" \
  "$BIN/gatekeeper" deploy "$REL2/release.yaml" --env dev -C "$SERVICE_DIR" \
  --ledger "$DEPLOY_LEDGER" || service_status=3
GATEKEEPER_LEDGER_KEY="$SERVE_DIR/service.pem" \
  "$BIN/gatekeeper" deploy stop -C "$SERVICE_DIR" --ledger "$DEPLOY_LEDGER" > /dev/null \
  || service_status=3
echo
echo "== gatekeeper audit verify --server: the service's log, checked with its public key only"
(cd "$SVC" && GATEKEEPER_TOKEN="$ADMIN_TOKEN" "$GK_ABS" audit verify \
  --server "$SVC_URL" --trusted-key "$SVC/service.pem.pub") || service_status=3
kill "$SVC_PID" 2>/dev/null; wait "$SVC_PID" 2>/dev/null
trap - EXIT
[ "$service_status" -eq 0 ] || status=$service_status
# ---- end decision service -----------------------------------------------------------------------

# ---- DORA keys and the auditors' dashboard (docs/dora.md) --------------------------------------
echo
echo "== an incident after the rollout, recorded through the decision service (as an alerting tool would)"
dora_status=0
SUBMIT=$("$BIN/gatekeeper" serve token create --state-dir "$SERVE_DIR" --project orders-api \
  --scope submit --description "demo alerting" 2>/dev/null) || dora_status=3
INCIDENT=$(GATEKEEPER_SERVER="$SERVE_URL" GATEKEEPER_TOKEN="$SUBMIT" \
  GATEKEEPER_SERVER_PUBLIC_KEY="$SERVE_DIR/service.pem.pub" \
  "$BIN/gatekeeper" deploy incident open -C "$SERVE_DIR" --service orders-api --env dev \
  --summary "demo: 5xx on / after the rollout" --format json \
  | "$BIN/python" -c 'import json, sys; print(json.load(sys.stdin)["incident_id"])') || dora_status=3
echo "incident $INCIDENT opened: linked to the newest promoted deployment of orders-api to dev"
GATEKEEPER_SERVER="$SERVE_URL" GATEKEEPER_TOKEN="$SUBMIT" \
  GATEKEEPER_SERVER_PUBLIC_KEY="$SERVE_DIR/service.pem.pub" \
  "$BIN/gatekeeper" deploy incident resolve "$INCIDENT" -C "$SERVE_DIR" \
  --summary "demo: restored" || dora_status=3
AUDITOR=$("$BIN/gatekeeper" serve token create --state-dir "$SERVE_DIR" --project auditors \
  --scope admin --description "demo dashboard" 2>/dev/null) || dora_status=3
echo
echo "== gatekeeper audit dora: the four keys of today's history (environment dev)"
TODAY=$(date -u +%Y-%m-%d)
"$BIN/gatekeeper" audit dora --ledger "$DEPLOY_LEDGER" --env dev --from "$TODAY" --to "$TODAY" \
  || dora_status=3
echo
echo "dashboard of the demo's decision service: $SERVE_URL/dashboard/"
echo "  sign in with the token $AUDITOR"
if [ "${GATEKEEPER_DEMO_STOP_SERVICE:-}" = "1" ]; then
  kill "$SERVE_PID" 2>/dev/null; wait "$SERVE_PID" 2>/dev/null
  echo "  (stopped: GATEKEEPER_DEMO_STOP_SERVICE=1)"
else
  echo "  (the service keeps running for you; stop it with: kill $SERVE_PID)"
fi
[ "$dora_status" -eq 0 ] || status=$dora_status
# ---- end DORA and dashboard ---------------------------------------------------------------------

# The example is meant to fail its gate; only an error (2/3) fails the demo.
[ "$status" -le 1 ]
