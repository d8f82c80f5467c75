#!/usr/bin/env bash
# Benchmark `rrctl publish`: a synthetic 10,000-definition dist (bundles per version interval,
# index, head, roots, legacy files, in the layout of ARCHITECTURE.md) published to a local S3
# server (moto_server on loopback) and to a local directory, then re-published without changes.
# Prints wall times and the requests made (rrctl's own counters, and moto's request log).
#
# Usage: scripts/bench-publish.sh [DEFINITIONS]   (default 10000)
# Needs: moto_server (pip install 'moto[server]'), curl, python3, a built rrctl
# (RRCTL=path/to/rrctl, else $CARGO_TARGET_DIR/debug/rrctl or target/debug/rrctl).
set -euo pipefail

DEFS="${1:-10000}"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
RRCTL="${RRCTL:-${CARGO_TARGET_DIR:-$HERE/target}/debug/rrctl}"
[ -x "$RRCTL" ] || { echo "rrctl not found at $RRCTL (cargo build, or set RRCTL)" >&2; exit 2; }
command -v moto_server >/dev/null || { echo "moto_server not found (pip install 'moto[server]')" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl not found" >&2; exit 2; }

WORK="$(mktemp -d)"
MOTO_PID=""
cleanup() {
  if [ -n "$MOTO_PID" ]; then kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== generating a dist with $DEFS definitions"
python3 - "$WORK/dist" "$DEFS" <<'PY'
import base64, hashlib, json, os, random, sys, time
out, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
def canon(v): return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
def sha(b): return hashlib.sha256(b).hexdigest()
def env(role, payload):
    return canon({"payloadType": f"application/vnd.rrctl.{role}+json",
                  "payload": base64.b64encode(canon(payload)).decode(), "signatures": []})
def write(rel, b):
    p = os.path.join(out, rel); os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f: f.write(b)
def ts(s): return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s))
# Version interval boundaries: 4.0 .. 4.21, plus 0.0.0-0.
bounds = ["0.0.0-0"] + [f"4.{m}.0-0" for m in range(0, 22)]
k = len(bounds)
defs = []
for i in range(n):
    lo = rnd.randrange(1, k); hi = rnd.randrange(lo, k + 1)
    defs.append((lo, hi, {"id": f"team-{i % 40:02d}/recommendation-{i:05d}", "gatherer": "resources",
                          "resources": [{"kind": "ConfigMap", "namespace": f"openshift-ns-{i % 97}",
                                         "fields": ["metadata.name", "data"]}],
                          "owner": f"team-{i % 40:02d}", "description": "synthetic definition " + "x" * 60}))
now = int(time.time())
ranges = []
for j in range(k):
    members = [d for lo, hi, d in defs if lo <= j < hi]
    b = canon({"_type": "rrctl/bundle", "spec_version": 1, "repo": "bench/repo", "definitions": sorted(members, key=lambda d: d["id"])})
    path = f"bundles/{sha(b)}.json"; write(path, b)
    ranges.append({"from": bounds[j], "to": bounds[j + 1] if j + 1 < k else None,
                   "bundle": {"path": path, "sha256": sha(b), "length": len(b)}})
    write(f"legacy/v2/remote_configurations/{j:03d}.json", canon({"version": bounds[j], "conditional_gathering_rules": [], "container_logs": []}))
idx = env("index", {"_type": "rrctl/index", "spec_version": 1, "repo": "bench/repo", "channel": "stable", "version": now,
                    "issued_at": ts(now), "expires": ts(now + 30 * 86400), "ranges": ranges,
                    "source": {"git_commit": "0" * 40, "rrctl_version": "0.1.0"}})
ipath = f"index/{sha(idx)}.json"; write(ipath, idx)
root = env("root", {"_type": "rrctl/root", "spec_version": 1, "repo": "bench/repo", "version": 1,
                    "issued_at": ts(now), "expires": ts(now + 3650 * 86400), "keys": {}, "roles": {}})
write("root/1.json", root)
head = env("head", {"_type": "rrctl/head", "spec_version": 1, "repo": "bench/repo", "channel": "stable", "version": now,
                    "issued_at": ts(now), "expires": ts(now + 7 * 86400), "root_version": 1,
                    "index": {"path": ipath, "sha256": sha(idx), "length": len(idx), "version": now}})
write("head.json", head); write(f"head/{now}.json", head)
write("schema/definition.schema.json", canon({"type": "object"}))
write("legacy/v1/rules.json", canon({"version": "1", "rules": []}))
write("legacy/v2/cluster_version_mapping.json", canon([{"version": b, "file": f"{j:03d}.json"} for j, b in enumerate(bounds)]))
PY
FILES=$(find "$WORK/dist" -type f | wc -l)
BYTES=$(du -sb "$WORK/dist" | cut -f1)
echo "   $FILES files, $BYTES bytes"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
curl -sf -X PUT "http://127.0.0.1:$PORT/bench" >/dev/null
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1
S3=(--to s3://bench/rr --endpoint "http://127.0.0.1:$PORT" --allow-http --stats --progress none)

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
run "first publish" --to "$WORK/target" --stats --progress none
run "no-change re-publish" --to "$WORK/target" --stats --progress none
