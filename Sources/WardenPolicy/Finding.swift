/// One way a container's profile falls short of the policy, for machines (`check --json`): what kind
/// (`code`), which syscall when it is about one, and the line a user reads.
public struct Finding: Equatable, Sendable {
    public var code: String
    public var syscall: String?
    public var detail: String

    public init(code: String, syscall: String? = nil, detail: String) {
        self.code = code
        self.syscall = syscall
        self.detail = detail
    }

    /// The policy refuses the profile outright (`Evaluation.reason`).
    public static func refused(_ reason: String) -> Finding { Finding(code: "refused", detail: reason) }
}

extension Change {
    /// This change seen as what the container's profile lacked.
    public var finding: Finding {
        switch self {
        case .injected: Finding(code: "no-profile", detail: "no seccomp profile (the container runs unconfined)")
        case .defaultAction: Finding(code: "default-action", detail: "weaker than the policy: \(self)")
        case .syscall(let name, _, _): Finding(code: "syscall", syscall: name, detail: "weaker than the policy: \(self)")
        case .architectureRemoved: Finding(code: "architecture", detail: "weaker than the policy: \(self)")
        case .flagRemoved: Finding(code: "flag", detail: "weaker than the policy: \(self)")
        case .overApproximated(let name, _): Finding(code: "over-approximated", syscall: name, detail: "weaker than the policy: \(self)")
        case .defaultClosed: Finding(code: "default-open", detail: "weaker than the policy: \(self)")
        case .split(let name): Finding(code: "condition-limit", syscall: name, detail: "weaker than the policy: \(self)")
        case .routeClosed(let name, _): Finding(code: "route-open", syscall: name, detail: "weaker than the policy: \(self)")
        case .recorded: Finding(code: "recorded", detail: "weaker than the policy: \(self)")
        }
    }
}
