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
results = {}
for command, t in times.items():
    results[command] = {"median": statistics.median(t), "q1": quantile(t, 0.25), "q3": quantile(t, 0.75),
                        "n": len(t), "failed": failed_runs[command]}

# (id, what, numerator, denominator, goal or None for context rows)
ROWS = [
    ("1", "`hook createRuntime` ÷ `floor gate`, Docker default (denied: it allows ptrace)",
     "hook createRuntime (docker-default)", "floor gate (docker-default)", 1.5),
    ("1a", "… the same bundle tightened first (compliant, the usual case)",
     "hook createRuntime (docker-default, tightened)", "floor gate (docker-default, tightened)", None),
    ("1b", "… large profile (400 argument rules)", "hook createRuntime (large)", "floor gate (large)", None),
    ("1z", "… an empty Swift program built the same way (where any Swift hook starts)",
     "empty Swift program", "floor gate (docker-default)", None),
    ("2", "`hook precreate` ÷ `floor precreate`, Docker default (tightened)",
     "hook precreate (docker-default)", "floor precreate (docker-default)", 1.5),
    ("2a", "… no seccomp (the baseline injected)", "hook precreate (no seccomp)", "floor precreate (no seccomp)", None),
    ("2b", "… large profile (400 argument rules)", "hook precreate (large)", "floor precreate (large)", None),
    ("3", "`runc run` with gate + poststart hooks ÷ without",
     "runc run, gate+poststart hooks", "runc run, no hooks", 1.05),
    ("3a", "… two C floor hooks instead (what any two hooks cost)", "runc run, two C floor hooks", "runc run, no hooks", None),
    ("3c", "`crun run` with gate + poststart hooks ÷ without",
     "crun run, gate+poststart hooks", "crun run, no hooks", 1.05),
    ("3d", "… two C floor hooks instead", "crun run, two C floor hooks", "crun run, no hooks", None),
    ("4", "`seccomp-warden-runc run` ÷ `runc run`, no-seccomp bundle (wrapper injects)",
     "seccomp-warden-runc run (no seccomp: injects)", "runc run (no seccomp)", 1.05),
    ("4a", "… ÷ `runc run` of the same bundle tightened beforehand (the wrapper's own cost)",
     "seccomp-warden-runc run (no seccomp: injects)", "runc run (no seccomp, tightened beforehand)", None),
    ("5", "`verify --pid` (deep) ÷ C attach-and-fetch (`bench/verify-floor.c`)",
     "verify --pid (deep)", "verify-floor (C: attach, fetch filters)", 3.0),
    ("5a", "… `hook poststart` on the same container (the verifier without the CLI)",
     "hook poststart (live container)", "verify-floor (C: attach, fetch filters)", None),
    ("5b", "… `verify --pid --no-deep` (/proc only)", "verify --pid --no-deep", "verify-floor (C: attach, fetch filters)", None),
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
    ratio = ra["median"] / rb["median"]
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
expected_failures = {"hook createRuntime (docker-default)", "hook createRuntime (large)"}
failures = [(k, v["failed"], v["n"]) for k, v in results.items() if v["failed"] and k not in expected_failures]
if failures:
    say("Runs that exited non-zero (kept in the timings): " + "; ".join(f"{k}: {f} of {n}" for k, f, n in failures) + ".")

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
