import WardenCore
import WardenSpec

/// What `policy check` and `policy diff` say about a policy: which capabilities of the built-in baseline
/// it keeps, denies or only logs, and what changes between two policies.
public struct CapabilityCoverage: Sendable {
    public var capability: Capability
    /// Routes of the capability the policy's deny rules hold (denied or logged), and of them the logged ones.
    public var held: Int
    public var logged: Int
    public var total: Int { capability.routes.count }
}

extension Policy {
    /// A route as the policy holds it, keyed by where it leads (syscall and conditions), not by its action.
    struct RouteKey: Hashable { var syscall: String; var conditions: [LinuxSeccompArg] }

    /// The policy's deny routes (the fixed ones: a Docker-format deny file adds more per container), by key.
    var routeActions: [RouteKey: RuleAction] {
        var out = [RouteKey: RuleAction]()
        for r in deny.flatMap(\.routes) {
            let k = RouteKey(syscall: r.syscall, conditions: r.conditions)
            out[k] = out[k].map { $0.stricter(r.action) } ?? r.action
        }
        return out
    }

    public var coverage: [CapabilityCoverage] {
        let own = routeActions
        return Builtin.capabilities.map { c in
            let actions = c.routes.compactMap { own[RouteKey(syscall: $0.syscall, conditions: $0.conditions)] }
            return CapabilityCoverage(capability: c, held: actions.count, logged: actions.filter { $0.action == .log }.count)
        }
    }

    /// Warnings for a policy that silently weakens the baseline. A policy with no `deny` keeps the built-in one.
    public var baselineWarnings: [String] {
        var out = [String]()
        let missing = coverage.filter { $0.held < $0.total }
        if !missing.isEmpty {
            let names = missing.map { $0.held == 0 ? $0.capability.name : "\($0.capability.name) (\($0.held) of \($0.total) routes)" }
            out.append("deny leaves out the built-in baseline's \(names.joined(separator: ", ")): "
                       + "add \"builtin\" to deny, or \"capability:NAME\" for each one the site means to keep")
        }
        switch mode {
        case .audit: out.append("mode audit: no container's profile is changed and none is refused")
        case .observe: out.append("mode observe: the baseline's routes are logged (SCMP_ACT_LOG), not denied; no container is refused")
        case .enforce:
            let logged = coverage.filter { $0.logged > 0 }.map(\.capability.name)
            if !logged.isEmpty { out.append("logged, not denied (\"action\": \"log\"): \(logged.joined(separator: ", "))") }
        }
        return out
    }
}

/// The differences between two policies, one line each.
public enum PolicyDiff {
    public static func lines(_ old: Policy, _ new: Policy) -> [String] {
        var out = [String]()
        if old.mode != new.mode { out.append("mode: \(old.mode.rawValue) -> \(new.mode.rawValue)") }
        let a = old.routeActions, b = new.routeActions
        func name(_ k: Policy.RouteKey) -> String { Route(k.syscall, k.conditions).description }
        let keys = (Array(a.keys) + b.keys.filter { a[$0] == nil }).sorted { name($0) < name($1) }
        for k in keys {
            switch (a[k], b[k]) {
            case (nil, let to?): out.append("+ \(name(k)) => \(to)")
            case (let from?, nil): out.append("- \(name(k)) => \(from) (no longer in deny)")
            case (let from?, let to?) where !from.sameEffect(to): out.append("~ \(name(k)): \(from) -> \(to)")
            default: break
            }
        }
        if old.denySources.count != new.denySources.count {
            out.append("deny files in Docker format (converted per container): \(old.denySources.count) -> \(new.denySources.count)")
        }
        if old.architectures != new.architectures {
            func arches(_ p: Policy) -> String { p.architectures.map { $0.map(\.rawValue).joined(separator: ", ") } ?? "the container's own" }
            out.append("architectures: \(arches(old)) -> \(arches(new))")
        }
        if old.trustedEngine != new.trustedEngine {
            out.append("trustedEngine: \(old.trustedEngine?.rawValue ?? "none") -> \(new.trustedEngine?.rawValue ?? "none")")
        }
        for k in new.trustedAnnotations where !old.trustedAnnotations.contains(k) { out.append("+ trustedAnnotations \(k)") }
        for k in old.trustedAnnotations where !new.trustedAnnotations.contains(k) { out.append("- trustedAnnotations \(k)") }
        // Exemptions by what they match and why, whatever their index.
        func key(_ e: Exemption) -> String { e.summary.split(separator: ":", maxSplits: 1).dropFirst().joined() }
        let oldEx = Set(old.exemptions.map(key)), newEx = Set(new.exemptions.map(key))
        for e in new.exemptions where !oldEx.contains(key(e)) { out.append("+ \(e.summary)") }
        for e in old.exemptions where !newEx.contains(key(e)) { out.append("- \(e.summary)") }
        if old.defaultAllow != new.defaultAllow { out.append("defaultAllow: \(old.defaultAllow.rawValue) -> \(new.defaultAllow.rawValue)") }
        if old.allowNotify != new.allowNotify { out.append("allowNotify: \(old.allowNotify) -> \(new.allowNotify)") }
        if old.forbiddenFlags != new.forbiddenFlags {
            out.append("forbiddenFlags: [\(old.forbiddenFlags.map(\.rawValue).joined(separator: ", "))] -> [\(new.forbiddenFlags.map(\.rawValue).joined(separator: ", "))]")
        }
        for k in new.allowAnnotations where !old.allowAnnotations.contains(k) { out.append("+ allowAnnotations \(k)") }
        for k in old.allowAnnotations where !new.allowAnnotations.contains(k) { out.append("- allowAnnotations \(k)") }
        let oldInject = old.files.first { $0.role == "inject" }?.digest, newInject = new.files.first { $0.role == "inject" }?.digest
        if oldInject != newInject || old.injectOverride != new.injectOverride {
            out.append("inject: \(oldInject.map { "file (digest \($0))" } ?? (old.injectOverride == nil ? "built-in" : "inline")) -> "
                       + (newInject.map { "file (digest \($0))" } ?? (new.injectOverride == nil ? "built-in" : "inline")))
        }
        return out
    }
}
