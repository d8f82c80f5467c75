#!/usr/bin/env bash
# Benchmark `rrctl build` (release) on generated corpora and print wall time and peak memory.
#
#   scripts/bench-build.sh [WORKDIR]      (default: a fresh temporary directory)
#
# 1. N definitions with bug-specific ranges (default 10000, BENCH_COUNT; bounds at released
#    z-streams and pre-releases of 4.10-4.20, no conditional rules: `legacy/` is left out) and the
#    1,000-definition variant, built from scratch;
# 1b. the format 1 benchmark corpus (`gen_corpus --ranges broad`: whole-stream ranges and 40
#    conditional rules, so the legacy export is written), for comparison;
# 2. the existing repository layout with one rule plus 100 and 400 container-log requests
#    (2 messages each), imported with `rrctl import-legacy`, then built;
# 3. the real gathering-conditions content (fixtures/upstream), imported, then built.
# Peak RSS comes from GNU time (`/usr/bin/time -v`); hyperfine, when installed, gives mean ± σ.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
count="${BENCH_COUNT:-10000}"
issued="2025-06-01T00:00:00Z"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"

cd "$here"
cargo build --release --quiet --bin rrctl --example gen_corpus
rrctl="$CARGO_TARGET_DIR/release/rrctl"
gen="$CARGO_TARGET_DIR/release/examples/gen_corpus"
export RRCTL_TODAY=2025-06-01
unset SOURCE_DATE_EPOCH RRCTL_INDEX_KEY RRCTL_HEAD_KEY

measure() { # name, then the command
  local name="$1"; shift
  local log="$work/$name.time"
  # Warm-up run (page cache, development keys), then the measured one.
  "$@" >/dev/null 2>&1 || true
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -v "$@" >/dev/null 2>"$log" || { cat "$log"; echo "FAILED: $name"; return 1; }
    local wall rss
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log")
    printf '%-28s wall %-9s peak RSS %6.1f MB\n' "$name" "$wall" "$(echo "$rss / 1024" | bc -l)"
  else
    local t0 t1
    t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N)
    printf '%-28s wall %.3f s (install GNU time for peak RSS)\n' "$name" "$(echo "$t1 - $t0" | bc -l)"
  fi
  if command -v hyperfine >/dev/null; then
    hyperfine --warmup 1 --runs "${BENCH_RUNS:-10}" --style basic --export-markdown "$work/$name.md" \
      "$(printf '%q ' "$@")" 2>/dev/null | sed -n 's/^ *Time (mean ± σ): */    hyperfine mean ± σ: /p'
  fi
}

echo "workdir: $work ($(nproc) cores)"
rm -rf "$work/corpus" "$work/corpus1000" "$work/corpus-broad" "$work/legacy100" "$work/legacy400" \
  "$work/defs100" "$work/defs400" "$work/real"
"$gen" --count "$count" --ranges bug --out "$work/corpus"
"$gen" --count 1000 --ranges bug --out "$work/corpus1000"
"$gen" --count "$count" --ranges broad --out "$work/corpus-broad"
"$gen" --legacy-log-requests 100 --out "$work/legacy100"
"$gen" --legacy-log-requests 400 --out "$work/legacy400"
"$rrctl" -q import-legacy "$work/legacy100" --out "$work/defs100"
"$rrctl" -q import-legacy "$work/legacy400" --out "$work/defs400"
"$rrctl" -q import-legacy "$here/fixtures/upstream/gathering-conditions" --out "$work/real"

common=(--issued-at "$issued" --dev-dir "$work/devkeys" -q)
measure "build ${count} bug-specific" "$rrctl" build "$work/corpus" --out "$work/dist-corpus" "${common[@]}"
measure "build 1000 bug-specific" "$rrctl" build "$work/corpus1000" --out "$work/dist-corpus1000" "${common[@]}"
measure "build ${count} broad (legacy)" "$rrctl" build "$work/corpus-broad" --out "$work/dist-broad" "${common[@]}"
measure "build 100 log requests" "$rrctl" build "$work/defs100" --out "$work/dist100" "${common[@]}"
measure "build 400 log requests" "$rrctl" build "$work/defs400" --out "$work/dist400" "${common[@]}"
measure "build real content" "$rrctl" build "$work/real" --out "$work/dist-real" "${common[@]}"
measure "import 400 log requests" "$rrctl" -q import-legacy "$work/legacy400" --out "$work/defs400b" --force

echo
for d in dist-corpus dist-corpus1000 dist-broad; do
  bytes=$(find "$work/$d" -path "$work/$d/legacy" -prune -o -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
  legacy=$( [ -d "$work/$d/legacy" ] && du -sb "$work/$d/legacy" | cut -f1 || echo 0)
  printf '%-16s %3d index ranges, %3d bundles, %6.1f MB without legacy/, legacy/ %6.1f MB\n' "$d" \
    "$(find "$work/$d/index" -type f -exec sh -c 'jq -r .payload "$1" | base64 -d | jq ".ranges | length"' _ {} \; 2>/dev/null || echo 0)" \
    "$(find "$work/$d/bundles" -type f | wc -l)" "$(echo "$bytes / 1000000" | bc -l)" "$(echo "$legacy / 1000000" | bc -l)"
done
