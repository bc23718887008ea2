#!/usr/bin/env bash
# Record the example history into a ledger: examples/history/record.sh BIN_DIR LEDGER [-p POLICY ...]
# Each release's gate run is recorded (exit 1 — the policy said no — is expected for some).
set -uo pipefail
BIN=${1:?usage: record.sh BIN_DIR LEDGER [gate run options]}
LEDGER=${2:?usage: record.sh BIN_DIR LEDGER [gate run options]}
shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
for release in orders-api-2.0.0 orders-api-2.1.0 billing-worker-0.9.0 search-ui-3.2.1 search-ui-3.2.2; do
  dir="$HERE/$release"
  "$BIN/gatekeeper" gate run --ledger "$LEDGER" --release "$dir/release.yaml" --format json "$@" \
    "$dir/sbom.cdx.json" "$dir/grype.json" > /dev/null
  status=$?
  if [ "$status" -gt 1 ]; then
    echo "record.sh: gate run failed with exit $status for $release" >&2
    exit "$status"
  fi
  echo "recorded $release (exit $status)"
done
