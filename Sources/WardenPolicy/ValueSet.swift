import WardenCore
import WardenSpec

/// A set of values of one 64-bit syscall argument that a single seccomp comparison states: the
/// building block of the exact meet. Every operation is exact; results are lists of disjoint sets.
enum ValueSet: Hashable, Sendable {
    case any
    case equal(UInt64)
    case notEqual(UInt64)
    /// [v, max]
    case atLeast(UInt64)
    /// [0, v]
    case atMost(UInt64)
    /// Values whose bits under `mask` are `bits` (bits ⊆ mask, mask neither 0 nor all ones).
    case pattern(mask: UInt64, bits: UInt64)

    /// The set a comparison holds on; nil when it holds nowhere (`GT max`, `LT 0`).
    init?(_ c: LinuxSeccompArg) {
        switch c.op {
        case .equal: self = .equal(c.value)
        case .notEqual: self = .notEqual(c.value)
        case .greaterOrEqual: self = c.value == 0 ? .any : c.value == .max ? .equal(.max) : .atLeast(c.value)
        case .greaterThan:
            guard c.value < .max else { return nil }
            self = c.value + 1 == .max ? .equal(.max) : .atLeast(c.value + 1)
        case .lessOrEqual: self = c.value == .max ? .any : c.value == 0 ? .equal(0) : .atMost(c.value)
        case .lessThan:
            guard c.value > 0 else { return nil }
            self = c.value == 1 ? .equal(0) : .atMost(c.value - 1)
        case .maskedEqual:
            // libseccomp compares the masked value: bits outside the mask never matter.
            self = ValueSet.masked(c.value, (c.valueTwo ?? 0) & c.value)
        }
    }

    static func masked(_ mask: UInt64, _ bits: UInt64) -> ValueSet {
        if mask == 0 { return .any }
        if mask == .max { return .equal(bits) }
        return .pattern(mask: mask, bits: bits & mask)
    }

    func contains(_ v: UInt64) -> Bool {
        switch self {
        case .any: true
        case .equal(let x): v == x
        case .notEqual(let x): v != x
        case .atLeast(let x): v >= x
        case .atMost(let x): v <= x
        case .pattern(let m, let b): v & m == b
        }
    }

    /// The least value in the set (a witness; below 2^32 whenever the set has such a value).
    var least: UInt64 {
        switch self {
        case .any, .atMost: 0
        case .equal(let x), .atLeast(let x): x
        case .notEqual(let x): x == 0 ? 1 : 0
        case .pattern(_, let b): b
        }
    }

    var greatest: UInt64 {
        switch self {
        case .any, .atLeast: .max
        case .equal(let x), .atMost(let x): x
        case .notEqual(let x): x == .max ? .max - 1 : .max
        case .pattern(let m, let b): b | ~m
        }
    }

    /// The closed interval [lo, hi] as disjoint sets: one-sided intervals as one comparison, others
    /// as aligned blocks (each one masked comparison), at most 128 of them.
    static func interval(_ lo: UInt64, _ hi: UInt64) -> [ValueSet] {
        if lo > hi { return [] }
        if lo == hi { return [.equal(lo)] }
        if lo == 0 && hi == .max { return [.any] }
        if lo == 0 { return [.atMost(hi)] }
        if hi == .max { return [.atLeast(lo)] }
        return blocks(lo, hi)
    }

    /// [lo, hi] as aligned blocks, each one masked comparison (or one value).
    static func blocks(_ lo: UInt64, _ hi: UInt64) -> [ValueSet] {
        if lo > hi { return [] }
        var out = [ValueSet]()
        var x = lo
        while true {
            // The largest aligned block starting at x that stays within hi.
            var size: UInt64 = x == 0 ? 1 << 63 : x & (~x &+ 1)
            while size - 1 > hi - x { size >>= 1 }
            out.append(size == 1 ? .equal(x) : .pattern(mask: ~(size - 1), bits: x))
            let last = x + (size - 1)
            if last == hi { return out }
            x = last + 1
        }
    }

    /// One-sided intervals as [lo, hi].
    private var bounds: (UInt64, UInt64)? {
        switch self {
        case .atLeast(let x): (x, .max)
        case .atMost(let x): (0, x)
        default: nil
        }
    }

    /// The values in both, as disjoint sets (empty: none).
    func intersect(_ o: ValueSet) -> [ValueSet] {
        switch (self, o) {
        case (.any, _): return [o]
        case (_, .any): return [self]
        case (.equal(let v), _): return o.contains(v) ? [self] : []
        case (_, .equal(let v)): return contains(v) ? [o] : []
        case (.notEqual(let v), .notEqual(let w)):
            if v == w { return [self] }
            let (a, b) = (min(v, w), max(v, w))
            return (a > 0 ? ValueSet.interval(0, a - 1) : []) + ValueSet.interval(a + 1, b - 1)
                + (b < .max ? ValueSet.interval(b + 1, .max) : [])
        case (.notEqual(let v), _): return o.removing(v)
        case (_, .notEqual(let v)): return removing(v)
        case (.pattern(let m1, let b1), .pattern(let m2, let b2)):
            let common = m1 & m2
            if b1 & common != b2 & common { return [] }
            return [ValueSet.masked(m1 | m2, b1 | b2)]
        case (.pattern, _): return o.intersect(self)
        default: break
        }
        // A one-sided interval with an interval or a pattern.
        let (lo, hi) = bounds!
        if let (lo2, hi2) = o.bounds { return ValueSet.interval(max(lo, lo2), min(hi, hi2)) }
        if lo <= o.least && o.greatest <= hi { return [o] }
        if o.greatest < lo || o.least > hi { return [] }
        return ValueSet.blocks(lo, hi).flatMap { $0.intersect(o) }
    }

    /// The set without `v`, as disjoint sets.
    func removing(_ v: UInt64) -> [ValueSet] {
        guard contains(v) else { return [self] }
        switch self {
        case .any: return [.notEqual(v)]
        case .equal: return []
        case .notEqual(let x):
            return ValueSet.notEqual(x).intersect(.notEqual(v))
        case .atLeast(let x): return (v > x ? ValueSet.interval(x, v - 1) : []) + (v < .max ? ValueSet.interval(v + 1, .max) : [])
        case .atMost(let x): return (v > 0 ? ValueSet.interval(0, v - 1) : []) + (v < x ? ValueSet.interval(v + 1, x) : [])
        case .pattern(let m, let b):
            // Each free bit in turn differs from v, the free bits before it equal v's.
            var out = [ValueSet]()
            var prefix: UInt64 = 0
            for bit in 0..<64 {
                let j: UInt64 = 1 << UInt64(bit)
                guard m & j == 0 else { continue }
                out.append(ValueSet.masked(m | prefix | j, b | (v & prefix) | (~v & j)))
                prefix |= j
            }
            return out
        }
    }

    /// The values not in the set, as disjoint sets.
    var complement: [ValueSet] {
        switch self {
        case .any: return []
        case .equal(let v): return [.notEqual(v)]
        case .notEqual(let v): return [.equal(v)]
        case .atLeast(let x): return x == 0 ? [] : ValueSet.interval(0, x - 1)
        case .atMost(let x): return x == .max ? [] : ValueSet.interval(x + 1, .max)
        case .pattern(let m, let b):
            // Each mask bit in turn differs, the mask bits before it agree: disjoint single patterns.
            var out = [ValueSet]()
            var prefix: UInt64 = 0
            for bit in 0..<64 {
                let j: UInt64 = 1 << UInt64(bit)
                guard m & j != 0 else { continue }
                out.append(ValueSet.masked(prefix | j, (b & prefix) | (~b & j)))
                prefix |= j
            }
            return out
        }
    }

    /// Whether every value of `self` is in `o` (false when unsure: used only to simplify).
    func isSubset(of o: ValueSet) -> Bool {
        if self == o { return true }
        switch (self, o) {
        case (_, .any): return true
        case (.equal(let v), _): return o.contains(v)
        case (_, .notEqual(let v)): return !contains(v)
        case (.pattern(let m1, let b1), .pattern(let m2, let b2)): return m1 & m2 == m2 && b1 & m2 == b2
        case (_, .atLeast(let x)): return self != .any && !isNotEqual && least >= x
        case (_, .atMost(let x)): return self != .any && !isNotEqual && greatest <= x
        default: return false
        }
    }

    private var isNotEqual: Bool { if case .notEqual = self { true } else { false } }

    /// The union as one set, where one comparison can state it.
    func union(_ o: ValueSet) -> ValueSet? {
        if isSubset(of: o) { return o }
        if o.isSubset(of: self) { return self }
        switch (self, o) {
        case (.equal(let v), .notEqual(let w)), (.notEqual(let w), .equal(let v)):
            return v == w ? .any : nil
        case (.atMost(let a), .atLeast(let b)), (.atLeast(let b), .atMost(let a)):
            return a == .max || b <= a + 1 ? .any : nil
        case (.equal(let v), .atLeast(let x)), (.atLeast(let x), .equal(let v)):
            return v < .max && v + 1 == x ? .atLeast(v) : nil
        case (.equal(let v), .atMost(let x)), (.atMost(let x), .equal(let v)):
            return x < .max && x + 1 == v ? .atMost(v) : nil
        case (.pattern(let m1, let b1), .pattern(let m2, let b2)):
            let d = b1 ^ b2
            guard m1 == m2, d.nonzeroBitCount == 1 else { return nil }
            return ValueSet.masked(m1 & ~d, b1 & ~d)
        case (.equal(let v), .equal(let w)):
            // Two values one bit apart: a block of two.
            let d = v ^ w
            return d.nonzeroBitCount == 1 ? ValueSet.masked(~d, v & ~d) : nil
        default: return nil
        }
    }

    /// The comparison that states the set on argument `index` (nil: any value). Of two equal
    /// spellings, the one whose value fits in 32 bits.
    func comparison(index: UInt32) -> LinuxSeccompArg? {
        switch self {
        case .any: nil
        case .equal(let v): LinuxSeccompArg(index: index, value: v, op: .equal)
        case .notEqual(let v): LinuxSeccompArg(index: index, value: v, op: .notEqual)
        case .atLeast(let v):
            v <= 0xffff_ffff ? LinuxSeccompArg(index: index, value: v, op: .greaterOrEqual)
                : LinuxSeccompArg(index: index, value: v - 1, op: .greaterThan)
        case .atMost(let v): LinuxSeccompArg(index: index, value: v, op: .lessOrEqual)
        case .pattern(let m, let b): LinuxSeccompArg(index: index, value: m, valueTwo: b, op: .maskedEqual)
        }
    }
}

extension LinuxSeccompArg {
    /// Whether libseccomp's reading on a 32-bit ABI (x86, x32: the low 32 bits of the argument
    /// against the low 32 bits of the value) agrees with the 64-bit reading for every argument whose
    /// high half is zero. Where it does, a profile means on those ABIs what it means on x86_64.
    var readsAlikeOn32Bit: Bool {
        switch op {
        case .maskedEqual: (valueTwo ?? 0) & value <= 0xffff_ffff
        default: value <= 0xffff_ffff
        }
    }
}

/// A conjunction of one set per argument (args 0 to 5): exactly what one seccomp rule states.
struct Region: Hashable, Sendable {
    var sets: [ValueSet]

    static let all = Region(sets: Array(repeating: .any, count: 6))

    /// The region a rule's conditions state (one per argument); nil when it is empty.
    init?(_ conditions: [LinuxSeccompArg]) {
        var sets = Array(repeating: ValueSet.any, count: 6)
        for c in conditions {
            guard Int(c.index) < 6, let s = ValueSet(c) else { return nil }
            let both = sets[Int(c.index)].intersect(s)
            guard both.count == 1 else { return nil }  // one comparison per argument: never more
            sets[Int(c.index)] = both[0]
        }
        self.sets = sets
    }

    init(sets: [ValueSet]) { self.sets = sets }

    var isAll: Bool { sets.allSatisfy { $0 == .any } }

    /// A point in the region: each argument's least value.
    var witness: [UInt64] { sets.map(\.least) }

    var conditions: [LinuxSeccompArg] {
        sets.enumerated().compactMap { $1.comparison(index: UInt32($0)) }
    }

    func contains(_ args: [UInt64]) -> Bool {
        sets.indices.allSatisfy { sets[$0].contains(args[$0]) }
    }

    /// The region's points also in `o`, as disjoint regions.
    func intersect(_ o: Region) -> [Region] {
        var out = [self]
        for i in 0..<6 where o.sets[i] != .any {
            out = out.flatMap { r in r.sets[i].intersect(o.sets[i]).map { s in var n = r; n.sets[i] = s; return n } }
            if out.isEmpty { return [] }
        }
        return out
    }

    func intersects(_ o: Region) -> Bool { !intersect(o).isEmpty }

    /// The region's points not in `o`, as disjoint regions: for each argument `o` constrains, the
    /// points that fail it and pass every earlier one.
    func subtracting(_ o: Region) -> [Region] {
        var out = [Region]()
        var passing = [self]
        for i in 0..<6 where o.sets[i] != .any {
            for r in passing {
                for c in o.sets[i].complement {
                    for s in r.sets[i].intersect(c) { var n = r; n.sets[i] = s; out.append(n) }
                }
            }
            passing = passing.flatMap { r in r.sets[i].intersect(o.sets[i]).map { s in var n = r; n.sets[i] = s; return n } }
            if passing.isEmpty { break }
        }
        return out
    }

    func isSubset(of o: Region) -> Bool { (0..<6).allSatisfy { sets[$0].isSubset(of: o.sets[$0]) } }

    /// The union as one region, where the two differ in one argument whose sets unite into one.
    func union(_ o: Region) -> Region? {
        if isSubset(of: o) { return o }
        if o.isSubset(of: self) { return self }
        let differ = (0..<6).filter { sets[$0] != o.sets[$0] }
        guard differ.count == 1, let u = sets[differ[0]].union(o.sets[differ[0]]) else { return nil }
        var n = self
        n.sets[differ[0]] = u
        return n
    }
}
