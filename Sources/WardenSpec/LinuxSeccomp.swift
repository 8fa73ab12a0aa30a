import WardenCore
import WardenJSON

/// The runtime-spec `linux.seccomp` object, complete.
public struct LinuxSeccomp: Equatable, Sendable {
    /// `flags` absent, `null` and `[]` are three different things to runc: keep which one we read.
    public enum Flags: Equatable, Sendable {
        case absent
        case null
        case list([SeccompFlag])

        public var values: [SeccompFlag] {
            if case .list(let l) = self { return l }
            return []
        }
    }

    public var defaultAction: SeccompAction
    public var defaultErrnoRet: UInt32?
    /// nil when the key is absent (runc: the native architecture only).
    public var architectures: [SeccompArch]?
    public var flags: Flags
    public var listenerPath: String?
    public var listenerMetadata: String?
    /// nil when the key is absent.
    public var syscalls: [LinuxSyscall]?

    public init(defaultAction: SeccompAction, defaultErrnoRet: UInt32? = nil, architectures: [SeccompArch]? = nil,
                flags: Flags = .absent, listenerPath: String? = nil, listenerMetadata: String? = nil,
                syscalls: [LinuxSyscall]? = nil) {
        self.defaultAction = defaultAction
        self.defaultErrnoRet = defaultErrnoRet
        self.architectures = architectures
        self.flags = flags
        self.listenerPath = listenerPath
        self.listenerMetadata = listenerMetadata
        self.syscalls = syscalls
    }

    /// The effective default (action, errno) as a runtime applies it.
    public var defaultRule: RuleAction { RuleAction(defaultAction, errnoRet: defaultErrnoRet) }
}

/// `linux.seccomp.syscalls[]`.
public struct LinuxSyscall: Equatable, Sendable {
    public var names: [String]
    public var action: SeccompAction
    public var errnoRet: UInt32?
    public var args: [LinuxSeccompArg]?

    public init(names: [String], action: SeccompAction, errnoRet: UInt32? = nil, args: [LinuxSeccompArg]? = nil) {
        self.names = names
        self.action = action
        self.errnoRet = errnoRet
        self.args = args
    }

    public var ruleAction: RuleAction { RuleAction(action, errnoRet: errnoRet) }
}

/// `linux.seccomp.syscalls[].args[]`.
public struct LinuxSeccompArg: Hashable, Sendable {
    public var index: UInt32
    public var value: UInt64
    /// nil when absent (means 0).
    public var valueTwo: UInt64?
    public var op: SeccompOperator

    public init(index: UInt32, value: UInt64, valueTwo: UInt64? = nil, op: SeccompOperator) {
        self.index = index
        self.value = value
        self.valueTwo = valueTwo
        self.op = op
    }

    public func holds(_ args: [UInt64]) -> Bool {
        op.holds(args[Int(index)], value: value, valueTwo: valueTwo ?? 0)
    }
}

/// An action with the errno (or trace message) the runtime gives it: what the kernel returns.
public struct RuleAction: Hashable, Sendable, CustomStringConvertible {
    public var action: SeccompAction
    /// The data the kernel returns: errno for ERRNO, message for TRACE, 0 otherwise.
    public var data: UInt32
    /// Whether `data` was written explicitly (kept when the rule is written back).
    public var explicitData: Bool

    /// runc's defaults: EPERM for ERRNO and TRACE without errnoRet.
    public init(_ action: SeccompAction, errnoRet: UInt32? = nil) {
        self.action = action
        self.data = action.takesErrnoRet ? (errnoRet ?? 1) : 0
        self.explicitData = errnoRet != nil && action.takesErrnoRet
    }

    public static let allow = RuleAction(.allow)

    public var strictness: Int { action.strictness }

    /// Equal as the kernel sees it (KILL is KILL_THREAD; errno written or defaulted alike).
    public func sameEffect(_ other: RuleAction) -> Bool {
        strictness == other.strictness && data == other.data
    }

    public static func == (a: RuleAction, b: RuleAction) -> Bool { a.sameEffect(b) }
    public func hash(into h: inout Hasher) { h.combine(strictness); h.combine(data) }

    /// The stricter of two; on a tie in strictness the left side (the container's) wins,
    /// so a container that already denied keeps its own errno.
    /// ERRNO(0) does not run the call but tells the caller it succeeded (`keyctl` "returns" keyring 0,
    /// `clone` "returns" as the child): against an errno that says "denied" it is the weaker one.
    public func stricter(_ other: RuleAction) -> RuleAction {
        if other.strictness == strictness && action == .errno && data == 0 && other.data != 0 { return other }
        return other.strictness > strictness ? other : self
    }

    public var errnoRet: UInt32? { action.takesErrnoRet && (explicitData || data != 1) ? data : nil }

    public var description: String {
        action.takesErrnoRet ? "\(action.rawValue)(\(data))" : action.rawValue
    }
}
