#!/usr/bin/env bash
# SIGKILLs `apply` and the wrapper at random moments; after each kill config.json must be the
# old bytes or the new bytes, and at most one temporary file may be left (the one in flight).
# Usage: killtest.sh WARDEN SAMPLE_CONFIG RUNS. Prints one line per failure and a summary line.
set -u
warden=$1 sample=$2 runs=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
ln -s "$warden" "$dir/seccomp-warden-runc"
export SECCOMP_WARDEN_POLICY=builtin SECCOMP_WARDEN_AUDIT_LOG=$dir/audit.log SECCOMP_WARDEN_RUNTIME=/bin/true
mkdir -p "$dir/b"
cp "$sample" "$dir/old.json"
"$warden" apply --output "$dir/new.json" "$dir/old.json" >/dev/null || { echo "cannot compute the new content"; exit 1; }
fail=0 old=0 new=0 maxtmp=0
for i in $(seq 1 "$runs"); do
    cp "$dir/old.json" "$dir/b/config.json"
    delay=$(printf '0.%03d' $((RANDOM % 40)))
    if [ $((i % 2)) -eq 0 ]; then
        timeout -s KILL "$delay" "$warden" apply "$dir/b" >/dev/null 2>&1
    else
        (cd "$dir/b" && timeout -s KILL "$delay" "$dir/seccomp-warden-runc" --root "$dir/root" run warden-kill >/dev/null 2>&1)
    fi
    if cmp -s "$dir/b/config.json" "$dir/old.json"; then old=$((old + 1))
    elif cmp -s "$dir/b/config.json" "$dir/new.json"; then new=$((new + 1))
    else echo "run $i: config.json is neither the old nor the new content"; fail=$((fail + 1)); fi
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$dir/b/config.json" 2>/dev/null || { echo "run $i: not valid JSON"; fail=$((fail + 1)); }
    tmps=$(find "$dir/b" -name '.*tmp*' | wc -l)
    [ "$tmps" -gt "$maxtmp" ] && maxtmp=$tmps
    [ "$tmps" -gt 1 ] && { echo "run $i: $tmps temporary files"; fail=$((fail + 1)); }
done
# A writer after all that cleans the leftover and succeeds.
cp "$dir/old.json" "$dir/b/config.json"
"$warden" apply "$dir/b" >/dev/null 2>&1 || { echo "final apply failed"; fail=$((fail + 1)); }
left=$(find "$dir/b" -name '.*tmp*' | wc -l)
[ "$left" -ne 0 ] && { echo "final: $left temporary files left"; fail=$((fail + 1)); }
echo "summary runs=$runs old=$old new=$new max_tmp=$maxtmp failures=$fail"
