#!/usr/bin/env bash
# Benchmark `rrctl publish`: a real signed build of N generated definitions (development keys,
# issued now) published to a local S3 server (moto_server on loopback) and to a local directory,
# then re-published without changes. Prints wall times and the requests made (rrctl's own
# counters, and moto's request log).
#
# Usage: scripts/bench-publish.sh [DEFINITIONS]   (default 10000)
# Needs: moto_server (pip install 'moto[server]'), curl, python3, bc.
set -euo pipefail

DEFS="${1:-10000}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HERE/target}"
(cd "$HERE" && cargo build --release --quiet --bin rrctl --example gen_corpus)
RRCTL="$CARGO_TARGET_DIR/release/rrctl"
command -v moto_server >/dev/null || { echo "moto_server not found (pip install 'moto[server]')" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl not found" >&2; exit 2; }

WORK="$(mktemp -d)"
MOTO_PID=""
cleanup() {
  if [ -n "$MOTO_PID" ]; then kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== building a dist of $DEFS generated definitions"
"$CARGO_TARGET_DIR/release/examples/gen_corpus" --count "$DEFS" --out "$WORK/corpus" >/dev/null
"$RRCTL" -q build "$WORK/corpus" --out "$WORK/dist" --dev-dir "$WORK/keys" \
  --issued-at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" 2>/dev/null
FILES=$(find "$WORK/dist" -type f | wc -l)
BYTES=$(du -sb "$WORK/dist" | cut -f1)
echo "   $FILES files, $BYTES bytes"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
curl -sf -X PUT "http://127.0.0.1:$PORT/bench" >/dev/null
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1
S3=(--to s3://bench/rr --endpoint "http://127.0.0.1:$PORT" --allow-http --stats --progress none --allow-dev-keys)

moto_requests() { grep -cE '"(GET|PUT|HEAD|POST|DELETE) ' "$WORK/moto.log" || true; }
run() { # label, args...
  local label="$1"; shift
  local before; before=$(moto_requests)
  local t0 t1; t0=$(date +%s.%N)
  "$RRCTL" publish "$WORK/dist" "$@" | tail -2
  t1=$(date +%s.%N)
  local after; after=$(moto_requests)
  printf '   %s: %.2f s wall' "$label" "$(echo "$t1 - $t0" | bc)"
  if [[ "$*" == *s3://* ]]; then printf ', %s HTTP requests in the moto log' "$((after - before))"; fi
  echo
}

echo "== S3 (moto_server on loopback)"
run "first publish" "${S3[@]}"
run "no-change re-publish" "${S3[@]}"
echo "== local directory"
run "first publish" --to "$WORK/target" --stats --progress none --allow-dev-keys
run "no-change re-publish" --to "$WORK/target" --stats --progress none --allow-dev-keys
