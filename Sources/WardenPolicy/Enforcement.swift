import WardenSpec

/// What a stage does with a judgement: the one place where verdict × mode × stage becomes an
/// outcome, an audit entry, a line on stderr and an exit code. The hooks and the wrapper only
/// carry it out (write the profile, kill the process, print, log).
public enum Enforcement {
    /// Where a judgement is carried out.
    public enum Stage: Equatable, Sendable {
        /// podman's precreate: the config on stdin, the (tightened) config on stdout.
        case precreate
        /// createRuntime, prestart, createContainer: the runtime has already read config.json, so
        /// the stage can only judge it.
        case gate(String)
        /// poststart: the container's process, judged from the host.
        case poststart
        /// The runtime wrapper (`seccomp-warden-runc`): tightens config.json in place.
        case wrapper(runtime: String)

        /// The hook stage named on the command line.
        public init(hook name: String) {
            switch name {
            case "precreate": self = .precreate
            case "poststart": self = .poststart
            default: self = .gate(name)
            }
        }

        /// As the audit log names it.
        public var name: String {
            switch self {
            case .precreate: "precreate"
            case .gate(let name): name
            case .poststart: "poststart"
            case .wrapper(let runtime): "wrapper-\(runtime)"
            }
        }

        /// Whether the stage writes the profile it judged (before the runtime reads it).
        var writes: Bool {
            switch self {
            case .precreate, .wrapper: true
            case .gate, .poststart: false
            }
        }
    }

    /// What a writer puts in `linux.seccomp`: the profile, or (precreate, from the verdict cache) only
    /// its compact text, ready to splice in (`Evaluation.written`). At least one of the two is there.
    public struct Rewrite: Equatable, Sendable {
        public var profile: LinuxSeccomp?
        public var written: [UInt8]?
    }

    public enum Outcome: Equatable, Sendable {
        /// The container goes on as it is.
        case pass
        /// The container goes on with this profile in its config.
        case rewrite(Rewrite)
        /// The container must not run (a poststart refusal: its process is killed).
        case refuse(String)

        public var kind: String {
            switch self {
            case .pass: "pass"
            case .rewrite: "rewrite"
            case .refuse: "refuse"
            }
        }
    }

    /// The audit log's `decision`.
    public enum AuditDecision: String, Sendable {
        case injected, tightened, compliant, denied, exempt, unverified
        case auditOnly = "audit-only"

        init(_ verdict: Verdict) {
            switch verdict {
            case .injected: self = .injected
            case .tightened: self = .tightened
            case .compliant: self = .compliant
            case .denied: self = .denied
            case .exempt: self = .exempt
            case .auditOnly: self = .auditOnly
            }
        }
    }

    /// One audit record's judgement (the log adds who, where and when).
    public struct AuditEntry: Equatable, Sendable {
        public var decision: AuditDecision
        public var changes: [String]
        public var reason: String?

        public init(_ decision: AuditDecision, changes: [String] = [], reason: String? = nil) {
            self.decision = decision
            self.changes = changes
            self.reason = reason
        }
    }

    public struct Result: Equatable, Sendable {
        public var outcome: Outcome
        public var audit: AuditEntry
        /// The line for stderr, if any.
        public var message: String?
        public var exitCode: Int32

        /// Why the container must not run, or nil.
        public var refusal: String? {
            if case .refuse(let reason) = outcome { return reason }
            return nil
        }
    }

    /// What `stage` does with the evaluation of container `id` under `mode`.
    public static func decide(_ e: Evaluation, mode: Policy.Mode, stage: Stage, container id: String? = nil) -> Result {
        let refuses = mode.refuses
        if stage.writes {
            switch e.verdict {
            case .injected, .tightened:
                guard mode.writesProfiles else {
                    return Result(outcome: .pass, audit: AuditEntry(.auditOnly, changes: e.changes.map(\.description),
                                                                    reason: "would be \(e.verdict.rawValue)"),
                                  message: nil, exitCode: 0)
                }
                // Evaluation gives a profile with these verdicts whenever it was asked for one.
                guard e.profile != nil || e.written != nil else {
                    return failure("no tightened profile for a \(e.verdict.rawValue) container", exitCode: 1, mode: mode, stage: stage)
                }
                return Result(outcome: .rewrite(Rewrite(profile: e.profile, written: e.written)), audit: AuditEntry(.init(e.verdict), changes: e.changes.map(\.description), reason: e.reason),
                              message: nil, exitCode: 0)
            case .denied:
                guard refuses else { return Result(outcome: .pass, audit: AuditEntry(.auditOnly, reason: e.reason), message: nil, exitCode: 0) }
                let reason = "refused by policy: \(e.reason ?? "")"
                return Result(outcome: .refuse(reason), audit: AuditEntry(.denied, reason: e.reason), message: "seccomp-warden: \(reason)", exitCode: 1)
            case .compliant, .exempt, .auditOnly:
                return Result(outcome: .pass, audit: AuditEntry(.init(e.verdict), changes: e.changes.map(\.description), reason: e.reason),
                              message: nil, exitCode: 0)
            }
        }
        // A judge only: what falls short is refused or, short of enforce, logged.
        switch e.verdict {
        case .compliant, .exempt:
            return Result(outcome: .pass, audit: AuditEntry(.init(e.verdict), reason: e.reason), message: nil, exitCode: 0)
        case .denied, .injected, .tightened, .auditOnly:
            let findings = e.verdict == .denied ? [e.reason ?? "refused"]
                : e.verdict == .injected ? ["no seccomp profile"] : e.changes.map(\.description)
            let reason = "container \(id ?? "?"): seccomp profile falls short of the policy: " + findings.prefix(3).joined(separator: "; ")
                + (findings.count > 3 ? "; and \(findings.count - 3) more" : "")
            guard refuses else {
                return Result(outcome: .pass, audit: AuditEntry(.auditOnly, changes: findings, reason: reason), message: nil, exitCode: 0)
            }
            return Result(outcome: .refuse(reason), audit: AuditEntry(.denied, changes: findings, reason: reason),
                          message: "seccomp-warden: \(reason)", exitCode: 1)
        }
    }

    /// What poststart does with what the verifier found in container `id`'s process (`checks`: every
    /// check's line, logged when nothing was found). A refusal means the process is killed.
    public static func poststart(findings: [String], checks: [String], container id: String, mode: Policy.Mode) -> Result {
        guard !findings.isEmpty else {
            return Result(outcome: .pass, audit: AuditEntry(.compliant, changes: checks), message: nil, exitCode: 0)
        }
        let reason = "container \(id): " + findings.joined(separator: "; ")
        guard mode.refuses else {
            return Result(outcome: .pass, audit: AuditEntry(.auditOnly, changes: findings, reason: reason), message: nil, exitCode: 0)
        }
        return Result(outcome: .refuse(reason), audit: AuditEntry(.denied, changes: findings, reason: reason + " (process killed)"),
                      message: "seccomp-warden: \(reason); the container's process was killed", exitCode: 1)
    }

    /// What `stage` does when it cannot judge (input it cannot read, a bundle it does not trust, no
    /// policy: `mode` nil): it fails closed, except that audit and observe never stop a container.
    /// A hook says why on stderr in every mode and exits with `exitCode` when it refuses; the wrapper
    /// says why only when it refuses, and then exits 1.
    public static func failure(_ reason: String, exitCode: Int32, mode: Policy.Mode?, stage: Stage) -> Result {
        let refuses = mode?.refuses ?? true
        let audit = AuditEntry(refuses ? .denied : .auditOnly, reason: reason)
        if case .wrapper = stage {
            return refuses ? Result(outcome: .refuse(reason), audit: audit, message: "seccomp-warden: \(reason)", exitCode: 1)
                : Result(outcome: .pass, audit: audit, message: nil, exitCode: 0)
        }
        return Result(outcome: refuses ? .refuse(reason) : .pass, audit: audit,
                      message: "seccomp-warden hook \(stage.name): \(reason)", exitCode: refuses ? exitCode : 0)
    }
}
