import WardenCore
import WardenSpec

/// Whether a conjunction of argument comparisons can hold at all. Conservative: `true` when unsure,
/// so callers that need "these never overlap" only ever get a proven answer.
func satisfiable(_ conditions: [LinuxSeccompArg]) -> Bool {
    var byIndex = [UInt32: [LinuxSeccompArg]]()
    for c in conditions { byIndex[c.index, default: []].append(c) }
    for (_, conds) in byIndex where !satisfiableOneArgument(conds) { return false }
    return true
}

private func satisfiableOneArgument(_ conds: [LinuxSeccompArg]) -> Bool {
    // An equality pins the value: just test it against everything else.
    if let eq = conds.first(where: { $0.op == .equal }) {
        return conds.allSatisfy { $0.op.holds(eq.value, value: $0.value, valueTwo: $0.valueTwo ?? 0) }
    }
    var lo: UInt64 = 0
    var hi: UInt64 = .max
    var masks = [(mask: UInt64, bits: UInt64)]()
    var excluded = Set<UInt64>()
    for c in conds {
        switch c.op {
        case .lessThan:
            if c.value == 0 { return false }
            hi = min(hi, c.value - 1)
        case .lessOrEqual: hi = min(hi, c.value)
        case .greaterThan:
            if c.value == .max { return false }
            lo = max(lo, c.value + 1)
        case .greaterOrEqual: lo = max(lo, c.value)
        case .notEqual: excluded.insert(c.value)
        case .maskedEqual:
            masks.append((c.value, (c.valueTwo ?? 0) & c.value))  // libseccomp masks the value too
        case .equal: break
        }
    }
    if lo > hi { return false }
    if lo == hi && excluded.contains(lo) { return false }
    for i in masks.indices {
        for j in masks.indices where j > i {
            let common = masks[i].mask & masks[j].mask
            if masks[i].bits & common != masks[j].bits & common { return false }
        }
    }
    if !masks.isEmpty && (lo != 0 || hi != .max) {
        // A masked pattern inside an interval: check the pattern's least and greatest values.
        let mask = masks.reduce(0) { $0 | $1.mask }
        let bits = masks.reduce(0) { $0 | $1.bits }
        let least = bits, greatest = bits | ~mask
        if greatest < lo || least > hi { return false }
    }
    return true
}

/// Comparisons whose union holds exactly where `c` does not (`EQ`↔`NE`, `LT`↔`GE`, `LE`↔`GT`; a
/// masked test fails where some bit of its mask differs: one single-bit masked test per bit).
func negation(_ c: LinuxSeccompArg) -> [LinuxSeccompArg] {
    var n = c
    switch c.op {
    case .equal: n.op = .notEqual
    case .notEqual: n.op = .equal
    case .lessThan: n.op = .greaterOrEqual
    case .greaterOrEqual: n.op = .lessThan
    case .lessOrEqual: n.op = .greaterThan
    case .greaterThan: n.op = .lessOrEqual
    case .maskedEqual:
        let value = (c.valueTwo ?? 0) & c.value
        return (0..<64).compactMap { bit -> LinuxSeccompArg? in
            let b: UInt64 = 1 << UInt64(bit)
            guard c.value & b != 0 else { return nil }
            return LinuxSeccompArg(index: c.index, value: b, valueTwo: (value & b) ^ b, op: .maskedEqual)
        }
    }
    return [n]
}

/// Two comparisons on the same argument as one comparison (runc would split them into an OR), or
/// `.empty` when they never hold together, or nil when no single comparison says it.
enum Merged { case one(LinuxSeccompArg), empty }

func merge(_ a: LinuxSeccompArg, _ b: LinuxSeccompArg) -> Merged? {
    precondition(a.index == b.index)
    if a == b { return .one(a) }
    if a.op == .equal { return b.op.holds(a.value, value: b.value, valueTwo: b.valueTwo ?? 0) ? .one(a) : .empty }
    if b.op == .equal { return merge(b, a) }
    switch (a.op, b.op) {
    case (.maskedEqual, .maskedEqual):
        let common = a.value & b.value
        let va = (a.valueTwo ?? 0) & a.value, vb = (b.valueTwo ?? 0) & b.value
        if va & common != vb & common { return .empty }
        return .one(LinuxSeccompArg(index: a.index, value: a.value | b.value, valueTwo: va | vb, op: .maskedEqual))
    case (.greaterOrEqual, .greaterOrEqual), (.greaterThan, .greaterThan):
        return .one(a.value >= b.value ? a : b)
    case (.lessOrEqual, .lessOrEqual), (.lessThan, .lessThan):
        return .one(a.value <= b.value ? a : b)
    default:
        return satisfiable([a, b]) ? nil : .empty
    }
}

/// A conjunction with at most one comparison per argument (runc keeps it as one rule), or
/// `.empty`, or nil when it cannot be written so.
func normalize(_ conds: [LinuxSeccompArg]) -> [LinuxSeccompArg]?? {
    var out = [LinuxSeccompArg]()
    for c in conds {
        if let i = out.firstIndex(where: { $0.index == c.index }) {
            switch merge(out[i], c) {
            case .one(let m)?: out[i] = m
            case .empty?: return .some(nil)
            case nil: return nil
            }
        } else {
            out.append(c)
        }
    }
    return satisfiable(out) ? .some(out) : .some(nil)
}

/// The region where none of `rules` holds, as a union of conjunctions each writable as one rule;
/// nil when it cannot be written (comparisons that do not merge, or too many pieces).
func complement(of rules: [[LinuxSeccompArg]], limit: Int = 64) -> [[LinuxSeccompArg]]? {
    var terms: [[LinuxSeccompArg]] = [[]]
    for rule in rules {
        var next = [[LinuxSeccompArg]]()
        for term in terms {
            for n in rule.flatMap(negation) {
                switch normalize(term + [n]) {
                case .some(.some(let t)): if !next.contains(t) { next.append(t) }
                case .some(.none): break
                case .none: return nil
                }
            }
        }
        terms = next
        if terms.count > limit { return nil }
    }
    return terms
}
