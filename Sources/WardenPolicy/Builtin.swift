import WardenSpec

/// The built-in baseline, used when no policy file exists.
public enum Builtin {
    /// Syscalls Docker's default profile blocks for a container with the default capabilities,
    /// denied with EPERM whatever profile a container brings. `personality` is left out: Docker
    /// allows five exact values, and a deny rule cannot say "all but these" in a form runc keeps.
    public static let deniedNames: [String] = [
        "acct", "add_key", "bpf", "clock_settime", "create_module", "delete_module",
        "finit_module", "fsconfig", "fsmount", "fsopen", "fspick", "get_kernel_syms", "get_mempolicy",
        "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl",
        "lookup_dcookie", "mbind", "mount", "mount_setattr", "move_mount", "move_pages",
        "nfsservctl", "open_by_handle_at", "open_tree", "perf_event_open",
        "pivot_root", "process_vm_readv", "process_vm_writev", "ptrace", "query_module", "quotactl",
        "quotactl_fd", "reboot", "request_key", "set_mempolicy", "setns", "settimeofday", "stime",
        "swapoff", "swapon", "syslog", "sysfs", "_sysctl", "umount", "umount2", "unshare", "uselib",
        "userfaultfd", "ustat", "vm86", "vm86old",
    ]

    /// clone with a namespace flag (CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET):
    /// one rule per flag, since "any of these bits set" is an OR of masked comparisons.
    public static let cloneNamespaceFlags: [UInt64] = [
        0x0002_0000, 0x0200_0000, 0x0400_0000, 0x0800_0000, 0x1000_0000, 0x2000_0000, 0x4000_0000,
    ]

    public static var denyRules: [LinuxSyscall] {
        [LinuxSyscall(names: deniedNames, action: .errno, errnoRet: 1)]
            + cloneNamespaceFlags.map { flag in
                LinuxSyscall(names: ["clone"], action: .errno, errnoRet: 1,
                             args: [LinuxSeccompArg(index: 0, value: flag, valueTwo: flag, op: .maskedEqual)])
            }
    }

    public static let architectures: [SeccompArch] = [.x86_64, .x86, .x32]
}
