# Shell helpers the runtime tests source: real bundles, real runc and crun (see FIELD-NOTES.md).
set -u
SUPPORT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The static probe, built once per machine into a cache folder.
probe_binary() {
    local out=${WARDEN_TEST_CACHE:-/tmp/seccomp-warden-test}/probe
    if [ ! -x "$out" ] || [ "$SUPPORT/probe.c" -nt "$out" ]; then
        mkdir -p "$(dirname "$out")"
        # A name of its own: tests running side by side may build it at the same time.
        gcc -static -O2 "$SUPPORT/probe.c" -o "$out.tmp.$$" && mv "$out.tmp.$$" "$out"
    fi
    echo "$out"
}

# make_rootfs DIR: busybox-static with its applets, the probe, the usual folders (mkrootfs.sh).
make_rootfs() {
    local probe
    probe=$(probe_binary) || return 1
    bash "$SUPPORT/mkrootfs.sh" "$1" "$probe"
}

# make_bundle SAMPLE_CONFIG DEST ARGS...: config from a sample, linux.resources dropped (crun
# cannot set them here), process.args set, a rootfs beside it.
make_bundle() {
    local src=$1 dest=$2
    shift 2
    mkdir -p "$dest"
    python3 - "$src" "$dest/config.json" "$@" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg.get("linux", {}).pop("resources", None)
cfg["process"]["args"] = sys.argv[3:]
cfg["process"]["terminal"] = False
json.dump(cfg, open(sys.argv[2], "w"), indent=2)
PY
    make_rootfs "$dest/rootfs"
}

# crun in a private mount namespace with a pure cgroup2 mount (this machine's cgroups are hybrid).
crun_ns() {
    unshare -m --propagation private sh -c 'umount -l /sys/fs/cgroup 2>/dev/null; mount -t cgroup2 none /sys/fs/cgroup && exec crun "$@"' crun "$@"
}

# run_in RUNTIME BUNDLE ID: runs the container in the foreground, prints its output.
run_in() {
    local runtime=$1 bundle=$2 id=$3
    case $runtime in
        runc) (cd "$bundle" && runc run "$id" </dev/null) ;;
        crun) (cd "$bundle" && crun_ns --cgroup-manager=disabled run "$id" </dev/null) ;;
    esac
}
