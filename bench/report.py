#!/usr/bin/env python3
"""bench/run's report: ratios from hyperfine's JSON exports (each pair from one hyperfine run), the
in-process tightening numbers from warden-bench, written as Markdown and printed."""
import argparse
import json
import math
import os
import statistics

ap = argparse.ArgumentParser()
ap.add_argument("--work", required=True)
ap.add_argument("--quick", default="0")
ap.add_argument("--date", required=True)
ap.add_argument("--machine", required=True)
ap.add_argument("--versions", required=True)
ap.add_argument("--out", required=True)
args = ap.parse_args()
quick = args.quick == "1"
work = args.work
here = os.path.dirname(os.path.abspath(__file__))


def quantile(xs, q):
    xs = sorted(xs)
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


# Every round of every group (NAME.rK.json), pooled per command.
times, failed_runs = {}, {}
for f in sorted(os.listdir(os.path.join(work, "hf"))):
    if f.endswith(".json"):
        for r in json.load(open(os.path.join(work, "hf", f)))["results"]:
            times.setdefault(r["command"], []).extend(x * 1000 for x in r["times"])
            failed_runs[r["command"]] = failed_runs.get(r["command"], 0) + sum(1 for c in (r.get("exit_codes") or []) if c != 0)
# Commands run through stdin-from (a static C helper that gives a hook its stdin): the helper's own
# median, measured in the same runs, is taken off each of their times.
helper_of = {}
for group, commands in {
    "gate": ["hook createRuntime (docker-default)", "floor gate (docker-default)", "hook createRuntime (docker-default, tightened)",
             "floor gate (docker-default, tightened)", "hook createRuntime (large)", "floor gate (large)", "empty Swift program"],
    "precreate": ["hook precreate (docker-default)", "floor precreate (docker-default)", "hook precreate (no seccomp)",
                  "floor precreate (no seccomp)", "hook precreate (large)", "floor precreate (large)"],
    "verify": ["hook poststart (live container)"],
    "gate-cold": ["hook createRuntime (docker-default, cold cache)", "hook createRuntime (docker-default, tightened, cold cache)",
                  "floor gate (docker-default, tightened, cold run)"],
    "precreate-cold": ["hook precreate (docker-default, cold cache)", "floor precreate (docker-default, cold run)",
                       "hook precreate (no seccomp, cold cache)"],
    "verify-cold": ["hook poststart (live container, cold cache)"],
}.items():
    for c in commands:
        helper_of[c] = f"stdin-from alone ({group})"
helper_median = {}
for command in set(helper_of.values()):
    if command in times:
        helper_median[command] = statistics.median(times[command])
for command in list(times):
    h = helper_median.get(helper_of.get(command, ""), 0.0)
    times[command] = [max(x - h, 0.0) for x in times[command]]
# verify --all: its time per container.
many_file = os.path.join(work, "many.txt")
many = int(open(many_file).read()) if os.path.exists(many_file) else 0
if many and "verify --all (many containers)" in times:
    times["verify --all, per container"] = [x / many for x in times["verify --all (many containers)"]]
    failed_runs["verify --all, per container"] = failed_runs["verify --all (many containers)"]
results = {}
for command, t in times.items():
    results[command] = {"median": statistics.median(t), "q1": quantile(t, 0.25), "q3": quantile(t, 0.75),
                        "n": len(t), "failed": failed_runs[command]}

# (id, what, numerator, denominator, goal or None for context rows)
ROWS = [
    ("1", "`hook createRuntime` ÷ `floor gate`, Docker default tightened (compliant, the usual case), warm cache",
     "hook createRuntime (docker-default, tightened)", "floor gate (docker-default, tightened)", 1.5),
    ("1a", "… cold cache (emptied before every run: the proof, then the entry written)",
     "hook createRuntime (docker-default, tightened, cold cache)", "floor gate (docker-default, tightened, cold run)", 1.5),
    ("1b", "… Docker default as Docker gives it (denied: it allows ptrace), warm cache",
     "hook createRuntime (docker-default)", "floor gate (docker-default)", None),
    ("1c", "… the same, cold cache", "hook createRuntime (docker-default, cold cache)", "floor gate (docker-default, tightened, cold run)", None),
    ("1d", "… large profile (400 argument rules), warm cache", "hook createRuntime (large)", "floor gate (large)", None),
    ("1z", "… an empty Swift program built the same way (where any Swift hook starts)",
     "empty Swift program", "floor gate (docker-default)", None),
    ("2", "`hook precreate` ÷ `floor precreate`, Docker default (tightened), warm cache",
     "hook precreate (docker-default)", "floor precreate (docker-default)", 1.5),
    ("2a", "… cold cache", "hook precreate (docker-default, cold cache)", "floor precreate (docker-default, cold run)", 1.5),
    ("2b", "… no seccomp (the baseline injected), warm cache", "hook precreate (no seccomp)", "floor precreate (no seccomp)", None),
    ("2c", "… no seccomp, cold cache", "hook precreate (no seccomp, cold cache)", "floor precreate (docker-default, cold run)", None),
    ("2d", "… large profile (400 argument rules), warm cache", "hook precreate (large)", "floor precreate (large)", None),
    ("3", "`runc run` with gate + poststart hooks ÷ without",
     "runc run, gate+poststart hooks", "runc run, no hooks", 1.05),
    ("3a", "… two C floor hooks instead (what any two hooks cost)", "runc run, two C floor hooks", "runc run, no hooks", None),
    ("3c", "`crun run` with gate + poststart hooks ÷ without",
     "crun run, gate+poststart hooks", "crun run, no hooks", 1.05),
    ("3d", "… two C floor hooks instead", "crun run, two C floor hooks", "crun run, no hooks", None),
    ("4", "`seccomp-warden-runc run` ÷ `runc run`, the same tightened bundle (compliant: the wrapper's own cost)",
     "seccomp-warden-runc run (tightened bundle: compliant)", "runc run (no seccomp, tightened beforehand)", 1.02),
    ("4a", "… no-seccomp bundle (the wrapper injects) ÷ `runc run` of it tightened beforehand",
     "seccomp-warden-runc run (no seccomp: injects)", "runc run (no seccomp, tightened beforehand)", None),
    ("4b", "… the same, bundle on a tmpfs (no fsync)",
     "seccomp-warden-runc run (no seccomp: injects, bundle on tmpfs)", "runc run (no seccomp, tightened beforehand)", None),
    ("4c", "… no-seccomp bundle (the wrapper injects) ÷ `runc run` of it unconfined (no filter to load)",
     "seccomp-warden-runc run (no seccomp: injects)", "runc run (no seccomp)", None),
    ("5", "`verify --pid` (deep) ÷ C attach-and-fetch (`bench/verify-floor.c`), warm cache",
     "verify --pid (deep)", "verify-floor (C: attach, fetch filters)", 3.0),
    ("5a", "… cold cache (every chain proved)", "verify --pid (deep, cold cache)", "verify-floor (C: attach, fetch filters; cold run)", 3.0),
    ("5b", "… `hook poststart` on the same container, warm cache", "hook poststart (live container)", "verify-floor (C: attach, fetch filters)", None),
    ("5c", "… `hook poststart`, cold cache", "hook poststart (live container, cold cache)", "verify-floor (C: attach, fetch filters; cold run)", None),
    ("5d", "… `verify --pid --no-deep` (/proc only)", "verify --pid --no-deep", "verify-floor (C: attach, fetch filters)", None),
    ("5e", "… `verify --all` over many running containers (below), per container",
     "verify --all, per container", "verify-floor (C: attach, fetch filters; verify --all run)", None),
    ("5z", "… an empty Swift program built the same way", "empty Swift program (verify run)", "verify-floor (C: attach, fetch filters)", None),
]


def ms(x):
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"


lines = []
say = lines.append
say("# Benchmark results" + (" (--quick: one iteration each; the numbers mean nothing)" if quick else ""))
say("")
say(f"Written by `bench/run` on {args.date}.")
say("")
say(f"- Machine: {args.machine}")
for v in args.versions.splitlines():
    say(f"- {v}")
say("")
say("Each ratio's two sides ran side by side in the same hyperfine invocations: every group ran as several")
say("rounds (one hyperfine run each, `bench/out/run/hf/*.rK.json`), pooled per command. Times are")
say("medians in ms with the interquartile range; the ratio is median ÷ median, and its spread runs from")
say("Q1(A)/Q3(B) to Q3(A)/Q1(B). No shell: a command that reads stdin ran through `bench/stdin-from.c`, a")
say("static C exec helper, whose own median in the same runs (" + ", ".join(f"{k.split('(')[1][:-1]} {v:.2f} ms" for k, v in sorted(helper_median.items())) + ") is taken off its times.")
say("Rows with a letter give context for the row above them; only numbered rows have a goal.")
say("")
say("| # | ratio | A: median (IQR) ms | B: median (IQR) ms | A − B ms | ratio (spread) | goal | |")
say("|---|---|---|---|---|---|---|---|")
summary = []
for rid, what, a, b, goal in ROWS:
    if a not in results or b not in results:
        say(f"| {rid} | {what} | missing | missing | | | {'≤' + str(goal) + '×' if goal else ''} | |")
        continue
    ra, rb = results[a], results[b]
    ratio = ra["median"] / rb["median"] if rb["median"] > 0 else float("nan")
    lo = ra["q1"] / rb["q3"] if rb["q3"] > 0 else float("nan")
    hi = ra["q3"] / rb["q1"] if rb["q1"] > 0 else float("nan")
    status = ""
    if goal:
        status = "—" if quick else ("meets" if ratio <= goal else "**short**")
    say(f"| {rid} | {what} | {ms(ra['median'])} ({ms(ra['q1'])}–{ms(ra['q3'])}) | {ms(rb['median'])} ({ms(rb['q1'])}–{ms(rb['q3'])}) "
        f"| {ra['median'] - rb['median']:+.2f} | **{ratio:.2f}×** ({lo:.2f}–{hi:.2f}) | {'≤' + str(goal) + '×' if goal else ''} | {status} |")
    summary.append((rid, what, ratio, lo, hi, goal, status))
runs = sorted({r["n"] for r in results.values()})
say("")
say(f"Runs per command: {', '.join(map(str, runs))}.")
# The denied gates exit 1 by design (Docker's default allows ptrace; the large profile allows keyctl & co).
expected_failures = {"hook createRuntime (docker-default)", "hook createRuntime (large)", "hook createRuntime (docker-default, cold cache)"}
failures = [(k, v["failed"], v["n"]) for k, v in results.items() if v["failed"] and k not in expected_failures]
if failures:
    say("Runs that exited non-zero (kept in the timings): " + "; ".join(f"{k}: {f} of {n}" for k, f, n in failures) + ".")

if many and "verify --all (many containers)" in results:
    r = results["verify --all (many containers)"]
    say(f"`verify --all` (row 5e): {many} running containers (started through the wrapper, so the audit log accounts for each), "
        f"{ms(r['median'])} ms ({ms(r['q1'])}–{ms(r['q3'])}) for all of them: {r['median'] / many:.2f} ms per container.")

# Many containers at once (bench/parallel.py).
par = []
for f in sorted(os.listdir(work)):
    if f.startswith("parallel-") and f.endswith(".json"):
        par.append(json.load(open(os.path.join(work, f))))
if par:
    say("")
    say(f"## 7. {par[0]['count']} containers, {par[0]['parallel']} at a time (bench/parallel.py)")
    say("")
    say("Each container its own bundle (one shared rootfs), `run -d` of a sleeping container, started "
        f"{par[0]['parallel']} at a time; the latency is how long each `run -d` took to return. Through the wrapper "
        "(no seccomp in the bundle: it injects) and plain runc (the same bundles tightened beforehand), in "
        "alternating passes.")
    say("")
    say("| pass | starts | p50 ms | p99 ms | mean ms | all started in ms | failed |")
    say("|---|---|---|---|---|---|---|")
    for p in par:
        say(f"| {p['label']} | {p['count']} | {ms(p['p50'])} | {ms(p['p99'])} | {ms(p['mean'])} | {ms(p['wall'])} | {p['failed']} |")
    byk = {}
    for p in par:
        byk.setdefault(p["label"].rsplit("-", 1)[0], []).append(p)
    if "wrapper" in byk and "runc" in byk:
        w50 = statistics.median(p["p50"] for p in byk["wrapper"]); r50 = statistics.median(p["p50"] for p in byk["runc"])
        w99 = statistics.median(p["p99"] for p in byk["wrapper"]); r99 = statistics.median(p["p99"] for p in byk["runc"])
        say("")
        say(f"Wrapper ÷ plain runc (median of the passes): p50 {w50:.1f} ÷ {r50:.1f} ms = **{w50 / r50:.2f}×**, "
            f"p99 {w99:.1f} ÷ {r99:.1f} ms = **{w99 / r99:.2f}×**.")

decisions = open(os.path.join(work, "hook-decisions.txt")).read().strip().splitlines()
say("")
say("Decisions the registered hooks logged during rows 3 and 3c (crun runs poststart after the")
say("container's process started; a `true` container can be gone by then):")
say("")
for d in decisions:
    say(f"- {d}")

# In-process tightening.
tight = [json.loads(l) for l in open(os.path.join(work, "tighten.jsonl")) if l.strip()]
say("")
say("## 6. In-process tightening (warden-bench)")
say("")
say("`Tighten.tighten` against the built-in baseline, in a loop in one process (no start-up, no I/O):")
say("profiles per second, median of batches with the interquartile range. It includes the libseccomp")
say("check that the output compiles whenever something changed.")
say("")
say("| case | rules | profiles/s (IQR) | µs per profile | changes |")
say("|---|---|---|---|---|")
names = {"docker-default": "Docker default", "docker-default-end-to-end": "Docker default, end to end (parse config.json, evaluate, splice, serialize)",
         "rules": "large profile, first N rules"}
for t in tight:
    say(f"| {names.get(t['case'], t['case'])} | {t['rules']} | {t['perSecond']:.0f} ({t['perSecondLow']:.0f}–{t['perSecondHigh']:.0f}) "
        f"| {t['microsMedian']:.0f} | {t['changes']} |")
scale = [t for t in tight if t["case"] == "rules"]
growth = ""
if len(scale) >= 2:
    xs = [math.log(t["rules"]) for t in scale]
    ys = [math.log(t["microsMedian"]) for t in scale]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    first, last = scale[0], scale[-1]
    per_rule = [t["microsMedian"] / t["rules"] for t in scale]
    kind = "linear" if 0.8 <= slope <= 1.2 else ("sub-linear" if slope < 0.8 else "super-linear")
    growth = (f"From {first['rules']} to {last['rules']} rules the time per profile grows "
              f"{last['microsMedian'] / first['microsMedian']:.1f}× for {last['rules'] / first['rules']:.0f}× the rules "
              f"(log-log slope {slope:.2f}: {kind}; {min(per_rule):.1f}–{max(per_rule):.1f} µs per rule).")
    say("")
    say(growth)
    if quick:
        say("(one iteration: the slope means nothing here)")

notes = os.path.join(here, "NOTES.md")
if os.path.exists(notes):
    say("")
    say(open(notes).read().rstrip())
text = "\n".join(lines) + "\n"
open(args.out, "w").write(text)

# The console: one table.
print()
print(f"{'#':<4}{'ratio (A ÷ B, medians)':<90}{'ratio (spread)':>22}{'goal':>8}  status")
for rid, what, ratio, lo, hi, goal, status in summary:
    print(f"{rid:<4}{what.replace('`', '')[:88]:<90}{f'{ratio:.2f}× ({lo:.2f}–{hi:.2f})':>22}{('≤' + str(goal) + '×') if goal else '':>8}  {status}")
for t in tight:
    print(f"6   tighten {names.get(t['case'], t['case'])[:60]} {t['rules']} rules: {t['perSecond']:.0f} profiles/s ({t['microsMedian']:.0f} µs)")
if growth:
    print("6   " + growth)
