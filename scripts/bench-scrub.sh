#!/bin/sh
# Scrubber overhead (figures in docs/privacy.md). The two gathers of scripts/bench-gather.sh
# against the test API server (examples/gather_bench_server.rs): a 1 GiB container log filtered
# to the lines matching 'slow fdatasync', and 10,000 ConfigMaps listed with pagination. For each:
# the CPU time (user + sys) of `rrctl gather`, scrubbing included, and the CPU time the scrubber
# alone takes over the same archived files (examples/scrub_bench.rs, single threaded).
# Needs GNU time.
set -eu
cd "$(dirname "$0")/.."
LOG_MIB=${LOG_MIB:-1024}
CONFIGMAPS=${CONFIGMAPS:-10000}
cargo build --release --bin rrctl --example gather_bench_server --example scrub_bench 2>&1 | tail -1
rrctl=target/release/rrctl
tmp=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
target/release/examples/gather_bench_server --log-mib "$LOG_MIB" --configmaps "$CONFIGMAPS" \
  --kubeconfig "$tmp/kubeconfig" > "$tmp/server.out" 2> "$tmp/server.err" &
server_pid=$!
while ! grep -q '^url:' "$tmp/server.out" 2>/dev/null; do sleep 0.1; done

mkdir -p "$tmp/logs/bench" "$tmp/list/bench"
cat > "$tmp/logs/bench/bench-logs.yaml" <<'YAML'
apiVersion: rapid.insights.openshift.io/v1
kind: GatheringDefinition
id: bench-logs
title: filter a big log
owner: bench
justification: Benchmark of log filtering through the API server.
versions: "*"
gather:
  - containerLogs:
      namespace: openshift-bench
      podNameRegex: "^big$"
      messages: ["slow fdatasync"]
      sinceSeconds: 86400
      maxBytes: 8388608
YAML
cat > "$tmp/list/bench/bench-list.yaml" <<'YAML'
apiVersion: rapid.insights.openshift.io/v1
kind: GatheringDefinition
id: bench-list
title: list many objects
owner: bench
justification: Benchmark of paginated lists through the API server.
versions: "*"
gather:
  - resources:
      group: ""
      version: v1
      kind: ConfigMap
      namespace: openshift-bench
YAML
common="--kubeconfig $tmp/kubeconfig --ocp-version 4.16.3 --cluster-id bench"
for run in logs list; do
  echo "== rrctl gather ($run), scrubbing included"
  /usr/bin/time -f "  wall %e s, CPU user %U s + sys %S s, peak RSS %M KiB" \
    $rrctl -q gather --definitions "$tmp/$run" $common --out "$tmp/$run.tar.gz"
done
echo "== the scrubber alone over the same archived files"
target/release/examples/scrub_bench "$tmp/logs.tar.gz" "$tmp/list.tar.gz" | sed "s|$tmp/||"
