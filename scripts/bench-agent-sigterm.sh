#!/usr/bin/env bash
# Benchmark the agent's shutdown: SIGTERM at a random moment of N agent runs (default 100,
# BENCH_RUNS) against servers that stall, and check after every one that the agent exited within
# 5 s and that the state, the active bundle and the archives written before are intact.
#
#   scripts/bench-agent-sigterm.sh [WORKDIR]      (default: a fresh temporary directory)
#
# Set-up (release build): a dist of one definition (every ClusterOperator) built by
# `rrctl build`, served by `rrctl serve` behind a stand-in (python3) that per run either passes
# requests through or never answers (the fetch stalls); a stand-in API server that per run either
# never answers (the gather stalls) or answers 404 to everything (the gather finishes quickly,
# with failed gatherers, and writes an archive); a stand-in ingress that never answers (the
# upload stalls). Each run starts `rrctl agent --interval 1s` on the same state and archive
# directories, waits a random 0-4 s (start-up, fetch, gather, upload or the wait between
# cycles), sends SIGTERM and measures the time to exit. Afterwards: state.json parses, the active
# bundle's file has its sha256, status.json parses, every archive present before the run is still
# there with the same bytes, no temporary file is left, and archives.json parses.
#
# Prints one line per failed run and a summary (runs, failures, exit time p50/p90/max, phases
# hit); exits 1 when any run failed.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
runs="${BENCH_RUNS:-100}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"
cd "$here"
cargo build --release --quiet --bin rrctl
rrctl="$CARGO_TARGET_DIR/release/rrctl"
export RRCTL_TODAY=2026-11-26
unset SOURCE_DATE_EPOCH RRCTL_INDEX_KEY RRCTL_HEAD_KEY RRCTL_NOW KUBECONFIG
mkdir -p "$work"
cd "$work"
rm -rf defs dist dev state archives modes logs
mkdir -p defs/platform modes logs

cat > defs/platform/cluster-operators.yaml <<'EOF'
apiVersion: rapid.insights.openshift.io/v1
kind: GatheringDefinition
id: cluster-operators
title: cluster-operators
owner: platform
justification: Benchmark content for the agent's shutdown.
versions: "*"
gather:
  - resources:
      group: config.openshift.io
      version: v1
      kind: ClusterOperator
EOF
"$rrctl" build defs --out dist --dev-dir dev >/dev/null

# The stand-in: mode file per server, read at every request: `stall`, `notfound` or `proxy URL`.
cat > standin.py <<'EOF'
import http.server, socketserver, sys, time, urllib.request
mode_file, port_file = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def handle_any(self):
        n = int(self.headers.get("content-length") or 0)
        if n: self.rfile.read(n)
        mode = open(mode_file).read().split()
        if mode[0] == "stall":
            time.sleep(3600); return
        if mode[0] == "notfound":
            body = b'{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}'
            self.send_response(404); self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body))); self.end_headers(); self.wfile.write(body); return
        req = urllib.request.Request(mode[1].rstrip("/") + self.path, headers={k: v for k, v in self.headers.items() if k.lower() in ("if-none-match", "user-agent")})
        try:
            r = urllib.request.urlopen(req, timeout=30); status, body, hdrs = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, body, hdrs = e.code, e.read(), e.headers
        self.send_response(status)
        for k in ("etag", "content-type"):
            if hdrs.get(k): self.send_header(k, hdrs.get(k))
        self.send_header("content-length", str(len(body))); self.end_headers(); self.wfile.write(body)
    do_GET = do_POST = handle_any
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(("127.0.0.1", 0), H)
open(port_file, "w").write(str(s.server_address[1]))
s.serve_forever()
EOF

pids=()
agent_pid=""
cleanup() { for p in "${pids[@]}" $agent_pid; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

"$rrctl" serve dist --addr 127.0.0.1:0 > logs/serve.out 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" logs/serve.out 2>/dev/null && break; sleep 0.05; done
cdn_base="$(sed -n 's/^listening on //p' logs/serve.out | head -1)"
start_standin() { # name
    echo stall > "modes/$1"
    python3 standin.py "modes/$1" "modes/$1.port" &
    pids+=($!)
    for _ in $(seq 100); do [ -s "modes/$1.port" ] && break; sleep 0.05; done
}
start_standin cdn
start_standin kube
start_standin ingress
port() { cat "modes/$1.port"; }
cat > kubeconfig <<EOF
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:$(port kube)"}}]
users: [{name: u, user: {token: bench}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
EOF

agent_args=("http://127.0.0.1:$(port cdn)/" --root dev/root/1.json --state-dir state
    --ocp-version 4.16.3 --cluster-id c0ffee00-bench --kubeconfig kubeconfig --archive-dir archives
    --keep-archives 1000 --upload-url "http://127.0.0.1:$(port ingress)/upload"
    --connect-timeout 2s --stall-timeout 60s --retries 3 --retry-delay 100ms)

# A first good cycle: state, active bundle and a first archive (its upload is not reached:
# a refused ingress would only delay it; the gather's 404s make exit 1).
echo "proxy $cdn_base" > modes/cdn
echo notfound > modes/kube
"$rrctl" agent "${agent_args[@]}" --once --upload-url "http://127.0.0.1:9/" --retries 0 > /dev/null 2>logs/seed.err || true
ls archives/insights-*.tar.gz > /dev/null

check_intact() { # run number; prints problems
    python3 - "$1" <<'EOF'
import hashlib, json, os, sys
problems = []
try:
    state = json.load(open("state/state.json"))
    b = state["active_bundle"]
    data = open(os.path.join("state", b["path"]), "rb").read()
    if hashlib.sha256(data).hexdigest() != b["sha256"]: problems.append("active bundle hash")
except Exception as e:
    problems.append(f"state: {e}")
try: json.load(open("state/status.json"))
except Exception as e: problems.append(f"status.json: {e}")
try: json.load(open("state/archives.json"))
except Exception as e: problems.append(f"archives.json: {e}")
before = json.load(open("before.json"))
for name, digest in before.items():
    try:
        if hashlib.sha256(open(os.path.join("archives", name), "rb").read()).hexdigest() != digest:
            problems.append(f"{name} changed")
    except FileNotFoundError:
        problems.append(f"{name} removed")
temps = [n for n in os.listdir("archives") if n.startswith(".tmp")]
if temps: problems.append(f"temporary files left: {temps}")
print("; ".join(problems))
EOF
}
snapshot() {
    python3 - <<'EOF'
import hashlib, json, os
json.dump({n: hashlib.sha256(open(os.path.join("archives", n), "rb").read()).hexdigest()
           for n in os.listdir("archives") if n.startswith("insights-")}, open("before.json", "w"))
EOF
}

times=()
failures=0
declare -A phases=()
for i in $(seq "$runs"); do
    case $((RANDOM % 3)) in
        0) echo stall > modes/cdn ;;             # the fetch stalls
        *) echo "proxy $cdn_base" > modes/cdn ;;
    esac
    case $((RANDOM % 2)) in
        0) echo stall > modes/kube ;;            # the gather stalls
        1) echo notfound > modes/kube ;;         # the gather ends; the upload stalls
    esac
    snapshot
    # The agent itself in the background (its pid is the one signalled).
    "$rrctl" agent "${agent_args[@]}" --interval 1s > /dev/null 2> "logs/run-$i.err" &
    pid=$!
    agent_pid=$pid
    sleep "$(python3 -c 'import random; print(round(random.uniform(0, 4), 3))')"
    t0=$(date +%s%N)
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        if [ $(( ($(date +%s%N) - t0) / 1000000 )) -gt 30000 ]; then kill -KILL "$pid"; break; fi
        sleep 0.01
    done
    wait "$pid" 2>/dev/null && code=0 || code=$?
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    times+=("$ms")
    phase="$(grep -o 'shutdown during [a-z ]*' "logs/run-$i.err" | head -1 | sed 's/shutdown during //' || true)"
    if [ -z "$phase" ]; then
        if grep -qx '.*INFO shutdown' "logs/run-$i.err"; then phase="the wait"; else phase="start-up"; fi
    fi
    phases["$phase"]=$(( ${phases["$phase"]:-0} + 1 ))
    problems="$(check_intact "$i")"
    if [ "$ms" -gt 5000 ] || [ "$code" -ne 0 ] || [ -n "$problems" ]; then
        failures=$((failures + 1))
        echo "run $i: exit $code after $ms ms ($phase) ${problems}"
    fi
done

sorted=($(printf '%s\n' "${times[@]}" | sort -n))
n=${#sorted[@]}
echo "runs: $n, failures: $failures"
echo "exit after SIGTERM (ms): p50 ${sorted[$((n / 2))]}, p90 ${sorted[$((n * 9 / 10))]}, max ${sorted[$((n - 1))]}"
for p in "${!phases[@]}"; do echo "  SIGTERM during $p: ${phases[$p]}"; done
echo "archives now: $(ls archives | grep -c '^insights-')"
[ "$failures" -eq 0 ]
