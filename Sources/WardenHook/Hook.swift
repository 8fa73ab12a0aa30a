import WardenJSON
import WardenPolicy
import WardenSpec
#if canImport(Glibc)
import Glibc
#endif

/// `seccomp-warden hook STAGE [--policy FILE]`: the OCI hook entry. It always drains stdin first
/// (crun fails hooks that do not), never rewrites config.json after create, and fails closed.
public enum Hook {
    public static let stages = ["precreate", "createRuntime", "prestart", "createContainer"]

    public static func run(stage: String, arguments: [String]) -> Int32 {
        // Drain stdin before anything else, whatever happens next.
        let input: [UInt8]
        do { input = try FileIO.readAll(fd: 0, name: "<stdin>") } catch {
            printErr("seccomp-warden hook \(stage): \(error)")
            return error.exitCode
        }
        var explicitPolicy: String? = nil
        if let i = arguments.firstIndex(of: "--policy"), i + 1 < arguments.count { explicitPolicy = arguments[i + 1] }
        let policy: Policy
        do { policy = try Policy.load(explicit: explicitPolicy) } catch {
            // No policy, no decision: fail closed (the container does not start).
            printErr("seccomp-warden hook \(stage): \(error)")
            AuditLog.record(policy: nil, stage: stage, id: nil, bundle: nil, decision: "denied", summary: [], reason: "\(error)")
            return error.exitCode
        }
        switch stage {
        case "precreate": return precreate(input, policy: policy)
        case "createRuntime", "prestart", "createContainer": return gate(stage, input, policy: policy)
        default:
            printErr("seccomp-warden hook: unknown stage \"\(stage)\" (valid: \(stages.joined(separator: ", ")))")
            return 2
        }
    }

    /// podman's precreate: the config on stdin, the complete (tightened) config on stdout.
    static func precreate(_ input: [UInt8], policy: Policy) -> Int32 {
        let stage = "precreate"
        do {
            let config = OCIConfig(document: try JSONDocument(bytes: input, name: "<stdin config>"))
            let e = try Evaluation.evaluate(config, policy: policy)
            let id = try? config.annotations().first { $0.0 == "io.podman.annotations.container-name" || $0.0 == "io.container.manager" }?.1
            switch e.verdict {
            case .injected, .tightened:
                if policy.mode == .audit {
                    AuditLog.record(policy: policy, stage: stage, id: id, bundle: nil, decision: "audit-only",
                                    summary: e.changes.map(\.description), reason: "would be \(e.verdict.rawValue)")
                    try FileIO.writeAll(fd: 1, input, name: "<stdout>")
                    return 0
                }
                config.setSeccomp(e.profile!)
                try FileIO.writeAll(fd: 1, config.document.serialized(.compact), name: "<stdout>")
            case .denied:
                AuditLog.record(policy: policy, stage: stage, id: id, bundle: nil, decision: policy.mode == .audit ? "audit-only" : "denied",
                                summary: [], reason: e.reason)
                if policy.mode == .enforce {
                    printErr("seccomp-warden: refused by policy: \(e.reason ?? "")")
                    return 1
                }
                try FileIO.writeAll(fd: 1, input, name: "<stdout>")
                return 0
            default:
                try FileIO.writeAll(fd: 1, input, name: "<stdout>")
            }
            AuditLog.record(policy: policy, stage: stage, id: id, bundle: nil, decision: e.verdict.rawValue,
                            summary: e.changes.map(\.description), reason: e.reason)
            return 0
        } catch {
            AuditLog.record(policy: policy, stage: stage, id: nil, bundle: nil, decision: policy.mode == .audit ? "audit-only" : "denied",
                            summary: [], reason: "\(error)")
            printErr("seccomp-warden hook precreate: \(error)")
            if policy.mode == .audit { try? FileIO.writeAll(fd: 1, input, name: "<stdout>"); return 0 }
            return error.exitCode
        }
    }

    /// createRuntime/prestart/createContainer: the runtime has already read config.json, so this
    /// stage can only judge it; it never rewrites the file.
    static func gate(_ stage: String, _ input: [UInt8], policy: Policy) -> Int32 {
        var id: String? = nil, bundle: String? = nil
        do {
            let state = try OCIState(document: try JSONDocument(bytes: input, name: "<stdin state>"))
            id = state.id
            bundle = state.bundle
            let config = try Bundle.loadConfig(state.bundle)
            let e = try Evaluation.evaluate(config, policy: policy)
            switch e.verdict {
            case .compliant, .exempt:
                AuditLog.record(policy: policy, stage: stage, id: id, bundle: bundle, decision: e.verdict.rawValue, summary: [], reason: e.reason)
                return 0
            default:
                let findings = e.verdict == .denied ? [e.reason ?? "refused"]
                    : e.verdict == .injected ? ["no seccomp profile"] : e.changes.map(\.description)
                let reason = "container \(state.id): seccomp profile falls short of the policy: " + findings.prefix(3).joined(separator: "; ")
                    + (findings.count > 3 ? "; and \(findings.count - 3) more" : "")
                if policy.mode == .audit {
                    AuditLog.record(policy: policy, stage: stage, id: id, bundle: bundle, decision: "audit-only", summary: findings, reason: reason)
                    return 0
                }
                AuditLog.record(policy: policy, stage: stage, id: id, bundle: bundle, decision: "denied", summary: findings, reason: reason)
                printErr("seccomp-warden: \(reason)")
                return 1
            }
        } catch {
            let decision = policy.mode == .audit ? "audit-only" : "denied"
            AuditLog.record(policy: policy, stage: stage, id: id, bundle: bundle, decision: decision, summary: [], reason: "\(error)")
            printErr("seccomp-warden hook \(stage): \(error)")
            return policy.mode == .audit ? 0 : error.exitCode
        }
    }
}
