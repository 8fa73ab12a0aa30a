import WardenCore
import WardenSeccomp
import WardenSpec

/// What a profile does with one syscall name, as libseccomp builds it: conditional rules
/// (each a conjunction of argument comparisons) and the action everywhere else.
public struct Decision: Equatable, Sendable {
    public struct Rule: Equatable, Sendable {
        public var args: [LinuxSeccompArg]
        public var action: RuleAction
    }

    public var rules: [Rule]
    public var otherwise: RuleAction
    /// The input's own rules for this name conflict (several unconditional rules, or unconditional
    /// and conditional ones with different actions): libseccomp's choice among them depends on the
    /// order it built its tree in, so the strictest of them is assumed.
    public var ambiguous = false

    public init(rules: [Rule] = [], otherwise: RuleAction, ambiguous: Bool = false) {
        self.rules = rules
        self.otherwise = otherwise
        self.ambiguous = ambiguous
    }

    public var isUnconditional: Bool { rules.isEmpty }

    /// Every action this decision can give.
    var actions: [RuleAction] { rules.map(\.action) + [otherwise] }

    /// The action for concrete argument values. Overlapping rules with different actions are resolved
    /// to the strictest here; libseccomp orders them by their comparisons instead, so the engine never
    /// relies on this for them.
    public func action(for args: [UInt64]) -> RuleAction {
        var result: RuleAction? = nil
        for r in rules where r.args.allSatisfy({ $0.holds(args) }) {
            result = result.map { $0.stricter(r.action) } ?? r.action
        }
        return result ?? otherwise
    }

    public static func == (a: Decision, b: Decision) -> Bool {
        a.otherwise.sameEffect(b.otherwise) && a.rules.count == b.rules.count
            && zip(a.rules, b.rules).allSatisfy { $0.args == $1.args && $0.action.sameEffect($1.action) }
    }

    /// Drops rules that give the same as `otherwise` where that cannot change the outcome: a rule that
    /// overlaps another with a different action decides its overlap in libseccomp's tree, so it stays.
    func simplified() -> Decision {
        var kept = rules
        var i = 0
        while i < kept.count {
            let r = kept[i]
            let overlaps = kept.indices.contains { j in
                j != i && !kept[j].action.sameEffect(r.action) && satisfiable(kept[j].args + r.args)
            }
            if r.action.sameEffect(otherwise) && !overlaps { kept.remove(at: i) } else { i += 1 }
        }
        return Decision(rules: kept, otherwise: otherwise, ambiguous: ambiguous)
    }

    /// Whether rule `i` shares argument values with another rule of a different action.
    func overlapsOthers(_ r: Rule) -> Bool {
        rules.contains { $0 != r && !$0.action.sameEffect(r.action) && satisfiable($0.args + r.args) }
    }
}

extension LinuxSeccomp {
    /// Each syscall name the profile mentions, in first-seen order, with its decision.
    public func decisions() -> [(name: String, decision: Decision)] {
        let fallback = defaultRule
        var order = [String]()
        var unconditional = [String: [RuleAction]]()
        var rules = [String: [Decision.Rule]]()
        for entry in syscalls ?? [] {
            let action = entry.ruleAction
            for name in entry.names {
                if unconditional[name] == nil && rules[name] == nil { order.append(name) }
                if (entry.args ?? []).isEmpty {
                    unconditional[name, default: []].append(action)
                } else {
                    for conditions in RuntimeReading.runc.rules(entry) { rules[name, default: []].append(.init(args: conditions, action: action)) }
                }
            }
        }
        // libseccomp: an unconditional rule wins over every conditional rule for the same syscall,
        // whatever the order they were added in.
        return order.map { name in
            if let u = unconditional[name] {
                let all = u + (rules[name] ?? []).map(\.action)
                if all.allSatisfy({ $0.sameEffect(u[0]) }) { return (name, Decision(otherwise: u[0])) }
                let worst = all.dropFirst().reduce(all[0]) { $0.stricter($1) }
                return (name, Decision(otherwise: worst, ambiguous: true))
            }
            return (name, Decision(rules: rules[name] ?? [], otherwise: fallback).simplified())
        }
    }
}
