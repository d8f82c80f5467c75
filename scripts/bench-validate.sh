#!/usr/bin/env bash
# Benchmark `rrctl validate` (release): 10,000 generated definitions, one definition (process
# start included), and the merged-regex worst case of issue 10: 1,000 files for one namespace and
# pod pattern with 64 messages `\w{8}-N-I` each (every one valid alone, their union far above the
# limit). Prints hyperfine figures (mean ± σ, user and system time) and the worst case's peak RSS.
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
# The merged-regex worst case.
rm -rf "$work/merged"
mkdir -p "$work/merged/etcd"
for n in $(seq 0 999); do
  {
    printf '%s\n' '# yaml-language-server: $schema=../../schema/definition.schema.json' \
      "apiVersion: rapid.insights.openshift.io/v1" "kind: GatheringDefinition" "id: etcd-slow-$n" \
      "title: etcd warns about slow disk fsync" "owner: etcd" "justification: Benchmark of the merged message regex check." 'versions: ">=4.14.0-0"' \
      "gather:" "  - containerLogs:" "      namespace: openshift-etcd" '      podNameRegex: "^etcd-"' "      messages:"
    for i in $(seq 0 63); do printf "        - '%s'\n" "\\w{8}-$n-$i"; done
  } > "$work/merged/etcd/etcd-slow-$n.yaml"
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
hyperfine -N --warmup 2 --runs "${BENCH_RUNS:-10}" --style basic \
  "$rrctl validate $work/corpus" \
  "$rrctl validate $one" \
  "$rrctl validate $here/definitions"
# Exit 1 (regex-merged-too-large) is the expected result of the worst case.
hyperfine -N --warmup 1 --runs "${BENCH_RUNS:-10}" --style basic -i "$rrctl validate --format json $work/merged"
if command -v /usr/bin/time >/dev/null; then
  /usr/bin/time -f "merged worst case: %e s wall, peak RSS %M KB" "$rrctl" validate --format json "$work/merged" >/dev/null || true
fi
