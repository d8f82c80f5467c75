#!/usr/bin/env bash
# Benchmark `rrctl validate` (release): 10,000 generated definitions, and one definition
# (process start included). Prints hyperfine figures (mean ± σ, user and system time).
#
#   scripts/bench-validate.sh [WORKDIR]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
count="${BENCH_COUNT:-10000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"
cd "$here"
cargo build --release --quiet --bin rrctl --example gen_corpus
rrctl="$CARGO_TARGET_DIR/release/rrctl"
command -v hyperfine >/dev/null || { echo "hyperfine is needed (apt-get install hyperfine)" >&2; exit 1; }
export RRCTL_TODAY=2025-06-01
rm -rf "$work/corpus"
"$CARGO_TARGET_DIR/release/examples/gen_corpus" --count "$count" --out "$work/corpus" >/dev/null
one=$(find "$work/corpus" -name '*.yaml' | LC_ALL=C sort | sed -n 1p)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
hyperfine -N --warmup 2 --runs "${BENCH_RUNS:-10}" --style basic \
  "$rrctl validate $work/corpus" \
  "$rrctl validate $one" \
  "$rrctl validate $here/definitions"
