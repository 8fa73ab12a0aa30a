import WardenCore
import WardenSeccomp
import WardenSpec

/// What one profile does with one syscall, as disjoint regions: regions of different actions never
/// overlap (regions of the same action may), and `otherwise` holds everywhere else.
struct Side {
    var regions: [(region: Region, action: RuleAction)]
    var otherwise: RuleAction
    /// Every comparison the profile's rules for the name make (for the 32-bit reading check).
    var comparisons: [LinuxSeccompArg]
}

/// The exact meet of two profiles for one syscall: at every argument vector, the stricter of the
/// two actions, written as rules of which no two with different actions can match the same call,
/// so libseccomp's resolution of overlaps (which differs between architectures) never decides.
enum ExactMeet {
    /// Rules one syscall may get before the stricter side is taken instead (and said).
    static let ruleBound = 64
    /// Region splits one syscall may take.
    static let stepBound = 4000

    struct Outcome {
        /// The meet under the output's default action.
        var decision: Decision
        /// Whether the meet differs from the container's side anywhere.
        var changed: Bool
        /// Where the result is stricter than the exact meet, and why (nil: exact).
        var departure: String?
    }

    /// The conditions and action of every rule `profile` has for `name`, as runc adds them: an
    /// entry with a repeated argument index is one rule per condition; an entry without conditions
    /// is a rule over every argument value.
    /// `entries`: `p`'s entries by name (`Entries(p)`), when the caller asks about many names.
    static func rawRules(_ p: LinuxSeccomp, name: String, entries: Entries? = nil) -> [(conditions: [LinuxSeccompArg], action: RuleAction)] {
        var out = [(conditions: [LinuxSeccompArg], action: RuleAction)]()
        let all = p.syscalls ?? []
        let named = entries.map { ($0.byName[name] ?? []).map { all[$0] } } ?? all.filter { $0.names.contains(name) }
        for e in named {
            for conditions in RuntimeReading.runc.rules(e) { out.append((conditions, e.ruleAction)) }
        }
        return out
    }

    /// A profile's entries by syscall name, in order, each entry once: a meet asks about every name
    /// of both profiles, and scanning every entry for each is quadratic.
    struct Entries {
        var byName: [String: [Int]] = [:]
        init(_ p: LinuxSeccomp) {
            for (i, e) in (p.syscalls ?? []).enumerated() {
                for n in e.names where byName[n]?.last != i { byName[n, default: []].append(i) }
            }
        }
    }

    /// One side of the meet for `name`. Rules whose action equals the default are dropped, as runc
    /// drops them; where rules of different actions overlap, each overlap gets the action libseccomp's
    /// filter gives it on every ABI in `abis` (the strictest, and a departure, where they differ).
    static func side(_ p: LinuxSeccomp, name: String, abis: [SeccompArch], entries: Entries? = nil) -> (Side, departure: String?)? {
        let fallback = p.defaultRule
        let raw = rawRules(p, name: name, entries: entries).filter { RuntimeReading.runc.keeps($0.action, default: fallback) }
        let comparisons = raw.flatMap(\.conditions)
        var rules = [(region: Region, action: RuleAction)]()
        for r in raw {
            guard r.conditions.allSatisfy({ $0.index < 6 }) else { return nil }  // libseccomp refuses it
            if let region = Region(r.conditions) { rules.append((region, r.action)) }
        }
        let conflict = rules.indices.contains { i in
            rules.indices.contains { j in
                j > i && rules[i].action != rules[j].action && rules[i].region.intersects(rules[j].region)
            }
        }
        if !conflict {
            // libseccomp 2.5.4 can merge rules of one action into a filter that
            // matches more or less than they say: such a side is read only if its filter agrees.
            let multi = rules.count > 1 && raw.contains { !$0.conditions.isEmpty }
            if multi, compiledAsStated(name: name, regions: rules, rules: raw.map { .init(args: $0.conditions, action: $0.action) },
                                       defaultAction: fallback, abis: abis) != nil {
                return nil
            }
            return (Side(regions: rules, otherwise: fallback, comparisons: comparisons), nil)
        }

        // Overlaps of different actions: split until every rule covers or misses each piece, and ask
        // the filter libseccomp builds from these rules what each mixed piece gets.
        let mini = LinuxSeccomp(defaultAction: fallback.action, defaultErrnoRet: fallback.errnoRet,
                                architectures: abis.filter { $0 != .native },
                                syscalls: raw.map { LinuxSyscall(names: [name], action: $0.action.action, errnoRet: $0.action.errnoRet, args: $0.conditions) })
        guard let program = Compiler.compile(mini, within: 3000) else { return nil }
        var out = [(region: Region, action: RuleAction)]()
        var departure: String? = nil
        var steps = 0
        func split(_ r: Region, _ partial: [Int], _ covering: [Int]) -> Bool {
            steps += 1
            if steps > stepBound { return false }
            guard let s = partial.first else {
                let acts = covering.map { rules[$0].action }
                guard let first = acts.first else { return true }
                if acts.allSatisfy({ $0 == first }) { out.append((r, first)); return true }
                let candidates = [fallback] + acts
                var answers = [RuleAction]()
                for abi in abis {
                    let w = r.witness
                    if abi != .x86_64 && w.contains(where: { $0 > 0xffff_ffff }) { continue }
                    guard let nr = Syscalls.number(name, arch: abi),
                          let got = try? program.run(SeccompData(nr: nr, arch: Syscalls.abi(abi).auditArch, args: w)) else { continue }
                    guard let a = candidates.first(where: { Compiler.actionValue($0) == got.raw }) else { return false }
                    answers.append(a)
                }
                guard let worst = answers.first.map({ answers.dropFirst().reduce($0) { $0.stricter($1) } }) else { return true }
                if !answers.allSatisfy({ $0 == worst }) {
                    departure = "overlapping rules resolve differently per architecture at \(describe(r)); the strictest is taken"
                }
                if worst != fallback { out.append((r, worst)) }
                return true
            }
            let rest = Array(partial.dropFirst())
            for piece in r.intersect(rules[s].region) {
                if !split(piece, rest.filter { rules[$0].region.intersects(piece) }, covering + [s]) { return false }
            }
            for piece in r.subtracting(rules[s].region) {
                if !split(piece, rest.filter { rules[$0].region.intersects(piece) }, covering) { return false }
            }
            return true
        }
        guard split(.all, Array(rules.indices), []) else { return nil }
        return (Side(regions: out, otherwise: fallback, comparisons: comparisons), departure)
    }

    /// The meet of `a` (the container's side: it wins ties) and `b` under `defaultAction`.
    /// nil: the split ran past its bound. `regions` nil: finished, but too many to write.
    static func meet(_ a: Side, _ b: Side, defaultAction: RuleAction) -> (regions: [(region: Region, action: RuleAction)]?, changed: Bool)? {
        var out = [(region: Region, action: RuleAction)]()
        var changed = false
        var steps = 0
        func values(_ s: Side, _ partial: [Int], _ cover: RuleAction?) -> [RuleAction] {
            if let cover { return [cover] }
            var v = [s.otherwise]
            for i in partial where !v.contains(s.regions[i].action) { v.append(s.regions[i].action) }
            return v
        }
        func solve(_ r: Region, _ ap: [Int], _ ac: RuleAction?, _ bp: [Int], _ bc: RuleAction?) -> Bool {
            steps += 1
            if steps > stepBound { return false }
            let va = values(a, ap, ac), vb = values(b, bp, bc)
            if va.count == 1 {
                let results = vb.map { va[0].stricter($0) }
                if results.allSatisfy({ $0 == results[0] }) {
                    if results[0] != va[0] { changed = true }
                    out.append((r, results[0]))
                    return true
                }
            }
            // Split by the container's regions until its action is one, then by the baseline's.
            let splitA = va.count > 1
            let side = splitA ? a : b
            let partial = splitA ? ap : bp
            let s = partial[0], rest = Array(partial.dropFirst())
            let other = splitA ? bp : ap
            for piece in r.intersect(side.regions[s].region) {
                let o = other.filter { (splitA ? b : a).regions[$0].region.intersects(piece) }
                let ok = splitA ? solve(piece, [], side.regions[s].action, o, bc) : solve(piece, o, ac, [], side.regions[s].action)
                if !ok { return false }
            }
            for piece in r.subtracting(side.regions[s].region) {
                let mine = rest.filter { side.regions[$0].region.intersects(piece) }
                let o = other.filter { (splitA ? b : a).regions[$0].region.intersects(piece) }
                let ok = splitA ? solve(piece, mine, ac, o, bc) : solve(piece, o, ac, mine, bc)
                if !ok { return false }
            }
            return true
        }
        guard solve(.all, Array(a.regions.indices), nil, Array(b.regions.indices), nil) else { return nil }
        // What the default gives needs no rule (runc drops such rules anyway): regions of other
        // actions never overlap it.
        out.removeAll { Compiler.actionValue($0.action) == Compiler.actionValue(defaultAction) }
        // Merging is quadratic: a split this fine will not come back under the bound anyway.
        if out.count > 8 * ruleBound { return (nil, changed) }
        return (merged(out), changed)
    }

    /// Fewer regions for the same map: a region inside another of its action goes, and two of one
    /// action that differ in one argument whose sets unite into one comparison become one.
    static func merged(_ regions: [(region: Region, action: RuleAction)]) -> [(region: Region, action: RuleAction)] {
        var out = regions
        var again = true
        while again {
            again = false
            var i = 0
            while i < out.count {
                var j = i + 1
                while j < out.count {
                    if out[i].action == out[j].action,
                       let u = out[i].region.union(out[j].region) {
                        out[i].region = u
                        out.remove(at: j)
                        again = true
                    } else {
                        j += 1
                    }
                }
                i += 1
            }
        }
        return out
    }

    /// The exact meet for `name` of the container's profile `a` and the baseline `b`, written under
    /// `defaultAction` for the ABIs `abis`; where it cannot be written exactly, the strictest action
    /// either side has for the name, and why.
    static func outcome(name: String, _ a: LinuxSeccomp, _ b: LinuxSeccomp, defaultAction: RuleAction,
                        abis: [SeccompArch], entries: (a: Entries, b: Entries)? = nil) -> Outcome {
        let sa = side(a, name: name, abis: abis, entries: entries?.a), sb = side(b, name: name, abis: abis, entries: entries?.b)
        let worst: RuleAction = {
            let all = rawRules(a, name: name, entries: entries?.a).map(\.action) + rawRules(b, name: name, entries: entries?.b).map(\.action)
                + [a.defaultRule, b.defaultRule]
            return all.dropFirst().reduce(all[0]) { $0.stricter($1) }
        }()
        func strictest(_ why: String) -> Outcome {
            Outcome(decision: Decision(otherwise: worst), changed: true, departure: "all arguments: \(why); \(worst) is taken")
        }
        guard let (ea, da) = sa, let (eb, db) = sb else {
            return strictest("a side's rules cannot be read exactly (libseccomp refuses them, compiles them into something else, or they split too far)")
        }
        let thirtyTwo = abis.contains { $0 == .x86 || $0 == .x32 }
        let inputAlike = (ea.comparisons + eb.comparisons).allSatisfy(\.readsAlikeOn32Bit)
        if thirtyTwo && !inputAlike {
            // Such values mean something else on x86 and x32. The one exact answer we can write is the
            // container's own rules, where the baseline adds nothing for this name.
            let unchanged = eb.regions.isEmpty && (ea.regions.map(\.action) + [ea.otherwise]).allSatisfy { $0.stricter(eb.otherwise) == $0 }
                && (ea.otherwise == defaultAction)
            if unchanged && da == nil {
                return Outcome(decision: Decision(rules: ea.regions.map { .init(args: $0.region.conditions, action: $0.action) }, otherwise: ea.otherwise),
                               changed: false, departure: nil)
            }
            return strictest("a comparison with a value above 32 bits reads differently on x86 and x32")
        }
        guard let (found, changed) = meet(ea, eb, defaultAction: defaultAction) else {
            return strictest("the exact meet needs more than \(stepBound) splits")
        }
        // The baseline adds nothing here: the container's own rules are the exact meet, however many.
        if !changed && da == nil && ea.otherwise == defaultAction {
            return Outcome(decision: Decision(rules: ea.regions.map { .init(args: $0.region.conditions, action: $0.action) }, otherwise: ea.otherwise),
                           changed: false, departure: nil)
        }
        guard let regions = found, regions.count <= ruleBound else {
            return strictest("the exact meet needs more than \(ruleBound) rules")
        }
        let rules = addOrder(regions.map { Decision.Rule(args: $0.region.conditions, action: $0.action) })
        if thirtyTwo && !rules.allSatisfy({ $0.args.allSatisfy(\.readsAlikeOn32Bit) }) {
            return strictest("the exact meet needs a comparison above 32 bits, which reads differently on x86 and x32")
        }
        let decision = rules.count == 1 && rules[0].args.isEmpty
            ? Decision(otherwise: rules[0].action) : Decision(rules: rules, otherwise: defaultAction)
        if !decision.rules.isEmpty, let why = compiledAsStated(name: name, regions: regions, rules: rules, defaultAction: defaultAction, abis: abis) {
            return strictest(why)
        }
        return Outcome(decision: decision, changed: changed || da != nil, departure: da ?? db)
    }

    /// Why libseccomp's filter for these rules does not do what they state, or nil when it does at
    /// every point tried: each region's least point, and each of its arguments moved to the values
    /// around every bound the rules test. libseccomp 2.5.4 can merge rules of one action over several
    /// arguments (NE among them) into a filter that matches less or more than they say, and can loop
    /// forever adding some rule sets; either way the syscall gets its strictest action instead.
    static func compiledAsStated(name: String, regions: [(region: Region, action: RuleAction)], rules: [Decision.Rule],
                                 defaultAction: RuleAction, abis: [SeccompArch]) -> String? {
        let mini = LinuxSeccomp(defaultAction: defaultAction.action, defaultErrnoRet: defaultAction.errnoRet,
                                architectures: abis.filter { $0 != .native },
                                syscalls: rules.map { LinuxSyscall(names: [name], action: $0.action.action, errnoRet: $0.action.errnoRet, args: $0.args) })
        guard let program = Compiler.compile(mini, within: 3000) else {
            return "libseccomp 2.5.4 refuses or does not finish adding the rules it needs"
        }
        var values: Set<UInt64> = [0, .max, 0xffff_ffff]
        for r in rules {
            for c in r.args {
                values.formUnion([c.value, c.value &+ 1, c.value &- 1])
                if c.op == .maskedEqual { let b = (c.valueTwo ?? 0) & c.value; values.formUnion([b, b | ~c.value]) }
            }
        }
        var points = [[UInt64]](repeating: [0, 0, 0, 0, 0, 0], count: 1)
        for (region, _) in regions {
            let w = region.witness
            points.append(w)
            for i in 0..<6 where region.sets[i] != .any || rules.contains(where: { $0.args.contains { $0.index == i } }) {
                for v in values { var p = w; p[i] = v; points.append(p) }
            }
            if points.count > 4000 { break }
        }
        for abi in abis {
            guard let nr = Syscalls.number(name, arch: abi) else { continue }
            let (audit, narrow) = Syscalls.abi(abi)
            for p in points {
                let args = abi == .x86_64 || !narrow && abi == .x86_64 ? p : p.map { $0 & 0xffff_ffff }
                let want = regions.first { $0.region.contains(args) }?.action ?? defaultAction
                guard let got = try? program.run(SeccompData(nr: nr, arch: audit, args: args)) else { return "the compiled rules cannot be run" }
                if got.raw != Compiler.actionValue(want) {
                    return "libseccomp 2.5.4 compiles the rules it needs into a filter that gives \(got) where they say \(want) (\(abi.rawValue), args \(args.prefix(3).map { "0x" + String($0, radix: 16) }.joined(separator: ",")))"
                }
            }
        }
        return nil
    }

    /// The rules in an order libseccomp 2.5.4 can add them in. It hangs in seccomp_rule_add when a
    /// rule tests an argument for equality (EQ, NE, MASKED_EQ) where an earlier rule with the same
    /// preceding range comparison tests it for order (e.g. `a1 >= 2 && a2 <= 5`, then
    /// `a1 >= 2 && a2 == 6`), even when the two never match the same call; the other order is fine.
    /// The rules are disjoint or share an action, so their order changes nothing else.
    static func addOrder(_ rules: [Decision.Rule]) -> [Decision.Rule] {
        func key(_ r: Decision.Rule) -> [Int] {
            (0..<6).map { i in
                guard let c = r.args.first(where: { $0.index == i }) else { return 2 }
                switch c.op {
                case .equal, .notEqual, .maskedEqual: return 0
                default: return 1
                }
            }
        }
        return rules.enumerated().sorted { x, y in
            let (kx, ky) = (key(x.element), key(y.element))
            return kx == ky ? x.offset < y.offset : kx.lexicographicallyPrecedes(ky)
        }.map(\.element)
    }

    /// A region as the comparisons that state it.
    static func describe(_ r: Region) -> String {
        let c = r.conditions
        if c.isEmpty { return "all arguments" }
        return c.map { x in
            let v = "0x" + String(x.value, radix: 16)
            switch x.op {
            case .maskedEqual: return "arg\(x.index) & \(v) == 0x\(String(x.valueTwo ?? 0, radix: 16))"
            default: return "arg\(x.index) \(x.op.symbol) \(v)"
            }
        }.joined(separator: " && ")
    }
}
