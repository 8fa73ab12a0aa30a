# Helpers for the verifier's evasion tests; source after runtime.sh.
set -u
EVADE_SUPPORT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The static evade program (evade.c), built once per machine into the test cache folder.
evade_binary() {
    local out=${WARDEN_TEST_CACHE:-/tmp/seccomp-warden-test}/evade
    if [ ! -x "$out" ] || [ "$EVADE_SUPPORT/evade.c" -nt "$out" ]; then
        mkdir -p "$(dirname "$out")"
        gcc -static -O2 -pthread "$EVADE_SUPPORT/evade.c" -o "$out.tmp.$$" && mv "$out.tmp.$$" "$out"
    fi
    echo "$out"
}

# make_evade_bundle SAMPLE_CONFIG DEST MODE [CAP...]: a bundle whose process is `evade MODE`, with the
# listed capabilities added to every capability set.
make_evade_bundle() {
    local src=$1 dest=$2 mode=$3
    shift 3
    local evade
    evade=$(evade_binary) || return 1
    make_bundle "$src" "$dest" /bin/evade "$mode" || return 1
    cp -f "$evade" "$dest/rootfs/bin/evade"
    if [ $# -gt 0 ]; then
        python3 - "$dest/config.json" "$@" <<'PY'
import json, sys
path, caps = sys.argv[1], sys.argv[2:]
cfg = json.load(open(path))
sets = cfg["process"].setdefault("capabilities", {})
for name in ("bounding", "effective", "permitted"):
    have = sets.setdefault(name, [])
    have.extend(c for c in caps if c not in have)
json.dump(cfg, open(path, "w"), indent=2)
PY
    fi
}

# wait_for_line FILE TEXT [SECONDS]: until FILE contains TEXT (exit 1 on timeout).
wait_for_line() {
    local file=$1 text=$2 seconds=${3:-10} i
    for i in $(seq 1 $((seconds * 20))); do
        grep -qF "$text" "$file" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
