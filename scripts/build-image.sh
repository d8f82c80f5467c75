#!/usr/bin/env bash
# Build the minimal rrctl image from deploy/Containerfile with Debian's buildah.
#
#   scripts/build-image.sh [--binary PATH] [--tag NAME] [--root DIR --runroot DIR]
#
# --binary  the rrctl binary to put in the image (default: the agent-only release build,
#           target/image/release/rrctl, built with --no-default-features --features agent)
# --tag     the image name (default: localhost/rrctl:<version>)
# --root / --runroot  buildah storage directories (default: buildah's own); tests pass temp dirs
#
# The build context is a temporary directory: the Containerfile and rootfs/ with the binary
# (stripped), every shared library `ldd` lists at its own path, the CA bundle and passwd/group.
# Storage driver vfs and chroot isolation: works as root without overlay or user namespaces.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"

binary="" tag="" storage=()
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    --root) storage+=(--root "$2"); shift 2 ;;
    --runroot) storage+=(--runroot "$2"); shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

command -v buildah >/dev/null 2>&1 || { echo "build-image.sh: buildah is missing (apt-get install --no-install-recommends buildah)" >&2; exit 2; }
command -v ldd >/dev/null 2>&1 || { echo "build-image.sh: ldd is missing" >&2; exit 2; }

if [ -z "$binary" ]; then
  # The image runs the agent: build without the publisher's crates, in a target directory of
  # its own so a full build in target/release is neither used nor overwritten.
  binary="$repo/target/image/release/rrctl"
  (cd "$repo" && cargo build --release --locked --no-default-features --features agent --bin rrctl \
    --target-dir "$repo/target/image")
fi
[ -x "$binary" ] || { echo "build-image.sh: $binary is not an executable" >&2; exit 2; }
version="$("$binary" --version | awk '{print $2}')"
tag="${tag:-localhost/rrctl:$version}"

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
rootfs="$context/rootfs"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc/ssl/certs" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
cp "$binary" "$rootfs/usr/local/bin/rrctl"
# Debug info is most of a debug build's size; the image needs none of it.
if command -v strip >/dev/null 2>&1; then strip "$rootfs/usr/local/bin/rrctl"; fi

# Every library the dynamic loader resolves (`name => /path (addr)`) and the loader itself
# (`/lib64/ld-linux-x86-64.so.2 (addr)`); the vDSO has no file. A static binary has none
# (`ldd` then says "not a dynamic executable" and fails).
{ ldd "$binary" 2>/dev/null || true; } | awk '/=>/ && $3 ~ /^\// {print $3} !/=>/ && $1 ~ /^\// {print $1}' | sort -u |
while read -r lib; do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done
# The loader's path is fixed in the binary; make sure it came along (a static binary has none).
interp="$(readelf -l "$binary" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p' || true)"
if [ -n "$interp" ] && [ ! -e "$rootfs$interp" ]; then
  echo "build-image.sh: the program interpreter $interp is not among the ldd libraries" >&2; exit 2
fi

if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
fi
printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/:/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$rootfs/etc/group"
cp "$repo/deploy/Containerfile" "$context/Containerfile"

buildah "${storage[@]}" --storage-driver vfs bud --isolation chroot --quiet \
  -f "$context/Containerfile" -t "$tag" "$context" >/dev/null
echo "$tag"
