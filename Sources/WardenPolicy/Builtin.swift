import WardenCore
import WardenSpec

/// One way to reach a capability: a syscall, on every call or only for some argument values (a
/// conjunction of comparisons on seccomp_data's values), and the answer the baseline gives it.
public struct Route: Hashable, Sendable, CustomStringConvertible {
    public var syscall: String
    public var conditions: [LinuxSeccompArg]
    public var action: RuleAction

    public init(_ syscall: String, _ conditions: [LinuxSeccompArg] = [], action: RuleAction = Builtin.eperm) {
        self.syscall = syscall
        self.conditions = conditions
        self.action = action
    }

    /// What the proof requires of every call on this route: a denial (EPERM floor), or for an observed
    /// route (the policy logs it: SCMP_ACT_LOG) a log or anything stricter.
    public var floor: RuleAction { action.action == .log ? RuleAction(.log) : Builtin.eperm }

    public var description: String {
        let c = conditions.map { a in
            a.op == .maskedEqual ? "arg\(a.index) & 0x\(String(a.value, radix: 16)) == 0x\(String(a.valueTwo ?? 0, radix: 16))"
                : "arg\(a.index) \(a.op.symbol) 0x\(String(a.value, radix: 16))"
        }
        return syscall + (c.isEmpty ? "" : "(" + c.joined(separator: " && ") + ")")
    }
}

/// What the baseline takes away, with every syscall route to it (on x86_64, i386 and x32: the
/// routes are names, resolved per architecture by libseccomp).
public struct Capability: Sendable {
    public var name: String
    public var summary: String
    public var routes: [Route]
}

extension SeccompOperator {
    var symbol: String {
        switch self {
        case .notEqual: "!="
        case .lessThan: "<"
        case .lessOrEqual: "<="
        case .equal: "=="
        case .greaterOrEqual: ">="
        case .greaterThan: ">"
        case .maskedEqual: "&=="
        }
    }
}

/// The built-in baseline, used when no policy file exists. Docker's and podman's current default
/// profiles are the reference for what a container still needs: everything here is what they deny
/// a container with the default capabilities.
public enum Builtin {
    public static let eperm = RuleAction(.errno, errnoRet: 1)
    /// clone3's flags live in memory seccomp cannot read: ENOSYS makes glibc fall back to clone,
    /// whose flags it can (Docker does the same).
    public static let enosys = RuleAction(.errno, errnoRet: 38)

    /// Some bit of `bits` set in argument `arg` (one rule per bit: "any of" is an OR of masked tests).
    static func anyBit(_ name: String, arg: UInt32, _ bits: [UInt64]) -> [Route] {
        bits.map { Route(name, [LinuxSeccompArg(index: arg, value: $0, valueTwo: $0, op: .maskedEqual)]) }
    }

    /// An `unsigned int` argument equal to `value`: the kernel ignores the high half, so the rule masks it off.
    static func uintEquals(_ name: String, arg: UInt32, _ value: UInt64) -> Route {
        Route(name, [LinuxSeccompArg(index: arg, value: 0xffff_ffff, valueTwo: value, op: .maskedEqual)])
    }

    static func all(_ names: String...) -> [Route] { names.map { Route($0) } }

    /// CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET (the kernel reads the low 32 bits).
    public static let cloneNamespaceFlags: [UInt64] = [
        0x0002_0000, 0x0200_0000, 0x0400_0000, 0x0800_0000, 0x1000_0000, 0x2000_0000, 0x4000_0000,
    ]
    /// USERFAULTFD_IOC_NEW = _IO(0xAA, 0x00), on /dev/userfaultfd.
    static let userfaultfdIocNew: UInt64 = 0xAA00

    public static let capabilities: [Capability] = [
        Capability(name: "namespaces", summary: "create or join namespaces",
                   routes: all("unshare", "setns") + anyBit("clone", arg: 0, cloneNamespaceFlags)
                       + [Route("clone3", action: enosys)]),
        Capability(name: "modules", summary: "load, unload or list kernel modules",
                   routes: all("init_module", "finit_module", "delete_module", "create_module", "query_module", "get_kernel_syms")),
        Capability(name: "keyrings", summary: "the kernel's keyrings (shared with the host)",
                   routes: all("keyctl", "add_key", "request_key")),
        Capability(name: "bpf", summary: "load BPF programs and maps", routes: all("bpf")),
        Capability(name: "perf", summary: "performance events", routes: all("perf_event_open")),
        Capability(name: "other-processes", summary: "trace, read or steal from other processes",
                   routes: all("ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "process_madvise", "kcmp")),
        Capability(name: "mount", summary: "mount, unmount, move or reconfigure filesystems and the root",
                   routes: all("mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick",
                               "open_tree", "move_mount", "mount_setattr")),
        Capability(name: "io_uring", summary: "io_uring (its operations never pass seccomp)",
                   routes: all("io_uring_setup", "io_uring_enter", "io_uring_register")),
        Capability(name: "userfaultfd", summary: "userfaultfd, by the syscall or /dev/userfaultfd",
                   routes: all("userfaultfd") + [uintEquals("ioctl", arg: 1, userfaultfdIocNew)]),
        Capability(name: "host-files-by-handle", summary: "open host files outside the container's mounts",
                   routes: all("open_by_handle_at", "fanotify_init")),
        Capability(name: "clock", summary: "set the system clock", routes: all("settimeofday", "clock_settime", "stime")),
        Capability(name: "system", summary: "reboot, kexec, swap, accounting, quotas, the kernel log and other host-wide settings",
                   routes: all("reboot", "kexec_load", "kexec_file_load", "swapon", "swapoff", "acct", "syslog", "_sysctl",
                               "sysfs", "ustat", "uselib", "nfsservctl", "quotactl", "quotactl_fd", "lookup_dcookie")),
        Capability(name: "hardware-io", summary: "raw I/O ports and vm86", routes: all("iopl", "ioperm", "vm86", "vm86old")),
        Capability(name: "memory-policy", summary: "NUMA memory placement of other processes",
                   routes: all("mbind", "get_mempolicy", "set_mempolicy", "move_pages")),
    ]

    public static func capability(named name: String) -> Capability? { capabilities.first { $0.name == name } }

    /// Routes as profile rules: the unconditional ones grouped per action, one rule per conditional route.
    public static func rules(_ routes: [Route]) -> [LinuxSyscall] {
        var groups = [(action: RuleAction, names: [String])]()
        var conditional = [LinuxSyscall]()
        for r in routes {
            if r.conditions.isEmpty {
                // Repeated names go when the group is sorted (a scan per name was 0.1 M instructions).
                if let i = groups.firstIndex(where: { $0.action == r.action }) {
                    groups[i].names.append(r.syscall)
                } else {
                    groups.append((r.action, [r.syscall]))
                }
            } else {
                conditional.append(LinuxSyscall(names: [r.syscall], action: r.action.action, errnoRet: r.action.errnoRet, args: r.conditions))
            }
        }
        return groups.map { LinuxSyscall(names: $0.names.uniqueSorted(), action: $0.action.action, errnoRet: $0.action.errnoRet) } + conditional
    }

    /// Computed once per process: every policy starts from them, and a hook builds one at each start.
    public static let routes: [Route] = capabilities.flatMap(\.routes)

    public static let denyRules: [LinuxSyscall] = rules(routes)

    public static let architectures: [SeccompArch] = [.x86_64, .x86, .x32]
}

extension LinuxSyscall {
    /// The routes a deny rule closes, read as runc reads it (a repeated argument index: each condition alone).
    public var routes: [Route] {
        let args = self.args ?? []
        // (Not a Set of the indexes: a Set<UInt32>'s first use costs more than a rule's few compares.)
        let repeated = args.indices.contains { i in args[..<i].contains { $0.index == args[i].index } }
        let conjunctions: [[LinuxSeccompArg]] = repeated ? args.map { [$0] } : [args]
        return names.flatMap { n in conjunctions.map { Route(n, $0, action: ruleAction) } }
    }
}
