#!/usr/bin/env python3
"""Writes oci-samples/: bundles (config.json + state.json) from `runc spec`, one per case.
Usage: scripts/make-samples.py  (needs runc; run from the repository root)."""
import copy, json, os, subprocess, tempfile

base_dir = tempfile.mkdtemp()
subprocess.run(["runc", "spec"], cwd=base_dir, check=True)
base = json.load(open(os.path.join(base_dir, "config.json")))
base["process"]["terminal"] = False
base["process"]["args"] = ["sh"]
base["root"] = {"path": "rootfs", "readonly": False}
builtin = json.load(open("oci-samples/docker-default/seccomp.json")) if os.path.exists("oci-samples/docker-default/seccomp.json") else None
ARCHES = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
SHELL = ["read", "write", "readv", "writev", "pread64", "openat", "open", "close", "execve", "mmap", "munmap", "mprotect",
         "brk", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "exit", "exit_group", "wait4", "fork", "vfork",
         "getdents64", "newfstatat", "fstat", "stat", "lstat", "statx", "ioctl", "fcntl", "dup", "dup2", "dup3", "pipe",
         "pipe2", "getpid", "getppid", "getuid", "geteuid", "getgid", "getegid", "gettid", "prctl", "arch_prctl",
         "set_tid_address", "set_robust_list", "nanosleep", "clock_nanosleep", "clock_gettime", "access", "faccessat",
         "faccessat2", "getcwd", "chdir", "lseek", "uname", "readlink", "readlinkat", "mkdir", "mkdirat", "unlink",
         "unlinkat", "getrandom", "sysinfo", "prlimit64", "rseq", "futex", "sigaltstack", "poll", "ppoll", "umask",
         "unshare", "keyctl", "tgkill", "setpgid", "getpgid", "getpgrp", "setsid"]

def bundle(name, seccomp, annotations=None):
    cfg = copy.deepcopy(base)
    if seccomp is None:
        cfg["linux"].pop("seccomp", None)
    else:
        cfg["linux"]["seccomp"] = seccomp
    if annotations:
        cfg["annotations"] = annotations
    os.makedirs(f"oci-samples/{name}", exist_ok=True)
    with open(f"oci-samples/{name}/config.json", "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    state = {"ociVersion": "1.0.2", "id": name, "status": "creating", "pid": 0,
             "bundle": f"/run/bundles/{name}", "annotations": annotations or {}}
    with open(f"oci-samples/{name}/state.json", "w") as f:
        json.dump(state, f, indent=2)
        f.write("\n")

bundle("no-seccomp", None)
if builtin:
    bundle("docker-default", builtin)
bundle("weak-allow", {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ARCHES,
                      "syscalls": [{"names": ["reboot", "swapon"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]})
arg_rules = [{"names": SHELL, "action": "SCMP_ACT_ALLOW"},
             {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
for v in [0, 8, 131072, 131080, 4294967295]:
    arg_rules.append({"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}]})
arg_rules += [
    {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]},
    {"names": ["kill"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_NE"}]},
]
bundle("arg-rules", {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "architectures": ARCHES, "syscalls": arg_rules})
bundle("notify", {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ARCHES, "listenerPath": "/run/seccomp-agent.sock",
                  "listenerMetadata": "meta", "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
                  "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]})
bundle("malformed", {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ARCHES,
                     "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}, {"names": ["write"], "action": "SCMP_ACT_BOGUS"}]})
bundle("exempt", None, {"org.example.seccomp-warden/exempt": "debugging"})
