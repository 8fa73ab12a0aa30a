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

SHARE="$DESTDIR$PREFIX/share/seccomp-warden"
HOOKS_PRECREATE="$DESTDIR/etc/containers/oci/hooks-precreate.d"
HOOKS_D="$DESTDIR/etc/containers/oci/hooks.d"

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$BIN/seccomp-warden" "$BIN/seccomp-warden-runc" "$BIN/seccomp-warden-crun"
    rm -f "$HOOKS_PRECREATE/50-seccomp-warden-precreate.json" "$HOOKS_D/50-seccomp-warden-gate.json" "$HOOKS_D/51-seccomp-warden-poststart.json"
    rm -rf "$SHARE"
    echo "removed seccomp-warden, its wrapper links and hooks (kept $ETC)"
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
# The runtime wrappers: the same binary; argv[0] names the real runtime.
ln -sf seccomp-warden "$BIN/seccomp-warden-runc"
ln -sf seccomp-warden "$BIN/seccomp-warden-crun"
# Hook definitions, with the installed path. precreate has a folder of its own: CRI-O refuses
# unknown stages, and would fail to start on a precreate file in a folder it reads.
install -d -m 0755 "$HOOKS_PRECREATE" "$HOOKS_D" "$SHARE"
for f in hooks/precreate.d/*.json; do
    sed "s|/usr/local/bin/seccomp-warden|$PREFIX/bin/seccomp-warden|" "$f" > "$HOOKS_PRECREATE/$(basename "$f")"
done
for f in hooks/hooks.d/*.json; do
    sed "s|/usr/local/bin/seccomp-warden|$PREFIX/bin/seccomp-warden|" "$f" > "$HOOKS_D/$(basename "$f")"
done
cp -r hooks/docker hooks/containerd hooks/crio hooks/kubernetes "$SHARE/"
install -d -m 0755 "$ETC"
if [ ! -e "$ETC/policy.json" ]; then
    install -m 0644 examples/policy.json "$ETC/policy.json"
    echo "installed $ETC/policy.json (the example policy: the built-in baseline, spelled out)"
fi
echo "installed $BIN/seccomp-warden, wrappers seccomp-warden-runc and seccomp-warden-crun"
cat <<EON
Enable it per engine (details in README.md):
  podman:     podman --hooks-dir $HOOKS_PRECREATE --hooks-dir $HOOKS_D ...   (or hooks_dir in containers.conf)
  Docker:     "runtimes": {"warden": {"path": "$PREFIX/bin/seccomp-warden-runc"}} in daemon.json ($SHARE/docker)
  containerd: BinaryName = "$PREFIX/bin/seccomp-warden-runc" ($SHARE/containerd)
  CRI-O:      runtime_path = "$PREFIX/bin/seccomp-warden-crun" ($SHARE/crio); hooks.d gate: $HOOKS_D
  Kubernetes: RuntimeClass handler "warden" ($SHARE/kubernetes)
  runc/crun:  seccomp-warden apply BUNDLE; seccomp-warden register BUNDLE
EON
