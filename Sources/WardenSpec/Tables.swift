/// One lookup table per concept, with the runtime-spec's spelling as the raw value.

/// `linux.seccomp.defaultAction` / `syscalls[].action`.
public enum SeccompAction: String, CaseIterable, Sendable {
    case kill = "SCMP_ACT_KILL"  // libseccomp: same as KILL_THREAD
    case killProcess = "SCMP_ACT_KILL_PROCESS"
    case killThread = "SCMP_ACT_KILL_THREAD"
    case trap = "SCMP_ACT_TRAP"
    case errno = "SCMP_ACT_ERRNO"
    case notify = "SCMP_ACT_NOTIFY"
    case trace = "SCMP_ACT_TRACE"
    case log = "SCMP_ACT_LOG"
    case allow = "SCMP_ACT_ALLOW"

    /// Kernel precedence (higher is stricter): KILL_PROCESS > KILL_THREAD > TRAP > ERRNO
    /// > USER_NOTIF > TRACE > LOG > ALLOW, as in kernel/seccomp.c.
    public var strictness: Int {
        switch self {
        case .killProcess: 7
        case .kill, .killThread: 6
        case .trap: 5
        case .errno: 4
        case .notify: 3
        case .trace: 2
        case .log: 1
        case .allow: 0
        }
    }

    /// The actions that carry `errnoRet` (runc: ERRNO and TRACE).
    public var takesErrnoRet: Bool { self == .errno || self == .trace }

    /// Whether a default of this action lets calls through: to the kernel (ALLOW, LOG), or to whatever
    /// a tracer or a seccomp agent decides (TRACE, NOTIFY).
    public var permissive: Bool { strictness <= SeccompAction.notify.strictness }
}

/// `linux.seccomp.syscalls[].args[].op`.
public enum SeccompOperator: String, CaseIterable, Sendable {
    case notEqual = "SCMP_CMP_NE"
    case lessThan = "SCMP_CMP_LT"
    case lessOrEqual = "SCMP_CMP_LE"
    case equal = "SCMP_CMP_EQ"
    case greaterOrEqual = "SCMP_CMP_GE"
    case greaterThan = "SCMP_CMP_GT"
    case maskedEqual = "SCMP_CMP_MASKED_EQ"

    /// Whether `x` satisfies the comparison (libseccomp compares the full 64-bit argument, unsigned).
    public func holds(_ x: UInt64, value: UInt64, valueTwo: UInt64) -> Bool {
        switch self {
        case .notEqual: x != value
        case .lessThan: x < value
        case .lessOrEqual: x <= value
        case .equal: x == value
        case .greaterOrEqual: x >= value
        case .greaterThan: x > value
        // libseccomp masks the compared value too: bits of valueTwo outside the mask never count.
        case .maskedEqual: (x & value) == (valueTwo & value)
        }
    }
}

/// `linux.seccomp.architectures`, with libseccomp's name for each.
public enum SeccompArch: String, CaseIterable, Sendable {
    case x86 = "SCMP_ARCH_X86"
    case x86_64 = "SCMP_ARCH_X86_64"
    case x32 = "SCMP_ARCH_X32"
    case arm = "SCMP_ARCH_ARM"
    case aarch64 = "SCMP_ARCH_AARCH64"
    case mips = "SCMP_ARCH_MIPS"
    case mips64 = "SCMP_ARCH_MIPS64"
    case mips64n32 = "SCMP_ARCH_MIPS64N32"
    case mipsel = "SCMP_ARCH_MIPSEL"
    case mipsel64 = "SCMP_ARCH_MIPSEL64"
    case mipsel64n32 = "SCMP_ARCH_MIPSEL64N32"
    case ppc = "SCMP_ARCH_PPC"
    case ppc64 = "SCMP_ARCH_PPC64"
    case ppc64le = "SCMP_ARCH_PPC64LE"
    case s390 = "SCMP_ARCH_S390"
    case s390x = "SCMP_ARCH_S390X"
    case parisc = "SCMP_ARCH_PARISC"
    case parisc64 = "SCMP_ARCH_PARISC64"
    case riscv64 = "SCMP_ARCH_RISCV64"

    /// The name libseccomp's `seccomp_arch_resolve_name` takes.
    public var libseccompName: String {
        String(rawValue.dropFirst("SCMP_ARCH_".count)).lowercased()
    }

    /// The name `includes.arches` / `excludes.arches` of a Docker profile use: libseccomp-golang's
    /// `ScmpArch.String()`, which Docker matches against (amd64, arm64, x86, …).
    public var dockerName: String {
        switch self {
        case .x86_64: "amd64"
        case .aarch64: "arm64"
        default: libseccompName
        }
    }

    /// Other names users give an architecture on the command line: the kernel's `uname -m` and Go's
    /// GOARCH. With `rawValue`, `libseccompName` and `dockerName`, the one table every command reads.
    static let aliases: [String: SeccompArch] = [
        "386": .x86, "i386": .x86, "i486": .x86, "i586": .x86, "i686": .x86,
        "armv6l": .arm, "armv7l": .arm, "armhf": .arm,
        "mipsle": .mipsel, "mips64le": .mipsel64,
        "powerpc": .ppc, "ppc64el": .ppc64le, "riscv": .riscv64,
    ]

    /// An architecture as a user spells it, case-insensitively: `SCMP_ARCH_X86_64`, libseccomp's
    /// `x86_64`, Docker's and Go's `amd64`, the kernel's `i686`, … (nil: not an architecture).
    public init?(spelling: String) {
        let s = spelling.lowercased()
        if let a = SeccompArch.allCases.first(where: {
            $0.rawValue.lowercased() == s || $0.libseccompName == s || $0.dockerName == s
        }) ?? SeccompArch.aliases[s] {
            self = a
        } else {
            return nil
        }
    }

    /// The architecture this binary runs on: runc always adds it to the filter.
    public static var native: SeccompArch {
        #if arch(x86_64)
        .x86_64
        #elseif arch(arm64)
        .aarch64
        #elseif arch(s390x)
        .s390x
        #elseif arch(powerpc64le)
        .ppc64le
        #else
        .x86_64
        #endif
    }
}

/// `linux.seccomp.flags`.
public enum SeccompFlag: String, CaseIterable, Sendable {
    case tsync = "SECCOMP_FILTER_FLAG_TSYNC"
    case log = "SECCOMP_FILTER_FLAG_LOG"
    case specAllow = "SECCOMP_FILTER_FLAG_SPEC_ALLOW"
    case waitKillableRecv = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
}

/// A value that must be one of a table's raw values, or a clear error naming the valid ones.
public func lookup<T: RawRepresentable & CaseIterable>(_ type: T.Type, _ raw: String, what: String, path: JSONPath) throws(WardenError) -> T where T.RawValue == String {
    if let v = T(rawValue: raw) { return v }
    let valid = T.allCases.map(\.rawValue).joined(separator: ", ")
    throw .input("\"\(raw)\" is not a valid \(what) (valid: \(valid))", path: path)
}

import WardenCore
import WardenJSON
