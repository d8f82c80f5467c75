#!/usr/bin/env bash
# Benchmark the cluster side's steady state: one `rrctl fetch` poll that finds no change (a root
# probe answered 404 and a conditional GET of head.json answered 304) against `rrctl serve` on
# loopback, process start included. Prints the wall time, CPU time (user + system, from
# wait4(2)) and peak RSS of each poll's process as medians; the peak RSS of a fetch that meets a
# 100 MiB head.json; and the sizes a cluster downloads for a new release.
#
# Usage: scripts/bench-fetch.sh [POLLS]   (default 20; RRCTL=path/to/rrctl measures that binary
# instead of building the release one)
# Needs: python3, GNU time (/usr/bin/time).
set -euo pipefail

POLLS="${1:-20}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HERE/target}"
if [ -z "${RRCTL:-}" ]; then
  (cd "$HERE" && cargo build --release --quiet --bin rrctl)
  RRCTL="$CARGO_TARGET_DIR/release/rrctl"
fi
[ -x /usr/bin/time ] || { echo "GNU time not found at /usr/bin/time (apt-get install time)" >&2; exit 2; }

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Start `rrctl serve DIR` on a port it picks itself; prints the base URL.
serve() {
  "$RRCTL" serve "$1" --addr 127.0.0.1:0 >"$2" 2>/dev/null &
  PIDS+=($!)
  for _ in $(seq 1 200); do grep -q "listening on" "$2" 2>/dev/null && break; sleep 0.05; done
  echo "$(sed -n 's/^listening on //p' "$2" | head -1)/"
}

echo "== building and signing the repository's definitions (development keys, issued now)"
"$RRCTL" -q build "$HERE/definitions" --out "$WORK/dist" --dev-dir "$WORK/keys" \
  --issued-at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" 2>/dev/null
BASE="$(serve "$WORK/dist" "$WORK/serve.out")"
echo "   serving at $BASE"
FETCH=("$RRCTL" fetch "$BASE" --root "$WORK/keys/root/1.json" --state-dir "$WORK/state" --ocp-version 4.16.3
  --cluster-id bench)
"${FETCH[@]}" >/dev/null

echo "== $POLLS no-change polls (process start, state re-verification, 2 HTTP requests, status.json)"
cat >"$WORK/polls.py" <<'PY'
import os, statistics, subprocess, sys, time
n, cmd = int(sys.argv[1]), sys.argv[2:]
rows = []
for _ in range(n):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    out = p.stdout.read().decode()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    assert os.waitstatus_to_exitcode(status) == 0, out
    assert out.startswith("no change: head.json not modified (304)"), out
    rows.append((wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024))
wall, cpu, rss = zip(*rows)
ms = lambda v: f"{v * 1000:.1f} ms"
print(f"   wall   median {ms(statistics.median(wall))} (min {ms(min(wall))}, max {ms(max(wall))})")
print(f"   CPU    median {ms(statistics.median(cpu))} user+system (min {ms(min(cpu))}, max {ms(max(cpu))})")
print(f"   RSS    median {statistics.median(rss):.1f} MiB, max {max(rss):.1f} MiB")
PY
python3 "$WORK/polls.py" "$POLLS" "${FETCH[@]}"

# A hostile CDN: a 100 MiB head.json, refused at the 16 KiB cap in bounded memory.
cp -r "$WORK/dist" "$WORK/hostile"
head -c $((100 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$WORK/hostile/head.json"
BASE2="$(serve "$WORK/hostile" "$WORK/serve2.out")"
set +e
/usr/bin/time -f "%M" -o "$WORK/time.hostile" "$RRCTL" fetch "$BASE2" --root "$WORK/keys/root/1.json" \
  --state-dir "$WORK/state" --ocp-version 4.16.3 >/dev/null 2>"$WORK/hostile.err"
CODE=$?
set -e
echo "== 100 MiB head.json: exit $CODE, $(grep -o 'fetch failed ([A-Za-z]*)' "$WORK/hostile.err"), peak RSS $(tail -1 "$WORK/time.hostile" | awk '{printf "%.1f MiB", $1/1024}')"

cat >"$WORK/sizes.py" <<'PY'
import base64, json, os, sys
dist = sys.argv[1]
head = open(f"{dist}/head.json", "rb").read()
payload = json.loads(base64.b64decode(json.loads(head)["payload"]))
index = os.path.getsize(f"{dist}/{payload['index']['path']}")
bundles = [os.path.getsize(f"{dist}/bundles/{b}") for b in os.listdir(f"{dist}/bundles")]
print(f"== sizes: head.json {len(head)} B, index {index} B, bundles {min(bundles)}-{max(bundles)} B")
PY
python3 "$WORK/sizes.py" "$WORK/dist"
