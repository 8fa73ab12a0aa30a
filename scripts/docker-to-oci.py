#!/usr/bin/env python3
"""Converts a Docker-format seccomp profile (archMap, includes/excludes) to the runtime-spec
`linux.seccomp` object Docker would hand runc for one machine: x86_64, kernel 6.1, Docker's default
capabilities. Prints only the seccomp object (2-space indent, key order kept).

Usage: scripts/docker-to-oci.py PROFILE > out.json
   e.g. scripts/docker-to-oci.py ../shared/profiles/docker-default.json > oci-samples/docker-default/seccomp.json
"""
import json
import sys

ARCH = "SCMP_ARCH_X86_64"
ARCH_NAMES = {"amd64", "x86_64"}          # how includes/excludes.arches spell this machine
KERNEL = (6, 1)
CAPS = {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}


def kernel(v):
    """"4.8" -> (4, 8); "5.10.0-rc1" -> (5, 10, 0)."""
    parts = []
    for p in str(v).split("."):
        digits = ""
        for ch in p:
            if not ch.isdigit():
                break
            digits += ch
        parts.append(int(digits or 0))
    return tuple(parts)


def applies(entry):
    inc = entry.get("includes") or {}
    exc = entry.get("excludes") or {}
    if not set(inc.get("caps") or []) <= CAPS:
        return False
    arches = inc.get("arches") or []
    if arches and not ARCH_NAMES & set(arches):
        return False
    if inc.get("minKernel") and kernel(inc["minKernel"]) > KERNEL:
        return False
    if set(exc.get("caps") or []) & CAPS:
        return False
    if ARCH_NAMES & set(exc.get("arches") or []):
        return False
    if exc.get("minKernel") and kernel(exc["minKernel"]) <= KERNEL:
        return False
    return True


def convert(profile):
    out = {"defaultAction": profile["defaultAction"]}
    if "defaultErrnoRet" in profile:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    arches = []
    for m in profile.get("archMap") or []:
        if m["architecture"] == ARCH:
            arches = [m["architecture"]] + list(m.get("subArchitectures") or [])
    if not arches and profile.get("architectures"):
        arches = list(profile["architectures"])
    out["architectures"] = arches
    syscalls = []
    for entry in profile.get("syscalls") or []:
        if not applies(entry):
            continue
        names = entry.get("names") or ([entry["name"]] if entry.get("name") else [])
        rule = {"names": names, "action": entry["action"]}
        if entry.get("args"):
            rule["args"] = entry["args"]
        if "errnoRet" in entry:
            rule["errnoRet"] = entry["errnoRet"]
        syscalls.append(rule)
    out["syscalls"] = syscalls
    return out


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: docker-to-oci.py PROFILE > out.json\n")
        sys.exit(2)
    with open(sys.argv[1]) as f:
        profile = json.load(f)
    json.dump(convert(profile), sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
