import WardenCore
import WardenSpec
import WardenSeccomp

/// One thing tightening changed, or would change: each is also a compliance finding.
public enum Change: Equatable, Sendable, CustomStringConvertible {
    /// The container had no profile; the policy's was injected.
    case injected
    case defaultAction(from: RuleAction, to: RuleAction)
    /// A syscall's action got stricter (for some or all argument values).
    case syscall(name: String, from: Decision, to: Decision)
    case architectureRemoved(SeccompArch)
    case flagRemoved(SeccompFlag)
    /// Where the result is stricter than the exact meet (a region an OCI profile cannot state, a
    /// bound hit): the syscall, the argument region and why.
    case overApproximated(name: String, detail: String)
    /// A default that lets calls through is now named for every syscall libseccomp knows, under a
    /// default of ENOSYS: calls newer than libseccomp cannot be named, and would reach the kernel.
    case defaultClosed(from: RuleAction)
    /// An entry with more than six conditions (a repeated argument index) split into one entry per
    /// condition: runc reads them all, crun only the first six.
    case split(name: String)
    /// The proof on the compiled filter found a route open; the syscall is now denied outright.
    case routeClosed(name: String, gap: String)
    /// A change as the verdict cache recorded it (its description).
    case recorded(String)

    public var description: String {
        switch self {
        case .injected: "no seccomp profile: injected the policy's profile"
        case .defaultAction(let from, let to): "defaultAction \(from) -> \(to)"
        case .syscall(let name, let from, let to):
            "\(name): \(Change.summary(from)) -> \(Change.summary(to))"
        case .architectureRemoved(let a): "architecture \(a.rawValue) removed (not allowed by policy)"
        case .flagRemoved(let f): "flag \(f.rawValue) removed (forbidden by policy)"
        case .overApproximated(let name, let detail):
            "\(name): stricter than the exact meet for \(detail)"
        case .defaultClosed(let from):
            "defaultAction \(from) -> \(Builtin.enosys), with \(from) named for every syscall libseccomp knows (calls newer than libseccomp would reach the kernel)"
        case .split(let name):
            "\(name): an entry with more than six conditions split into one entry per condition (crun reads only the first six)"
        case .routeClosed(let name, let gap):
            "\(name): the compiled filter leaves a route open (\(gap)); denied outright"
        case .recorded(let text): text
        }
    }

    static func summary(_ d: Decision) -> String {
        if d.rules.isEmpty { return d.otherwise.description }
        let rules = d.rules.map { r in
            r.args.map { "arg\($0.index) \($0.op.rawValue.dropFirst(9)) \($0.value)" + ($0.op == .maskedEqual ? "/\($0.valueTwo ?? 0)" : "") }
                .joined(separator: " && ") + " => \(r.action)"
        }
        return "[" + rules.joined(separator: "; ") + "; else \(d.otherwise)]"
    }
}

public struct TightenResult: Sendable {
    public var profile: LinuxSeccomp
    public var changes: [Change]
    /// Whether the container had no profile and got one.
    public var injected: Bool { changes.first == .injected }
}

/// Why a profile cannot be tightened into compliance and must be refused.
public struct Refusal: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}

/// The meet of a container's profile and the site baseline: for every architecture, syscall and
/// argument value, at least as strict as both, and no stricter where an OCI profile can say so.
public enum Tighten {
    /// `checkOutput: false` skips making sure libseccomp accepts the result (and the stricter fallback
    /// where it does not): for callers that only judge, never write, the profile. The verdict is the
    /// same either way; only the notes of that fallback can be missing from `changes`.
    public static func tighten(_ container: LinuxSeccomp?, policy: Policy, checkOutput: Bool = true) throws(Refusal) -> TightenResult {
        let routes = policy.deny.flatMap(\.routes)
        guard let container else {
            let (inject, pre) = readAlike(policy.inject)
            var r = meet(inject, policy.denyProfile, policy: policy, checkOutput: checkOutput)
            r.changes = [.injected] + pre + r.changes
            return try proven(r, routes: routes)
        }
        if !policy.allowNotify {
            if container.listenerPath != nil || container.defaultAction == .notify || (container.syscalls ?? []).contains(where: { $0.action == .notify }) {
                throw Refusal(reason: "the profile uses SCMP_ACT_NOTIFY/listenerPath, which the policy does not allow")
            }
        }
        if container.defaultAction.permissive && policy.defaultAllow == .refuse {
            throw Refusal(reason: "the profile's defaultAction is \(container.defaultAction.rawValue), which lets every other call through; the policy refuses such profiles")
        }
        let (a, pre) = readAlike(container)
        var r = meet(a, policy.denyProfile, policy: policy, checkOutput: checkOutput)
        r.changes = pre + r.changes
        // A gate (checkOutput false) that already found changes needs no proof: the verdict is made.
        if !checkOutput && !r.changes.isEmpty { return r }
        return try proven(r, routes: routes)
    }

    /// Proves every route closed on the filter runc and crun would build from `r.profile`; where a
    /// route is open, denies its syscall outright (the strictest action either side has for it) and
    /// proves again. Never returns a profile whose proof failed.
    static func proven(_ r: TightenResult, routes: [Route]) throws(Refusal) -> TightenResult {
        var r = r
        var last: Gap? = nil
        for _ in 0..<4 {
            let gaps = Guarantee.gaps(r.profile, routes: routes)
            guard let first = gaps.first else { return r }
            last = first
            if gaps.contains(where: { $0.syscall == nil }) || r.changes.count > 10_000 {
                throw Refusal(reason: "the compiled filter cannot be proven to hold the baseline: \(gaps.first { $0.syscall == nil } ?? first)")
            }
            var entries = r.profile.syscalls ?? []
            let decisions = r.profile.decisions()
            var seen = Set<String>()
            for gap in gaps {
                guard let name = gap.syscall, seen.insert(name).inserted else { continue }
                let floors = routes.filter { $0.syscall == name }.map(\.action)
                // An observed syscall (every route LOG) is closed with LOG, its floor; any other with a denial.
                var worst = !floors.isEmpty && floors.allSatisfy { $0.action == .log } ? RuleAction(.log)
                    : floors.reduce(Builtin.eperm) { $0.stricter($1) }
                if let own = decisions.first(where: { $0.name == name })?.decision {
                    for act in own.rules.map(\.action) + [own.otherwise] where act.strictness > worst.strictness { worst = act }
                }
                for i in entries.indices { entries[i].names.removeAll { $0 == name } }
                entries.removeAll { $0.names.isEmpty }
                entries.append(LinuxSyscall(names: [name], action: worst.action, errnoRet: worst.errnoRet))
                r.changes.append(.routeClosed(name: name, gap: gap.description))
            }
            r.profile.syscalls = entries
        }
        throw Refusal(reason: "the compiled filter cannot be proven to hold the baseline: \(last.map(\.description) ?? "")")
    }

    /// The profile with every entry read alike by runc and crun: an entry with more than six
    /// conditions (so a repeated argument index, which both read as an OR) becomes one entry per condition.
    static func readAlike(_ p: LinuxSeccomp) -> (LinuxSeccomp, [Change]) {
        guard let syscalls = p.syscalls, syscalls.contains(where: { ($0.args ?? []).count > 6 }) else { return (p, []) }
        var out = p
        var changes = [Change]()
        out.syscalls = syscalls.flatMap { e -> [LinuxSyscall] in
            guard let args = e.args, args.count > 6 else { return [e] }
            changes += e.names.map { .split(name: $0) }
            return args.map { var one = e; one.args = [$0]; return one }
        }
        return (out, changes)
    }

    /// The meet of two profiles. `a` is the container's side: on equal strictness its errno is kept.
    public static func meet(_ a: LinuxSeccomp, _ b: LinuxSeccomp, policy: Policy, checkOutput: Bool = true) -> TightenResult {
        var changes = [Change]()
        var out = a

        // Architectures: intersect with the policy's allowed list, if it has one.
        if let allowed = policy.architectures, let own = a.architectures {
            let kept = own.filter { allowed.contains($0) }
            for arch in own where !allowed.contains(arch) { changes.append(.architectureRemoved(arch)) }
            out.architectures = kept
        }

        // Flags: drop the forbidden ones, keeping absent/null/[] as they were.
        if case .list(let flags) = a.flags {
            let kept = flags.filter { !policy.forbiddenFlags.contains($0) }
            for f in flags where policy.forbiddenFlags.contains(f) { changes.append(.flagRemoved(f)) }
            out.flags = .list(kept)
        }

        var defaultOut = a.defaultRule.stricter(b.defaultRule)
        // A default that lets calls through (ALLOW, LOG, TRACE, NOTIFY) is named for every syscall
        // libseccomp knows, under ENOSYS: the same answer for every known call, and ENOSYS for calls
        // newer than libseccomp (which no profile can name), as runc's stub gives under a denying default.
        let closing = defaultOut.action.permissive
        if closing {
            defaultOut = Builtin.enosys
            changes.append(.defaultClosed(from: a.defaultRule))
            out.defaultAction = defaultOut.action
            out.defaultErrnoRet = defaultOut.errnoRet
        } else if !defaultOut.sameEffect(a.defaultRule) {
            changes.append(.defaultAction(from: a.defaultRule, to: defaultOut))
            out.defaultAction = defaultOut.action
            out.defaultErrnoRet = defaultOut.errnoRet
        }

        // Per syscall name: the pointwise meet of the two decisions.
        let da = a.decisions(), db = b.decisions()
        var indexA = [String: Decision](), indexB = [String: Decision]()
        for (n, d) in da { indexA[n] = d }
        for (n, d) in db { indexB[n] = d }
        var names = da.map(\.name)
        for (n, _) in db where indexA[n] == nil { names.append(n) }
        if closing {
            let named = Set(names)
            names += Syscalls.knownNames.filter { !named.contains($0) }
        }

        var result = [(name: String, decision: Decision)]()
        var changed = Set<String>()
        let abis = Compiler.architectures(of: out).filter { Guarantee.abis.contains($0) }
        let entries = (ExactMeet.Entries(a), ExactMeet.Entries(b))
        for name in names {
            let fa = indexA[name] ?? Decision(otherwise: a.defaultRule)
            let o = ExactMeet.outcome(name: name, a, b, defaultAction: defaultOut, abis: abis, entries: entries)
            if o.changed {
                changed.insert(name)
                changes.append(.syscall(name: name, from: fa, to: o.decision))
            }
            if let why = o.departure { changes.append(.overApproximated(name: name, detail: why)) }
            result.append((name, o.decision))
        }

        if defaultOut.sameEffect(a.defaultRule) {
            // Keep the container's own entries for every name that did not change.
            var entries = [LinuxSyscall]()
            for var e in a.syscalls ?? [] {
                e.names.removeAll { changed.contains($0) }
                if !e.names.isEmpty { entries.append(e) }
            }
            entries += encode(result.filter { changed.contains($0.name) }, defaultAction: defaultOut)
            out.syscalls = (a.syscalls == nil && entries.isEmpty) ? nil : entries
        } else {
            out.syscalls = encode(result, defaultAction: defaultOut)
        }
        // Our own output must compile: libseccomp rewrites some syscalls (socketcall multiplexing on
        // x86) in ways that can make rules collide. Any entry it refuses is replaced by its strictest action.
        for _ in 0..<(changes.isEmpty || !checkOutput ? 0 : 8) {
            guard case .failure(let failed) = compiles(out) else { break }
            var entries = out.syscalls ?? []
            let e = entries[failed]
            let worst = result.first { e.names.contains($0.name) }.map { r in
                r.decision.actions.dropFirst().reduce(r.decision.actions[0]) { $0.stricter($1) }
            } ?? e.ruleAction
            entries.removeAll { !$0.names.filter { e.names.contains($0) }.isEmpty }
            entries.append(LinuxSyscall(names: e.names, action: worst.action, errnoRet: worst.errnoRet))
            for n in e.names { changes.append(.overApproximated(name: n, detail: "libseccomp refuses the rules as written; \(worst) is taken")) }
            out.syscalls = entries
        }
        return TightenResult(profile: out, changes: changes)
    }

    enum CompileCheck { case ok, failure(Int) }

    static func compiles(_ p: LinuxSeccomp) -> CompileCheck {
        // Rule level only: export failures were never counted here, and skipping the program's
        // generation (quadratic in the rules in libseccomp) is most of the cost of tightening.
        guard let rejected = try? Compiler.rejectedRule(p) else { return .ok }
        return .failure(rejected.index)
    }

    /// Writes decisions back as syscalls entries; names with the same decision share entries.
    static func encode(_ decisions: [(name: String, decision: Decision)], defaultAction: RuleAction) -> [LinuxSyscall] {
        var groups = [(decision: Decision, names: [String])]()
        for (name, d) in decisions {
            if d.rules.isEmpty && d.otherwise.sameEffect(defaultAction) { continue }
            if let i = groups.firstIndex(where: { $0.decision == d }) {
                groups[i].names.append(name)
            } else {
                groups.append((d, [name]))
            }
        }
        var out = [LinuxSyscall]()
        for (d, names) in groups {
            if d.rules.isEmpty {
                out.append(LinuxSyscall(names: names, action: d.otherwise.action, errnoRet: d.otherwise.errnoRet))
            }
            for r in d.rules {
                out.append(LinuxSyscall(names: names, action: r.action.action, errnoRet: r.action.errnoRet, args: r.args))
            }
        }
        return out
    }
}
