#!/usr/bin/env bash
# Benchmark (not a test): deep `verify` of one container against the C floor (bench/verify-floor.c:
# attach and fetch the filters, nothing else), and `verify --all` as the number of containers grows.
# Usage: bench/verify.sh [RUNS] [COUNTS]    e.g. bench/verify.sh 21 "1 4 16"
# Needs root, runc, gcc, python3; uses $SECCOMP_WARDEN_BIN (default .build/release/seccomp-warden).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-21}
counts=${2:-"1 4 16"}
bin=${SECCOMP_WARDEN_BIN:-$top/.build/release/seccomp-warden}
out=$top/bench/out
mkdir -p "$out"
source "$top/Tests/support/runtime.sh"
gcc -O2 "$top/bench/verify-floor.c" -o "$out/verify-floor"
work=$(mktemp -d)
root=$work/runc-root
ids=()
cleanup() { for id in "${ids[@]}"; do runc --root "$root" delete -f "$id" >/dev/null 2>&1 || true; done; rm -rf "$work"; }
trap cleanup EXIT
make_bundle "$top/oci-samples/docker-default/config.json" "$work/b" /bin/sleep 3600 >/dev/null
SECCOMP_WARDEN_POLICY=builtin "$bin" apply "$work/b" >/dev/null
start() { local id=bench-$1; (cd "$work/b" && runc --root "$root" run -d "$id" </dev/null >/dev/null 2>&1); ids+=("$id"); }

# median_ms RUNS CMD...: the median wall time of CMD in milliseconds.
median_ms() {
    python3 - "$@" <<'PY'
import subprocess, sys, time, statistics, os
runs = int(sys.argv[1]); cmd = sys.argv[2:]
env = dict(os.environ, SECCOMP_WARDEN_POLICY="builtin")
ts = []
for _ in range(runs):
    t = time.perf_counter(); r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    ts.append((time.perf_counter() - t) * 1000)
    if r.returncode not in (0, 1): sys.exit(f"{cmd} failed: {r.returncode}")
print(f"{statistics.median(ts):.2f}")
PY
}

start 0
pid=$(runc --root "$root" state bench-0 | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
v=$(median_ms "$runs" "$bin" verify --pid "$pid")
f=$(median_ms "$runs" "$out/verify-floor" "$pid")
p=$(median_ms "$runs" "$bin" verify --pid "$pid" --no-deep)
echo "deep verify of one container (Docker default tightened, runc): median ${v} ms over $runs runs"
echo "floor (attach + fetch filters in C): median ${f} ms; ratio $(python3 -c "print(f'{$v/$f:.1f}')")x"
echo "/proc-only verify (--no-deep): median ${p} ms"
n=1
for want in $counts; do
    while [ "$n" -lt "$want" ]; do start "$n"; n=$((n + 1)); done
    a=$(median_ms "$runs" "$bin" verify --all --root "$root")
    echo "verify --all, $want container(s): median ${a} ms"
done
