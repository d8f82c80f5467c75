#!/bin/sh
# Gather benchmarks against the test API server (examples/gather_bench_server.rs):
#  1. filter a 1 GiB container log (10.7 M lines, one in 1,000 matching) with `rrctl gather`,
#     peak RSS and time, next to `kubectl logs … | grep -E` against the same server in the same run;
#  2. list 10,000 ConfigMaps of one namespace with pagination (time, RSS, requests).
# Needs kubectl and GNU time. Figures go into README.md (Benchmarks).
set -eu
cd "$(dirname "$0")/.."
LOG_MIB=${LOG_MIB:-1024}
CONFIGMAPS=${CONFIGMAPS:-10000}
PROFILE=${PROFILE:-release}   # PROFILE=debug only to try the script quickly
if [ "$PROFILE" = release ]; then
  cargo build --release --bin rrctl --example gather_bench_server 2>&1 | tail -1
else
  cargo build --bin rrctl --example gather_bench_server 2>&1 | tail -1
fi
rrctl=target/$PROFILE/rrctl
tmp=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
target/$PROFILE/examples/gather_bench_server --log-mib "$LOG_MIB" --configmaps "$CONFIGMAPS" \
  --kubeconfig "$tmp/kubeconfig" > "$tmp/server.out" 2> "$tmp/server.err" &
server_pid=$!
while ! grep -q '^url:' "$tmp/server.out" 2>/dev/null; do sleep 0.1; done

mkdir -p "$tmp/logs/bench" "$tmp/list/bench"
cat > "$tmp/logs/bench/bench-logs.yaml" <<'YAML'
# yaml-language-server: $schema=../../schema/definition.schema.json
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
# yaml-language-server: $schema=../../schema/definition.schema.json
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

echo "== rrctl gather: ${LOG_MIB} MiB log, keep lines matching 'slow fdatasync'"
/usr/bin/time -f "wall %e s, user %U s, sys %S s, peak RSS %M KiB" \
  $rrctl -q gather --definitions "$tmp/logs" $common --out "$tmp/logs.tar.gz"
tar -xzOf "$tmp/logs.tar.gz" namespaces/openshift-bench/pods/big/app/current.log | wc -l | sed 's/^/  lines kept: /'

echo "== kubectl logs --timestamps | grep -E (same server, same log)"
/usr/bin/time -f "wall %e s, user %U s, sys %S s, peak RSS (kubectl) %M KiB" \
  sh -c "kubectl --kubeconfig $tmp/kubeconfig logs -n openshift-bench big -c app --since=24h --timestamps | grep -E 'slow fdatasync' | wc -l | sed 's/^/  lines kept: /'"

echo "== rrctl gather: list ${CONFIGMAPS} ConfigMaps (limit 500 + continue)"
/usr/bin/time -f "wall %e s, user %U s, sys %S s, peak RSS %M KiB" \
  $rrctl -q gather --definitions "$tmp/list" $common --out "$tmp/list.tar.gz"
tar -tzf "$tmp/list.tar.gz" | grep -c '^namespaces/openshift-bench/core/configmaps/' | sed 's/^/  objects archived: /'
ls -l "$tmp/list.tar.gz" | awk '{print "  archive bytes: " $5}'

kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
echo "== requests the server answered (whole run)"
cat "$tmp/server.err"
