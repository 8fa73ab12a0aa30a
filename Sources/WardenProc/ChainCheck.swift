import WardenJSON
import WardenPolicy
import WardenSeccomp
import WardenSpec

/// One syscall the site denies that a loaded filter chain lets through less strictly.
public struct SyscallFinding: Equatable, Sendable {
    public var name: String
    /// Architectures where it falls short, in the policy's order.
    public var architectures: [SeccompArch]
    /// The first case that falls short.
    public var nr: Int32
    public var args: [UInt64]
    /// seccomp_data.instruction_pointer of that case (0 unless the filters compare it).
    public var instructionPointer: UInt64 = 0
    public var got: FilterReturn
    public var required: FilterReturn
    /// How many emulated cases fell short, over all architectures.
    public var cases: Int

    public var description: String {
        let arches = architectures.map(\.libseccompName).joined(separator: ", ")
        let argText = args.allSatisfy { $0 == 0 } ? "" : " args " + args.map { "0x" + String($0, radix: 16) }.joined(separator: ",")
        let ipText = instructionPointer == 0 ? "" : " instruction pointer 0x" + String(instructionPointer, radix: 16)
        return "\(name): the loaded filters give \(got), the policy requires \(required) (\(arches); nr \(nr)\(argText)\(ipText); \(cases) case\(cases == 1 ? "" : "s"))"
    }
}

/// The site's deny rules turned into emulation cases: for every architecture the policy names and every
/// syscall its deny rules name, seccomp_data inputs with sampled argument values and the action the
/// policy requires (its deny profile, compiled by libseccomp and emulated).
public struct PolicyProbes {
    public struct Probe: Sendable {
        public var name: String
        public var arch: SeccompArch
        /// The value the kernel puts in seccomp_data.arch (x32 reports x86_64's).
        public var auditArch: UInt32
        public var nr: Int32
        /// Argument vectors from the policy's own conditions (at least the all-zero one).
        public var samples: [[UInt64]]
    }

    public let probes: [Probe]
    public let architectures: [SeccompArch]
    public let denyProgram: BPFProgram
    public let names: [String]

    public init(policy: Policy) throws(WardenError) {
        architectures = policy.architectures ?? [SeccompArch.native]
        denyProgram = try Compiler.compile(policy.denyProfile)
        var names = [String]()
        var conditions = [String: [LinuxSeccompArg]]()
        var rulesByName = [String: [[LinuxSeccompArg]]]()
        for rule in policy.deny {
            for name in rule.names {
                if !names.contains(name) { names.append(name) }
                if let args = rule.args, !args.isEmpty {
                    conditions[name, default: []] += args
                    rulesByName[name, default: []].append(args)
                }
            }
        }
        self.names = names
        var probes = [Probe]()
        for arch in architectures {
            let audit = PolicyProbes.auditArch(arch)
            for name in names {
                guard let nr = Syscalls.number(name, arch: arch) else { continue }
                var samples: [[UInt64]] = [[0, 0, 0, 0, 0, 0]]
                var perIndex = [Int: [UInt64]]()
                for c in conditions[name] ?? [] { perIndex[Int(c.index), default: []] += PolicyProbes.values(for: c) }
                for (i, values) in perIndex {
                    for v in values { var a: [UInt64] = [0, 0, 0, 0, 0, 0]; a[i] = v; samples.append(a) }
                }
                // A vector that satisfies each conditional rule as a whole (check() flips from there).
                for rule in rulesByName[name] ?? [] {
                    var a: [UInt64] = [0, 0, 0, 0, 0, 0]
                    for c in rule { a[Int(c.index)] = PolicyProbes.satisfying(c) }
                    samples.append(a)
                }
                probes.append(Probe(name: name, arch: arch, auditArch: audit, nr: nr,
                                    samples: PolicyProbes.unique(samples.map { PolicyProbes.fit($0, arch) })))
            }
        }
        self.probes = probes
    }

    /// seccomp_data.arch for an architecture: x32 tasks report AUDIT_ARCH_X86_64 (with the x32 bit in nr).
    public static func auditArch(_ arch: SeccompArch) -> UInt32 {
        arch == .x32 ? Syscalls.token(.x86_64) : Syscalls.token(arch)
    }

    /// 32-bit architectures pass 32-bit arguments (zero-extended in seccomp_data).
    public static func is32Bit(_ arch: SeccompArch) -> Bool {
        switch arch {
        case .x86, .arm, .mips, .mipsel, .ppc, .s390, .parisc: true
        default: false
        }
    }

    static func fit(_ args: [UInt64], _ arch: SeccompArch) -> [UInt64] {
        is32Bit(arch) ? args.map { $0 & 0xffff_ffff } : args
    }

    static func unique(_ list: [[UInt64]]) -> [[UInt64]] {
        var seen = Set<[UInt64]>()
        return list.filter { seen.insert($0).inserted }
    }

    /// Values on both sides of a comparison's boundary.
    static func values(for c: LinuxSeccompArg) -> [UInt64] {
        let v = c.value
        var out = [UInt64]()
        if c.op == .maskedEqual {
            let bits = c.valueTwo ?? 0, low = v & (~v &+ 1)
            out += [bits, bits | ~v, (bits | ~v) ^ low, bits ^ low]
        }
        return out + [v, v &+ 1, v &- 1, 0, .max, 0xffff_ffff]
    }

    /// A value for which `c` holds (best effort: one exists for every satisfiable comparison).
    static func satisfying(_ c: LinuxSeccompArg) -> UInt64 {
        switch c.op {
        case .equal, .greaterOrEqual, .lessOrEqual: c.value
        case .notEqual: c.value &+ 1
        case .lessThan: c.value &- 1
        case .greaterThan: c.value &+ 1
        case .maskedEqual: c.valueTwo ?? 0
        }
    }

    /// Emulates `chain` on every probe and returns each denied syscall it lets through, by name.
    /// Argument values: the policy's samples, then, like concolic testing, every value where a comparison
    /// either program made on the way flips (so a rule the policy never mentions, "allow keyctl when
    /// arg0 == 5", is found too), until nothing new or `maxCases` per syscall and architecture.
    public func check(_ chain: FilterChain, maxCases: Int = 512) -> (findings: [SyscallFinding], cases: Int, errors: [String]) {
        var findings = [String: SyscallFinding]()
        var order = [String]()
        var cases = 0
        var errors = [String]()
        let ips = PolicyProbes.instructionPointers(chain)
        for probe in probes {
            var queue = probe.samples
            var seen = Set(queue)
            var next = 0
            // Every case of this probe shares nr and arch: each program's walk up to its first look at
            // anything else is done once (the rest of the syscalls' comparisons), then resumed per case.
            let denyStart = denyProgram.start(nr: probe.nr, arch: probe.auditArch)
            let chainStart = chain.start(nr: probe.nr, arch: probe.auditArch)
            sampling: while next < queue.count && next < maxCases {
                let args = queue[next]
                next += 1
                for ip in ips {
                    let data = SeccompData(nr: probe.nr, arch: probe.auditArch, instructionPointer: ip, args: args)
                    cases += 1
                    var observer = Flips(args: args, is32Bit: PolicyProbes.is32Bit(probe.arch))
                    let required: FilterReturn, got: FilterReturn
                    do {
                        if let denyStart {
                            required = try denyProgram.run(data, from: denyStart, observer: &observer)
                        } else {
                            required = try denyProgram.run(data, observer: &observer)
                        }
                        got = try chain.run(data, from: chainStart, observer: &observer)
                    } catch {
                        if errors.count < 5 { errors.append("\(probe.name) on \(probe.arch.libseccompName): \(error)") }
                        break sampling
                    }
                    for candidate in observer.candidates where seen.insert(candidate).inserted { queue.append(candidate) }
                    guard required.isStricter(than: got) else { continue }
                    if var f = findings[probe.name] {
                        f.cases += 1
                        if !f.architectures.contains(probe.arch) { f.architectures.append(probe.arch) }
                        findings[probe.name] = f
                    } else {
                        order.append(probe.name)
                        findings[probe.name] = SyscallFinding(name: probe.name, architectures: [probe.arch], nr: probe.nr,
                                                              args: args, instructionPointer: ip, got: got, required: required, cases: 1)
                    }
                }
            }
        }
        return (order.map { findings[$0]! }, cases, errors)
    }
}

extension PolicyProbes {
    /// Instruction-pointer values to emulate a chain with: 0, and where a program loads either half of
    /// seccomp_data.instruction_pointer, every constant its conditional jumps compare with and the values
    /// beside them, for each half (a sampled stand-in until the path-walking proof judges the chain).
    static func instructionPointers(_ chain: FilterChain) -> [UInt64] {
        var constants = Set<UInt32>()
        var loadsLow = false, loadsHigh = false
        for p in chain.programs {
            let low = p.instructions.contains { $0.code == 0x20 && $0.k == 8 }
            let high = p.instructions.contains { $0.code == 0x20 && $0.k == 12 }
            guard low || high else { continue }
            loadsLow = loadsLow || low
            loadsHigh = loadsHigh || high
            for ins in p.instructions where [0x15, 0x25, 0x35, 0x45].contains(ins.code) {
                constants.formUnion([ins.k, ins.k &+ 1, ins.k &- 1, ~ins.k])
            }
        }
        guard loadsLow || loadsHigh else { return [0] }
        constants.formUnion([0, 1, 0xffff_ffff])
        let words = constants.sorted()
        let lows = loadsLow ? words : [0]
        let highs = loadsHigh ? words : [0]
        var out = [UInt64]()
        var seen = Set<UInt64>()
        func add(_ v: UInt64) { if seen.insert(v).inserted { out.append(v) } }
        add(0)
        for l in lows { add(UInt64(l)) }
        for h in highs { add(UInt64(h) << 32) }
        // Both halves together while that stays small; each half alone above.
        if lows.count * highs.count <= 256 {
            for h in highs { for l in lows { add(UInt64(h) << 32 | UInt64(l)) } }
        }
        return out
    }
}

/// Collects, from one run, the argument vectors that flip a comparison the run made: for each
/// argument word compared with a constant, the word set to (or just beside) that constant.
struct Flips: ArgumentComparisonObserver {
    static var observes: Bool { true }
    let args: [UInt64]
    let is32Bit: Bool
    var candidates: [[UInt64]] = []

    init(args: [UInt64], is32Bit: Bool) {
        self.args = args
        self.is32Bit = is32Bit
    }

    mutating func compared(offset: UInt32, mask: UInt32, value: UInt32, code: UInt16) {
        let index = Int(offset - 16) / 8
        let high = (offset - 16) % 8 == 4
        if high && is32Bit { return }  // 32-bit arguments have no high half
        let current = UInt32(truncatingIfNeeded: high ? args[index] >> 32 : args[index])
        var words: [UInt32]
        switch code {
        case 0x15:  // JEQ (after and #mask for a masked comparison)
            let equal = (current & ~mask) | (value & mask)
            let lowBit = mask & (~mask &+ 1)
            words = [equal, equal ^ lowBit]
        case 0x45: words = [current | value, current & ~value]  // JSET
        default: words = [value, value &+ 1, value &- 1]  // JGT, JGE
        }
        for w in words where w != current {
            var a = args
            a[index] = high ? (a[index] & 0xffff_ffff) | UInt64(w) << 32 : (a[index] & ~0xffff_ffff) | UInt64(w)
            candidates.append(a)
        }
    }
}
