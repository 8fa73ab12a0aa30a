#!/usr/bin/env bash
# seccomp-warden installer (root, Debian/Ubuntu).
#   ./install.sh --divert      the non-bypassable mode: everything `./install.sh` does, and the wrapper
#                              takes runc's and crun's place (dpkg-divert: the real ones live on as
#                              /usr/sbin/runc.real and /usr/bin/crun.real, and package upgrades go there)
#   ./install.sh               install build and runtime dependencies, build release, install
#   ./install.sh --uninstall   give runc and crun back (the same files, byte for byte) and remove what
#                              it installed (the policy in /etc is kept)
# Environment: PREFIX (default /usr/local), DESTDIR (staging root, default none; not with --divert),
#   SECCOMP_WARDEN_BIN (install this already-built seccomp-warden: no dependencies, no build).
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
PODMAN_CONF="$DESTDIR/etc/containers/containers.conf.d/50-seccomp-warden.conf"
# The runtimes the engines find by name (Debian's paths), and the package that owns our diversions.
RUNTIMES=(/usr/sbin/runc /usr/bin/crun)
DIVERTER=seccomp-warden

mode=install
case "${1:-}" in
    "") ;;
    --divert) mode=divert ;;
    --uninstall) mode=uninstall ;;
    *) echo "usage: install.sh [--divert | --uninstall]" >&2; exit 2 ;;
esac

# Only the wrapper holds this text (its error when the .real file is missing).
is_wrapper() { [ -f "$1" ] && grep -qaF 'install.sh --divert puts it there' "$1"; }
diverter_of() { command -v dpkg-divert >/dev/null && dpkg-divert --listpackage "$1" || true; }

# The wrapper at $1, replaced in one rename: there is always a runtime at the path.
put_wrapper() {
    cmp -s "$BIN/seccomp-warden" "$1" && return 0
    install -m 0755 "$BIN/seccomp-warden" "$1.seccomp-warden-new"
    mv -f "$1.seccomp-warden-new" "$1"
}

# Diverts runtime $1 to $1.real and puts the wrapper at $1. The diversion is registered first
# (--no-rename), then the real file gets its second name (a hard link: the same file, nothing copied)
# and the wrapper replaces the first name in one rename, so an engine starting a container meanwhile
# finds the real runtime or the wrapper, never nothing. Re-running finishes or repeats each step.
divert_one() {
    local p=$1 real=$1.real owner
    owner=$(diverter_of "$p")
    if [ -z "$owner" ]; then
        if [ ! -e "$p" ]; then echo "  $p: not installed, not diverted"; return 0; fi
        if is_wrapper "$p"; then echo "install.sh: $p is seccomp-warden's wrapper but not diverted; where is the real runtime?" >&2; return 1; fi
        if [ -e "$real" ]; then echo "install.sh: $real exists already; not diverting $p over it" >&2; return 1; fi
        dpkg-divert --quiet --package "$DIVERTER" --no-rename --divert "$real" --add "$p"
    elif [ "$owner" != "$DIVERTER" ] || [ "$(dpkg-divert --truename "$p")" != "$real" ]; then
        echo "install.sh: $p is diverted by $owner to $(dpkg-divert --truename "$p"); leaving it alone" >&2
        return 1
    fi
    if [ ! -e "$real" ]; then
        if is_wrapper "$p"; then echo "install.sh: $real is missing (its package removed?); reinstall it, then run install.sh --divert again" >&2; return 1; fi
        ln "$p" "$real"
    fi
    put_wrapper "$p"
    echo "  $p: the wrapper; the real runtime is $real"
}

# Gives the real runtime its name back (one rename: the same file, bytes, mode and times) and
# removes the diversion. Only our own diversions are touched.
undivert_one() {
    local p=$1 real=$1.real
    [ "$(diverter_of "$p")" = "$DIVERTER" ] || return 0
    if [ -e "$real" ] && [ "$real" -ef "$p" ]; then
        rm -f "$real"
    elif [ -e "$real" ]; then
        mv -f "$real" "$p"
    elif is_wrapper "$p"; then
        rm -f "$p"
        dpkg-divert --quiet --package "$DIVERTER" --no-rename --divert "$real" --remove "$p"
        echo "  $p: $real was gone (its package removed?); removed the wrapper and the diversion"
        return 0
    fi
    dpkg-divert --quiet --package "$DIVERTER" --no-rename --divert "$real" --remove "$p"
    echo "  $p: the real runtime again"
}

# Another package's or the admin's diversion of a runtime: --divert changes nothing at all.
check_diversions() {
    local p owner
    for p in "${RUNTIMES[@]}"; do
        owner=$(diverter_of "$p")
        if [ -n "$owner" ] && { [ "$owner" != "$DIVERTER" ] || [ "$(dpkg-divert --truename "$p")" != "$p.real" ]; }; then
            echo "install.sh: $p is diverted by $owner to $(dpkg-divert --truename "$p"); not diverting it again" >&2
            exit 1
        fi
    done
}

if [ "$mode" = uninstall ]; then
    if [ -z "$DESTDIR" ]; then
        for p in "${RUNTIMES[@]}"; do undivert_one "$p"; done
    fi
    rm -f "$BIN/seccomp-warden" "$BIN/seccomp-warden-runc" "$BIN/seccomp-warden-crun"
    rm -f "$HOOKS_PRECREATE/50-seccomp-warden-precreate.json" "$HOOKS_D/50-seccomp-warden-gate.json" "$HOOKS_D/51-seccomp-warden-poststart.json"
    rm -f "$PODMAN_CONF"
    rmdir --ignore-fail-on-non-empty "$(dirname "$PODMAN_CONF")" "$HOOKS_PRECREATE" 2>/dev/null || true
    rm -rf "$SHARE"
    echo "removed seccomp-warden, its wrapper links, hooks and podman drop-in (kept $ETC)"
    exit 0
fi

if [ "$(id -u)" -ne 0 ] && [ -z "$DESTDIR" ]; then
    echo "install.sh: run as root (or set DESTDIR to stage the install)" >&2
    exit 1
fi
if [ "$mode" = divert ]; then
    [ -z "$DESTDIR" ] || { echo "install.sh: --divert changes the live system's runtimes; not with DESTDIR" >&2; exit 1; }
    command -v dpkg-divert >/dev/null || { echo "install.sh: --divert needs dpkg-divert (Debian/Ubuntu); see README.md, \"Without dpkg-divert\"" >&2; exit 1; }
    check_diversions
fi

if [ -n "${SECCOMP_WARDEN_BIN:-}" ]; then
    [ -x "$SECCOMP_WARDEN_BIN" ] || { echo "install.sh: SECCOMP_WARDEN_BIN=$SECCOMP_WARDEN_BIN is not an executable" >&2; exit 1; }
    built=$SECCOMP_WARDEN_BIN
else
    need=()
    for pkg in libseccomp-dev libjansson-dev pkg-config gcc libc6-dev libstdc++-12-dev; do
        dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
    done
    if [ ${#need[@]} -gt 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${need[@]}" >/dev/null
    fi
    command -v swift >/dev/null || { echo "install.sh: the Swift toolchain (swift 6) is needed on PATH or in /opt/swift" >&2; exit 1; }
    # Release, one fully static executable (no dynamic loader at start): the hook starts on every container.
    built=$(scripts/build-release .build seccomp-warden)
fi
install -d -m 0755 "$BIN"
install -m 0755 "$built" "$BIN/seccomp-warden.new"
mv -f "$BIN/seccomp-warden.new" "$BIN/seccomp-warden"
# The runtime wrappers: the same binary; argv[0] names the real runtime.
ln -sf seccomp-warden "$BIN/seccomp-warden-runc"
ln -sf seccomp-warden "$BIN/seccomp-warden-crun"
# Hook definitions, with the installed path. precreate has a folder of its own: CRI-O refuses
# unknown stages, and would fail to start on a precreate file in a folder it reads.
install -d -m 0755 "$HOOKS_PRECREATE" "$HOOKS_D" "$SHARE" "$(dirname "$PODMAN_CONF")"
for f in hooks/precreate.d/*.json; do
    sed "s|/usr/local/bin/seccomp-warden|$PREFIX/bin/seccomp-warden|" "$f" > "$HOOKS_PRECREATE/$(basename "$f")"
done
for f in hooks/hooks.d/*.json; do
    sed "s|/usr/local/bin/seccomp-warden|$PREFIX/bin/seccomp-warden|" "$f" > "$HOOKS_D/$(basename "$f")"
done
# podman (root) reads our hook folders without --hooks-dir: a containers.conf.d drop-in.
install -m 0644 hooks/podman/50-seccomp-warden.conf "$PODMAN_CONF"
cp -r hooks/docker hooks/containerd hooks/crio hooks/kubernetes hooks/podman "$SHARE/"
install -d -m 0755 "$ETC"
if [ ! -e "$ETC/policy.json" ]; then
    install -m 0644 examples/policy.json "$ETC/policy.json"
    echo "installed $ETC/policy.json (the example policy: the built-in baseline, spelled out)"
fi
echo "installed $BIN/seccomp-warden, wrappers seccomp-warden-runc and seccomp-warden-crun, podman drop-in $PODMAN_CONF"

if [ "$mode" = divert ]; then
    echo "the wrapper in the runtimes' place:"
    for p in "${RUNTIMES[@]}"; do divert_one "$p"; done
    echo "every engine that starts runc or crun by name now goes through seccomp-warden (README.md, \"Install\")"
    # The policy's warnings (an exemption on a creator-set annotation is a way around it), and
    # whether it loads at all (if not, every container is refused).
    "$BIN/seccomp-warden" policy check "$ETC/policy.json" 2>&1 >/dev/null | grep -F 'warning:' >&2 || true
    "$BIN/seccomp-warden" policy check "$ETC/policy.json" >/dev/null 2>&1 \
        || echo "install.sh: $ETC/policy.json is not valid (seccomp-warden policy check): every container is refused until it is" >&2
    exit 0
fi
# Already diverted: keep the wrapper copies at the runtimes' paths the same as the new binary.
if [ -z "$DESTDIR" ]; then
    for p in "${RUNTIMES[@]}"; do
        if [ "$(diverter_of "$p")" = "$DIVERTER" ]; then divert_one "$p"; fi
    done
fi
cat <<EON
Enable it per engine (details in README.md), or run ./install.sh --divert to cover every engine at once:
  podman:     reads $HOOKS_PRECREATE and $HOOKS_D through $PODMAN_CONF
  Docker:     "runtimes": {"warden": {"path": "$PREFIX/bin/seccomp-warden-runc"}} in daemon.json ($SHARE/docker)
  containerd: BinaryName = "$PREFIX/bin/seccomp-warden-runc" ($SHARE/containerd)
  CRI-O:      runtime_path = "$PREFIX/bin/seccomp-warden-crun" ($SHARE/crio); hooks.d gate: $HOOKS_D
  Kubernetes: RuntimeClass handler "warden" ($SHARE/kubernetes)
  runc/crun:  seccomp-warden apply BUNDLE; seccomp-warden register BUNDLE
EON
