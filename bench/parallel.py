#!/usr/bin/env python3
"""Starts N containers, P at a time, each from its own bundle (as an engine makes one per container),
and prints the start latencies as JSON: how long each `RUNTIME --root ROOT run -d -b BUNDLE ID` took to
return (the container started and detached). bench/run calls it with the wrapper and with plain runc.

    parallel.py --runtime CMD --root DIR --bundles DIR --count N --parallel P --label NAME --out FILE

--bundles holds N folders 0..N-1, each with its config.json (restored from config.json.orig before
each pass when that exists). Every container is deleted afterwards (not timed)."""
import argparse
import concurrent.futures
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--runtime", required=True)
ap.add_argument("--root", required=True)
ap.add_argument("--bundles", required=True)
ap.add_argument("--count", type=int, required=True)
ap.add_argument("--parallel", type=int, required=True)
ap.add_argument("--label", required=True)
ap.add_argument("--out", required=True)
args = ap.parse_args()

for i in range(args.count):
    b = os.path.join(args.bundles, str(i))
    if os.path.exists(os.path.join(b, "config.json.orig")):
        shutil.copyfile(os.path.join(b, "config.json.orig"), os.path.join(b, "config.json"))
prefix = "".join(c if c.isalnum() else "-" for c in args.label)


def start(i):
    cid = f"{prefix}-{i}"
    # stderr to a file, not a pipe: the detached container inherits it and would hold a pipe open.
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        r = subprocess.run([args.runtime, "--root", args.root, "run", "-d", "-b", os.path.join(args.bundles, str(i)), cid],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        took = (time.perf_counter() - t0) * 1000
        err.seek(0)
        return cid, took, r.returncode, err.read().decode(errors="replace").strip()


wall0 = time.perf_counter()
with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
    results = list(pool.map(start, range(args.count)))
wall = (time.perf_counter() - wall0) * 1000


def delete(cid):
    subprocess.run(["runc", "--root", args.root, "delete", "-f", cid], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
    list(pool.map(delete, [r[0] for r in results]))

failed = [r for r in results if r[2] != 0]
ms = sorted(r[1] for r in results)


def q(p):
    pos = p * (len(ms) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ms) - 1)
    return ms[lo] + (ms[hi] - ms[lo]) * (pos - lo)


json.dump({"label": args.label, "count": args.count, "parallel": args.parallel, "p50": q(0.5), "p99": q(0.99),
           "mean": statistics.mean(ms), "wall": wall, "failed": len(failed),
           "firstError": failed[0][3] if failed else None}, open(args.out, "w"))
if failed:
    print(f"parallel.py: {args.label}: {len(failed)} of {args.count} starts failed; first: {failed[0][3]}")
