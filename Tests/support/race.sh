#!/usr/bin/env bash
# race.sh MODE RUNS WARDEN: the swapped-file attacks of issue 11, run against the wrapper link
# (seccomp-warden-runc) and the real runc, RUNS times, with the attacker looping as an unprivileged
# user (uid 65534, through setpriv) the whole time.
#   rename   the bundle folder is the user's: a loop renames a weak config.json (no seccomp) over
#            the one the wrapper reads and tightens.
#   symlink  the bundle path is a symlink in a folder the user owns, flipped in a loop between a
#            root-owned bundle and the user's weak one.
#   sticky   the same flip, with the user's symlink in a root-owned sticky folder (like /tmp).
#   control  a root-owned bundle, through a root-owned symlink, nobody attacking.
# Each run ends filtered (Seccomp: 2 inside), refused (the wrapper exits 1 with its reason),
# unfiltered (Seccomp: 0: the attack won) or other. Prints each unfiltered or other run, the refusal
# reasons seen, whether the attacker was still at work at the end, and a summary line.
set -u
mode=$1 runs=$2 warden=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/runtime.sh"
dir=$(mktemp -d /tmp/warden-race-XXXXXX)
chmod 755 "$dir"
attacker=
finish() {
    # SIGKILL: whoever started us may have handed down a mask with SIGTERM blocked.
    [ -n "$attacker" ] && kill -KILL "$attacker" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$dir"
}
trap finish EXIT
make_rootfs "$dir/rootfs" >/dev/null || { echo "cannot make the rootfs"; exit 1; }
ln -s "$warden" "$dir/seccomp-warden-runc"
export SECCOMP_WARDEN_POLICY=builtin SECCOMP_WARDEN_AUDIT_LOG=$dir/audit.log SECCOMP_WARDEN_RUNTIME=$(command -v runc)

# weak FILE: a config with no seccomp section whose process prints its own Seccomp lines.
weak() {
    python3 - "$here/../../oci-samples/no-seccomp/config.json" "$1" "$dir/rootfs" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg.get("linux", {}).pop("resources", None)
cfg.get("linux", {}).pop("seccomp", None)
cfg["process"]["args"] = ["/bin/probe", "status"]
cfg["process"]["terminal"] = False
cfg["root"] = {"path": sys.argv[3], "readonly": False}
json.dump(cfg, open(sys.argv[2], "w"), indent=2)
PY
}
# The attacker: uid 65534, no groups. `exec`, so that $! of `as_user … &` is the attacker itself.
as_user() { exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

case $mode in
rename)
    mkdir "$dir/att"
    weak "$dir/att/config.json"
    cp "$dir/att/config.json" "$dir/att/weak.json"
    chown -R 65534:65534 "$dir/att"
    bundle=$dir/att
    as_user sh -c "cd $dir/att && while :; do cp weak.json .w && mv -f .w config.json; done" 2>/dev/null &
    attacker=$!
    probe() { stat -c %i "$dir/att/config.json" 2>/dev/null; }
    ;;
symlink | sticky)
    mkdir "$dir/root-bundle" "$dir/att"
    weak "$dir/root-bundle/config.json"
    mkdir "$dir/att/weak"
    weak "$dir/att/weak/config.json"
    chown -R 65534:65534 "$dir/att"
    holder=$dir/att
    if [ "$mode" = sticky ]; then
        mkdir "$dir/sticky"
        chmod 1777 "$dir/sticky"
        holder=$dir/sticky
    fi
    (as_user ln -s "$dir/root-bundle" "$holder/b")
    bundle=$holder/b
    as_user sh -c "cd $holder && while :; do ln -sfn $dir/att/weak .l && mv -fT .l b; ln -sfn $dir/root-bundle .l && mv -fT .l b; done" 2>/dev/null &
    attacker=$!
    probe() { readlink "$holder/b"; }
    ;;
control)
    mkdir "$dir/root-bundle"
    weak "$dir/root-bundle/config.json"
    ln -s "$dir/root-bundle" "$dir/b"
    bundle=$dir/b
    probe() { echo quiet; }
    ;;
*) echo "unknown mode $mode"; exit 2 ;;
esac

filtered=0 refused=0 unfiltered=0 other=0
for i in $(seq 1 "$runs"); do
    id="warden-race-$mode-$$-$i"
    out=$("$dir/seccomp-warden-runc" --root "$dir/state" run -b "$bundle" "$id" </dev/null 2>&1)
    rc=$?
    runc --root "$dir/state" delete -f "$id" >/dev/null 2>&1
    case $out in
    *"Seccomp:	0"*) unfiltered=$((unfiltered + 1)); echo "run $i UNFILTERED (rc $rc): $out" ;;
    *"Seccomp:	2"*) filtered=$((filtered + 1)) ;;
    *)
        if [ "$rc" -eq 1 ] && [[ $out == "seccomp-warden: "* ]]; then
            refused=$((refused + 1))
            echo "$out" >>"$dir/reasons"
        else
            other=$((other + 1))
            echo "run $i other (rc $rc): $out"
        fi
        ;;
    esac
done
# The attacker must still have been at work: what it swaps changes between looks.
seen=$(for _ in $(seq 1 20); do probe; sleep 0.02; done | sort -u | wc -l)
if [ "$mode" = control ]; then active=none; elif [ -n "$attacker" ] && kill -0 "$attacker" 2>/dev/null && [ "$seen" -gt 1 ]; then active=yes; else active=no; fi
[ -f "$dir/reasons" ] && sed -E 's/[0-9]+/N/g' "$dir/reasons" | sort | uniq -c | sed 's/^/reason: /'
echo "summary mode=$mode runs=$runs filtered=$filtered refused=$refused unfiltered=$unfiltered other=$other attacker=$active"
