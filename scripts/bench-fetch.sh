#!/usr/bin/env bash
# Benchmark the cluster side's steady state: one `rrctl fetch` poll that finds no change (a root
# probe answered 404 and a conditional GET of head.json answered 304) against `rrctl serve` on
# loopback, process start included. Prints CPU time (user + system), wall time and peak RSS of
# each poll, their medians, and the sizes a fleet would download.
#
# Usage: scripts/bench-fetch.sh [POLLS]   (default 20)
# Needs: GNU time (/usr/bin/time), python3.
set -euo pipefail

POLLS="${1:-20}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HERE/target}"
(cd "$HERE" && cargo build --release --quiet --bin rrctl)
RRCTL="$CARGO_TARGET_DIR/release/rrctl"
[ -x /usr/bin/time ] || { echo "GNU time not found at /usr/bin/time (apt-get install time)" >&2; exit 2; }

WORK="$(mktemp -d)"
SERVE_PID=""
cleanup() {
  if [ -n "$SERVE_PID" ]; then kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== building and signing the repository's definitions (development keys, issued now)"
"$RRCTL" -q build "$HERE/definitions" --out "$WORK/dist" --dev-dir "$WORK/keys" \
  --issued-at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" 2>/dev/null

# rrctl serve binds port 0 itself and prints the address.
"$RRCTL" serve "$WORK/dist" --addr 127.0.0.1:0 >"$WORK/serve.out" 2>/dev/null &
SERVE_PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/serve.out" 2>/dev/null && break; sleep 0.05; done
BASE="$(sed -n 's/^listening on //p' "$WORK/serve.out" | head -1)/"
echo "   serving at $BASE"

FETCH=("$RRCTL" fetch "$BASE" --root "$WORK/keys/root/1.json" --state-dir "$WORK/state" --ocp-version 4.16.3
  --cluster-id bench)
"${FETCH[@]}" >/dev/null
echo "== $POLLS no-change polls (process start, state re-verification, 2 HTTP requests, status.json)"
for i in $(seq 1 "$POLLS"); do
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.$i" "${FETCH[@]}" >"$WORK/out.$i"
  grep -q "^no change: head.json not modified (304)" "$WORK/out.$i" || { cat "$WORK/out.$i"; exit 1; }
done
# A hostile CDN: a 100 MiB head.json. The fetch must refuse it at the 16 KiB cap, in bounded
# memory.
cp -r "$WORK/dist" "$WORK/hostile"
head -c $((100 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$WORK/hostile/head.json"
"$RRCTL" serve "$WORK/hostile" --addr 127.0.0.1:0 >"$WORK/serve2.out" 2>/dev/null &
SERVE2_PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/serve2.out" 2>/dev/null && break; sleep 0.05; done
BASE2="$(sed -n 's/^listening on //p' "$WORK/serve2.out" | head -1)/"
set +e
/usr/bin/time -f "%e %U %S %M" -o "$WORK/time.hostile" "$RRCTL" fetch "$BASE2" --root "$WORK/keys/root/1.json" \
  --state-dir "$WORK/state" --ocp-version 4.16.3 >/dev/null 2>"$WORK/hostile.err"
CODE=$?
set -e
kill "$SERVE2_PID" 2>/dev/null || true; wait "$SERVE2_PID" 2>/dev/null || true
echo "== 100 MiB head.json: exit $CODE, $(grep -o 'fetch failed ([A-Za-z]*)' "$WORK/hostile.err"), peak RSS $(awk '{printf "%.1f MiB", $4/1024}' "$WORK/time.hostile")"

python3 - "$WORK" "$POLLS" <<'EOF'
import json, os, statistics, sys, base64
work, n = sys.argv[1], int(sys.argv[2])
rows = [list(map(float, open(f"{work}/time.{i}").read().split())) for i in range(1, n + 1)]
wall = [r[0] for r in rows]; cpu = [r[1] + r[2] for r in rows]; rss = [r[3] / 1024 for r in rows]
print(f"   wall   median {statistics.median(wall)*1000:.0f} ms (min {min(wall)*1000:.0f}, max {max(wall)*1000:.0f})")
print(f"   CPU    median {statistics.median(cpu)*1000:.0f} ms user+system (GNU time resolution 10 ms)")
print(f"   RSS    median {statistics.median(rss):.1f} MiB, max {max(rss):.1f} MiB")
dist = f"{work}/dist"
head = open(f"{dist}/head.json", "rb").read()
payload = json.loads(base64.b64decode(json.loads(head)["payload"]))
index = os.path.getsize(f"{dist}/{payload['index']['path']}")
bundles = [os.path.getsize(f"{dist}/bundles/{b}") for b in os.listdir(f"{dist}/bundles")]
print(f"   sizes  head.json {len(head)} B, index {index} B, bundles {min(bundles)}-{max(bundles)} B")
EOF
