import WardenCore
import WardenSpec

/// A proof over seccomp BPF for every input, not for sampled ones.
///
/// seccomp's classic BPF only jumps forward, so a program is a finite tree of paths. The prover walks
/// every path with each 32-bit word of `seccomp_data` symbolic (the syscall number, the architecture,
/// both halves of the instruction pointer and of each argument) and the comparisons taken on the way
/// as constraints on those words (an interval, bits known to be set or clear, and "some bit differs"
/// clauses). A path whose constraints cannot hold is dropped; a path that reaches a return weaker than
/// the required action is a counterexample, and the constraints give its concrete values.

public enum ProofResult: Equatable, Sendable {
    /// Every input of the route gets the required action or a stricter one.
    case holds
    /// An input the chain answers less strictly, and that answer.
    case fallsShort(SeccompData, FilterReturn)
    /// The walk could not decide (a computed return value, arithmetic on an input word, too many paths):
    /// nothing is claimed.
    case undecided(String)
}

extension SeccompData: Equatable {
    public static func == (a: SeccompData, b: SeccompData) -> Bool {
        a.nr == b.nr && a.arch == b.arch && a.instructionPointer == b.instructionPointer && a.args == b.args
    }
}

public enum Prover {
    /// Whether the kernel's answer from `chain` (every program runs; the strictest return wins) is at
    /// least as strict as `floor` for syscall `nr` on `arch` (the AUDIT_ARCH value in seccomp_data;
    /// x32 calls carry x86_64's with bit 30 set in `nr`), for every instruction pointer and every
    /// argument vector that meets all of `conditions` (64-bit comparisons on seccomp_data's values).
    /// `narrowArgs`: a 32-bit ABI (i386), whose arguments reach seccomp_data zero-extended.
    public static func prove(_ chain: [BPFProgram], arch: UInt32, nr: UInt32, conditions: [LinuxSeccompArg] = [],
                             narrowArgs: Bool = false, atLeast floor: FilterReturn, budget: Int = 200_000) -> ProofResult {
        prove(chain, arch: arch, numbers: nr...nr, conditions: conditions, narrowArgs: narrowArgs, atLeast: floor, budget: budget)
    }

    /// The same for every syscall number in `numbers` at once (the number is symbolic too).
    public static func prove(_ chain: [BPFProgram], arch: UInt32, numbers: ClosedRange<UInt32>, conditions: [LinuxSeccompArg] = [],
                             narrowArgs: Bool = false, atLeast floor: FilterReturn, budget: Int = 200_000) -> ProofResult {
        var start = Words()
        start.words[0].apply(.atLeast(numbers.lowerBound))
        start.words[0].apply(.atMost(numbers.upperBound))
        start.words[1].pin(arch)
        if narrowArgs { for a in 0..<6 { start.words[5 + 2 * a].pin(0) } }
        // A condition on a 64-bit value is a union of conjunctions on its two halves: prove each.
        var regions = [start]
        for c in conditions {
            var next = [Words]()
            for r in regions {
                for piece in halves(c) {
                    var w = r
                    for (word, constraint) in piece { w.words[word].apply(constraint) }
                    if w.words.allSatisfy({ $0.solve() != .none }) { next.append(w) }
                }
            }
            regions = next
        }
        var steps = budget
        for region in regions {
            let r = prove(chain, from: region, atLeast: floor, steps: &steps)
            if r != .holds { return r }
        }
        return .holds
    }

    static func prove(_ chain: [BPFProgram], from start: Words, atLeast floor: FilterReturn, steps: inout Int) -> ProofResult {
        // The inputs no program so far answers strictly enough, with the strictest answer among them.
        var open: [(Words, FilterReturn)] = [(start, FilterReturn(0x7fff_0000))]
        for (index, program) in chain.enumerated() {
            var next = [(Words, FilterReturn)]()
            for (words, best) in open {
                var walker = Walker(program: program.instructions, steps: steps)
                walker.walk(PathState(words: words))
                steps = walker.steps
                if let failure = walker.failure { return .undecided("filter \(index): \(failure)") }
                for leaf in walker.leaves where Prover.weaker(leaf.ret, than: floor) {
                    next.append((leaf.words, leaf.ret.isStricter(than: best) ? leaf.ret : best))
                }
            }
            open = next
            if open.isEmpty { return .holds }
        }
        for (words, got) in open {
            switch words.witness() {
            case .found(let data): return .fallsShort(data, got)
            case .none: continue
            case .unknown: return .undecided("no concrete input found for a path the filter may allow")
            }
        }
        return .holds
    }

    /// Whether `r` falls short of `floor`. An ERRNO floor with a nonzero errno is not met by ERRNO(0):
    /// the call does not run, but its caller is told it succeeded.
    static func weaker(_ r: FilterReturn, than floor: FilterReturn) -> Bool {
        if r.actionBits == floor.actionBits { return floor.actionBits == 0x0005_0000 && r.data == 0 && floor.data != 0 }
        return floor.isStricter(than: r)
    }

    /// A 64-bit comparison as a union of conjunctions of constraints on its two 32-bit words
    /// (seccomp_data words 4 + 2 * index for the low half, 5 + 2 * index for the high half).
    static func halves(_ c: LinuxSeccompArg) -> [[(Int, WordConstraint)]] {
        let lo = 4 + 2 * Int(c.index), hi = lo + 1
        let v = c.value
        let vl = UInt32(truncatingIfNeeded: v), vh = UInt32(truncatingIfNeeded: v >> 32)
        let highAbove: [(Int, WordConstraint)] = vh == .max ? [(hi, .empty)] : [(hi, .atLeast(vh + 1))]
        let highBelow: [(Int, WordConstraint)] = vh == 0 ? [(hi, .empty)] : [(hi, .atMost(vh - 1))]
        let highEqual: (Int, WordConstraint) = (hi, .equal(mask: .max, vh))
        switch c.op {
        case .equal: return [[highEqual, (lo, .equal(mask: .max, vl))]]
        case .notEqual: return [[(hi, .notEqual(mask: .max, vh))], [highEqual, (lo, .notEqual(mask: .max, vl))]]
        case .greaterThan: return [highAbove, [highEqual, vl == .max ? (lo, .empty) : (lo, .atLeast(vl + 1))]]
        case .greaterOrEqual: return [highAbove, [highEqual, (lo, .atLeast(vl))]]
        case .lessThan: return [highBelow, [highEqual, vl == 0 ? (lo, .empty) : (lo, .atMost(vl - 1))]]
        case .lessOrEqual: return [highBelow, [highEqual, (lo, .atMost(vl))]]
        case .maskedEqual:
            // libseccomp masks the compared value too.
            let m = v, x = (c.valueTwo ?? 0) & m
            return [[(hi, .equal(mask: UInt32(truncatingIfNeeded: m >> 32), UInt32(truncatingIfNeeded: x >> 32))),
                     (lo, .equal(mask: UInt32(truncatingIfNeeded: m), UInt32(truncatingIfNeeded: x)))]]
        }
    }
}

enum WordConstraint {
    case equal(mask: UInt32, UInt32)
    case notEqual(mask: UInt32, UInt32)
    case atLeast(UInt32)
    case atMost(UInt32)
    case empty
}

/// "At least one of these literals holds": a bit of `mustOne` is set, or a bit of `mustZero` is clear.
struct Clause: Equatable {
    var mustOne: UInt32
    var mustZero: UInt32
    func holds(_ v: UInt32) -> Bool { v & mustOne != 0 || ~v & mustZero != 0 }
}

/// What a path knows of one 32-bit word.
struct WordDomain: Equatable {
    var lo: UInt32 = 0
    var hi: UInt32 = .max
    var one: UInt32 = 0
    var zero: UInt32 = 0
    var clauses: [Clause] = []

    mutating func pin(_ v: UInt32) { lo = v; hi = v; one = v; zero = ~v }

    /// The one value the word can take, when it is pinned.
    var single: UInt32? { lo == hi && one == lo && zero == ~lo && clauses.isEmpty ? lo : nil }

    mutating func apply(_ c: WordConstraint) {
        switch c {
        case .equal(let m, let v):
            if v & ~m != 0 { lo = 1; hi = 0; return }
            one |= v; zero |= m & ~v
            if m == .max { lo = max(lo, v); hi = min(hi, v) }
        case .notEqual(let m, let v):
            if v & ~m != 0 { return }
            if m == .max && (v < lo || v > hi) { return }  // outside the interval: already true
            clauses.append(Clause(mustOne: m & ~v, mustZero: v))
        case .atLeast(let v): lo = max(lo, v)
        case .atMost(let v): hi = min(hi, v)
        case .empty: lo = 1; hi = 0
        }
    }

    enum Solution: Equatable { case found(UInt32), none, unknown }

    /// A value meeting every constraint: exact (a search over the clauses' literals) within `budget` nodes.
    func solve(budget: Int = 4096) -> Solution {
        guard lo <= hi, one & zero == 0 else { return .none }
        if lo == hi {
            let v = lo
            return v & one == one && v & zero == 0 && clauses.allSatisfy({ $0.holds(v) }) ? .found(v) : .none
        }
        var nodes = budget
        return search(one: one, zero: zero, nodes: &nodes)
    }

    private func search(one: UInt32, zero: UInt32, nodes: inout Int) -> Solution {
        guard let v = WordDomain.leastAtOrAbove(lo, one: one, zero: zero), v <= hi else { return .none }
        // Branch on the unmet clause with the fewest literals left: every solution sets one of them.
        var pick: Clause? = nil
        var pickCount = 33
        for c in clauses where !c.holds(v) {
            let free = (c.mustOne & ~zero).nonzeroBitCount + (c.mustZero & ~one).nonzeroBitCount
            if free == 0 { return .none }
            if free < pickCount { pick = c; pickCount = free }
        }
        guard let c = pick else { return .found(v) }
        nodes -= 1
        if nodes <= 0 { return .unknown }
        var sawUnknown = false
        for bit in 0..<32 {
            let m: UInt32 = 1 << bit
            var r = Solution.none
            if c.mustOne & m != 0 && zero & m == 0 { r = search(one: one | m, zero: zero, nodes: &nodes) }
            if case .found = r { return r }
            if r == .unknown { sawUnknown = true }
            if c.mustZero & m != 0 && one & m == 0 { r = search(one: one, zero: zero | m, nodes: &nodes) }
            if case .found = r { return r }
            if r == .unknown { sawUnknown = true }
        }
        return sawUnknown ? .unknown : .none
    }

    /// The least value >= `lo` with the bits of `one` set and those of `zero` clear.
    static func leastAtOrAbove(_ lo: UInt32, one: UInt32, zero: UInt32) -> UInt32? {
        if lo & one == one && lo & zero == 0 { return lo }
        // Keep lo's bits above some position i, raise bit i from 0 to 1, then the least tail.
        // The lowest such i keeps the longest prefix of lo, so it gives the least value.
        for i in 0..<32 {
            let bit: UInt32 = 1 << i
            guard lo & bit == 0, zero & bit == 0 else { continue }
            let above: UInt32 = i == 31 ? 0 : ~((bit << 1) &- 1)
            let prefix = lo & above
            guard prefix & zero == 0, one & above & ~prefix == 0 else { continue }
            return prefix | bit | (one & (bit &- 1))
        }
        return nil
    }
}

/// The 16 words of seccomp_data: nr, arch, instruction pointer (low, high), args (low, high) × 6.
struct Words {
    var words = [WordDomain](repeating: WordDomain(), count: 16)

    func witness() -> Witness {
        var values = [UInt32](repeating: 0, count: 16)
        for i in 0..<16 {
            switch words[i].solve() {
            case .found(let v): values[i] = v
            case .none: return .none
            case .unknown: return .unknown
            }
        }
        func u64(_ i: Int) -> UInt64 { UInt64(values[i]) | UInt64(values[i + 1]) << 32 }
        return .found(SeccompData(nr: Int32(bitPattern: values[0]), arch: values[1], instructionPointer: u64(2),
                                  args: (0..<6).map { u64(4 + 2 * $0) }))
    }
}

enum Witness { case found(SeccompData), none, unknown }

/// What a register holds on a path.
enum Symbol: Equatable {
    case constant(UInt32)
    /// seccomp_data word `index`, and-ed with `mask`.
    case word(Int, mask: UInt32)
    case unknown
}

struct PathState {
    var pc = 0
    var a = Symbol.constant(0)
    var x = Symbol.constant(0)
    var mem = [Symbol](repeating: .constant(0), count: 16)
    var words: Words

    init(words: Words) { self.words = words }
}

struct Walker {
    let program: [BPFInstruction]
    var steps: Int
    var leaves = [(ret: FilterReturn, words: Words)]()
    var failure: String? = nil

    init(program: [BPFInstruction], steps: Int) {
        self.program = program
        self.steps = steps
    }

    mutating func walk(_ initial: PathState) {
        var stack = [initial]
        while var s = stack.popLast() {
            path: while true {
                steps -= 1
                if steps <= 0 { failure = "more paths than the proof's budget"; return }
                guard s.pc < program.count else { failure = "a path runs past the end"; return }
                let ins = program[s.pc]
                let k = ins.k
                switch ins.code {
                case 0x20:  // LD W ABS
                    guard k < 64, k % 4 == 0 else { failure = "instruction \(s.pc) loads outside seccomp_data"; return }
                    s.a = .word(Int(k / 4), mask: .max)
                case 0x00: s.a = .constant(k)
                case 0x80: s.a = .constant(64)
                case 0x01: s.x = .constant(k)
                case 0x81: s.x = .constant(64)
                case 0x60: s.a = s.mem[Int(k & 15)]
                case 0x61: s.x = s.mem[Int(k & 15)]
                case 0x02: s.mem[Int(k & 15)] = s.a
                case 0x03: s.mem[Int(k & 15)] = s.x
                case 0x07: s.x = s.a
                case 0x87: s.a = s.x
                case 0x54:  // AND K: the word is still tracked, under a narrower mask
                    switch s.a {
                    case .constant(let c): s.a = .constant(c & k)
                    case .word(let w, let m): s.a = .word(w, mask: m & k)
                    case .unknown: break
                    }
                case 0x3c where s.x == .constant(0), 0x9c where s.x == .constant(0):
                    leaves.append((FilterReturn(0), s.words))  // division by a zero X: the kernel returns 0 (kill)
                    break path
                case 0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3c, 0x94, 0x9c, 0x44, 0x4c, 0x5c, 0xa4, 0xac,
                     0x64, 0x6c, 0x74, 0x7c, 0x84:
                    s.a = Walker.alu(ins.code, s.a, (ins.code & 0x08) != 0 ? s.x : .constant(k))
                case 0x05:
                    s.pc += 1 + Int(k)
                    continue path
                case 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x45, 0x4d:
                    let operand: Symbol = (ins.code & 0x08) != 0 ? s.x : .constant(k)
                    let taken = s.pc + 1 + Int(ins.jt), notTaken = s.pc + 1 + Int(ins.jf)
                    switch Walker.branch(ins.code & 0xf0, s.a, operand, s.words) {
                    case .always(let t):
                        s.pc = t ? taken : notTaken
                    case .fork(let w, let dt, let df):
                        switch (dt, df) {
                        case (nil, nil): break path
                        case (let dt?, nil): s.words.words[w] = dt; s.pc = taken
                        case (nil, let df?): s.words.words[w] = df; s.pc = notTaken
                        case (let dt?, let df?):
                            var f = s
                            f.words.words[w] = df
                            f.pc = notTaken
                            stack.append(f)
                            s.words.words[w] = dt
                            s.pc = taken
                        }
                    case .untracked:
                        var f = s
                        f.pc = notTaken
                        stack.append(f)
                        s.pc = taken
                    }
                    continue path
                case 0x06:
                    leaves.append((FilterReturn(k), s.words))
                    break path
                case 0x16:
                    guard case .constant(let c) = s.a else { failure = "instruction \(s.pc) returns a computed value"; return }
                    leaves.append((FilterReturn(c), s.words))
                    break path
                default:
                    failure = "instruction \(s.pc): unsupported opcode 0x\(String(ins.code, radix: 16))"
                    return
                }
                s.pc += 1
            }
        }
    }

    /// Arithmetic: exact on constants; a loaded word after anything but AND is no longer tracked.
    static func alu(_ code: UInt16, _ a: Symbol, _ b: Symbol) -> Symbol {
        guard case .constant(let x) = a, case .constant(let y) = b else { return .unknown }
        switch code & 0xf0 {
        case 0x00: return .constant(x &+ y)
        case 0x10: return .constant(x &- y)
        case 0x20: return .constant(x &* y)
        case 0x30: return y == 0 ? .constant(0) : .constant(x / y)
        case 0x90: return y == 0 ? .constant(0) : .constant(x % y)
        case 0x40: return .constant(x | y)
        case 0x50: return .constant(x & y)
        case 0xa0: return .constant(x ^ y)
        case 0x60: return .constant(y >= 32 ? 0 : x << y)
        case 0x70: return .constant(y >= 32 ? 0 : x >> y)
        case 0x80: return .constant(0 &- x)
        default: return .unknown
        }
    }

    enum Branch {
        /// Decided by what the path knows.
        case always(Bool)
        /// The word's domain on each side, nil where that side cannot be reached.
        case fork(Int, WordDomain?, WordDomain?)
        /// A value the walk does not track: both sides, unconstrained.
        case untracked
    }

    /// What a conditional jump does on this path: decided, or the constraints of each side.
    static func branch(_ op: UInt16, _ a: Symbol, _ b: Symbol, _ words: Words) -> Branch {
        if case .constant(let x) = a, case .constant(let y) = b {
            return switch op {
            case 0x10: .always(x == y)
            case 0x20: .always(x > y)
            case 0x30: .always(x >= y)
            default: .always(x & y != 0)
            }
        }
        guard case .word(let w, let m) = a, case .constant(let k) = b else { return .untracked }
        if let v = words.words[w].single {  // a pinned word (the syscall number, the architecture): no fork
            return branch(op, .constant(v & m), b, words)
        }
        var dt = words.words[w], df = dt
        switch op {
        case 0x10:
            if k & ~m != 0 { return .always(false) }  // (word & m) can never equal k
            dt.apply(.equal(mask: m, k))
            df.apply(.notEqual(mask: m, k))
        case 0x20, 0x30:
            guard m == .max else { return .untracked }
            if op == 0x20 {  // JGT
                dt.apply(k == .max ? .empty : .atLeast(k + 1))
                df.apply(.atMost(k))
            } else {  // JGE
                dt.apply(.atLeast(k))
                df.apply(k == 0 ? .empty : .atMost(k - 1))
            }
        default:  // JSET
            let bits = m & k
            if bits == 0 { return .always(false) }
            dt.clauses.append(Clause(mustOne: bits, mustZero: 0))
            df.zero |= bits
        }
        return .fork(w, dt.solve() != .none ? dt : nil, df.solve() != .none ? df : nil)
    }
}
