#!/usr/bin/env bash
# seccomp-warden installer (root, Debian/Ubuntu).
#   ./install.sh               install build and runtime dependencies, build release, install
#   ./install.sh --uninstall   remove what it installed (the policy in /etc is kept)
# Environment: PREFIX (default /usr/local), DESTDIR (staging root, default none).
# Idempotent: running it again rebuilds and reinstalls; an existing policy is never overwritten.
set -euo pipefail
cd "$(dirname "$0")"
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
BIN="$DESTDIR$PREFIX/bin"
ETC="$DESTDIR/etc/seccomp-warden"
export PATH="/opt/swift/usr/bin:$PATH"

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$BIN/seccomp-warden"
    echo "removed $BIN/seccomp-warden (kept $ETC)"
    exit 0
fi

if [ "$(id -u)" -ne 0 ] && [ -z "$DESTDIR" ]; then
    echo "install.sh: run as root (or set DESTDIR to stage the install)" >&2
    exit 1
fi

need=()
for pkg in libseccomp-dev libjansson-dev pkg-config gcc; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "install.sh: the Swift toolchain (swift 6) is needed on PATH or in /opt/swift" >&2; exit 1; }

# Release, with the Swift runtime linked in statically: the hook starts on every container.
swift build -c release --static-swift-stdlib --product seccomp-warden 2>&1 | grep -vE "warning: the use of .mktemp" | tail -1
install -d -m 0755 "$BIN"
install -m 0755 .build/release/seccomp-warden "$BIN/seccomp-warden"
install -d -m 0755 "$ETC"
if [ ! -e "$ETC/policy.json" ]; then
    install -m 0644 examples/policy.json "$ETC/policy.json"
    echo "installed $ETC/policy.json (the example policy: the built-in baseline, spelled out)"
fi
echo "installed $BIN/seccomp-warden"
