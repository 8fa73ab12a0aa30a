/// What each stage does with each verdict under each mode: the outcome (`pass`, `rewrite`, `refuse`),
/// the audit record, the stderr line and the exit code. Written from Hook.swift and Wrapper.swift as
/// they were before `Enforcement` (issue 13) and checked against the binary built from them
/// (WardenTests/EnforcementPinTests), so the unit table over `Enforcement` proves nothing changed.
/// Linked into WardenTests, which runs the binary against it.
enum EnforcementTable {
    /// "error": the config (or state) cannot be read; the others are `Verdict`s.
    static let verdicts = ["injected", "tightened", "compliant", "denied", "exempt", "error"]
    static let modes = ["enforce", "audit", "observe"]
    /// The stages as the audit log names them: a writer on stdout, a judge, a writer in place.
    static let stages = ["precreate", "createRuntime", "wrapper-runc"]

    struct Row: Equatable, CustomStringConvertible {
        var outcome: String
        var decision: String
        var changes: [String]
        var reason: String?
        /// The line on stderr, if any.
        var message: String?
        var exit: Int32

        var description: String {
            "\(outcome) decision=\(decision) changes=\(changes) reason=\(reason ?? "nil") message=\(message ?? "nil") exit=\(exit)"
        }
    }

    /// `id`: the container's id; `reason`: the evaluation's reason (for "error", the error's text);
    /// `changes`: its changes' descriptions; `errorExit`: the error's exit code.
    static func expected(verdict: String, mode: String, stage: String, id: String, reason: String?, changes: [String],
                         errorExit: Int32 = 2) -> Row {
        let refuses = mode == "enforce", writes = mode != "audit"
        if verdict == "error" {
            let text = reason ?? ""
            if stage.hasPrefix("wrapper-") {
                return refuses ? Row(outcome: "refuse", decision: "denied", changes: [], reason: text, message: "seccomp-warden: \(text)", exit: 1)
                    : Row(outcome: "pass", decision: "audit-only", changes: [], reason: text, message: nil, exit: 0)
            }
            let message = "seccomp-warden hook \(stage): \(text)"
            return refuses ? Row(outcome: "refuse", decision: "denied", changes: [], reason: text, message: message, exit: errorExit)
                : Row(outcome: "pass", decision: "audit-only", changes: [], reason: text, message: message, exit: 0)
        }
        if stage == "precreate" || stage.hasPrefix("wrapper-") {
            switch verdict {
            case "injected", "tightened":
                return writes ? Row(outcome: "rewrite", decision: verdict, changes: changes, reason: reason, message: nil, exit: 0)
                    : Row(outcome: "pass", decision: "audit-only", changes: changes, reason: "would be \(verdict)", message: nil, exit: 0)
            case "denied":
                return refuses
                    ? Row(outcome: "refuse", decision: "denied", changes: [], reason: reason,
                          message: "seccomp-warden: refused by policy: \(reason ?? "")", exit: 1)
                    : Row(outcome: "pass", decision: "audit-only", changes: [], reason: reason, message: nil, exit: 0)
            default:
                return Row(outcome: "pass", decision: verdict, changes: changes, reason: reason, message: nil, exit: 0)
            }
        }
        // A gate judges only.
        switch verdict {
        case "compliant", "exempt":
            return Row(outcome: "pass", decision: verdict, changes: [], reason: reason, message: nil, exit: 0)
        default:
            let findings = verdict == "denied" ? [reason ?? "refused"] : verdict == "injected" ? ["no seccomp profile"] : changes
            let why = "container \(id): seccomp profile falls short of the policy: " + findings.prefix(3).joined(separator: "; ")
                + (findings.count > 3 ? "; and \(findings.count - 3) more" : "")
            return refuses ? Row(outcome: "refuse", decision: "denied", changes: findings, reason: why, message: "seccomp-warden: \(why)", exit: 1)
                : Row(outcome: "pass", decision: "audit-only", changes: findings, reason: why, message: nil, exit: 0)
        }
    }
}
