import WardenCore
import WardenHost
import WardenJSON
import WardenPolicy
import WardenSeccomp
import WardenSpec

/// One syscall the site denies that a loaded filter chain lets through: the proof's counterexample.
public struct SyscallFinding: Equatable, Sendable {
    public var name: String
    /// Architectures where it falls short, in the policy's order.
    public var architectures: [SeccompArch]
    /// The first counterexample.
    public var nr: Int32
    public var args: [UInt64]
    /// seccomp_data.instruction_pointer of that case (0 unless the filters compare it).
    public var instructionPointer: UInt64 = 0
    public var got: FilterReturn
    public var required: FilterReturn
    /// How many routes × ABIs fell short.
    public var cases: Int

    public var description: String {
        let arches = architectures.map(\.libseccompName).joined(separator: ", ")
        let argText = args.allSatisfy { $0 == 0 } ? "" : " args " + args.map { "0x" + String($0, radix: 16) }.joined(separator: ",")
        let ipText = instructionPointer == 0 ? "" : " instruction pointer 0x" + String(instructionPointer, radix: 16)
        return "\(name): the loaded filters give \(got), the policy requires \(required) or stricter (\(arches); nr \(nr)\(argText)\(ipText); \(cases) route\(cases == 1 ? "" : "s") open)"
    }
}

/// Judges a loaded filter chain with the path-walking proof (WardenPolicy's `Guarantee`, over
/// WardenSeccomp's `Prover`): every route of the site's deny rules must be denied (ERRNO or stricter)
/// for every argument value and every instruction pointer, on every ABI this host runs (x86_64, i386
/// by `int $0x80`, x32 by bit 30 of the number), and so must every syscall number newer than
/// libseccomp. A route the proof cannot decide is unverified, never "holds".
public struct ChainJudge: Sendable {
    public let routes: [Route]
    /// The site-denied syscall names, for the report.
    public var names: [String] { routes.map { $0.syscall }.uniqueSorted() }
    public var architectures: [SeccompArch] { Guarantee.abis }

    /// Where a chain that holds is remembered (by its BPF bytes, the routes and this binary), so the
    /// next container with the same filter (most of a node's) skips the proof. nil: always prove.
    public var cache: VerdictCache? = nil

    public init(routes: [Route]) { self.routes = routes }

    /// The routes of the policy's deny rules for a container (a Docker-format deny set is converted for
    /// its own capabilities when the config is known).
    /// `capabilities`: the process's own bounding set, read from the kernel; the config's can be edited
    /// on disk after the container started, so it is used only when the kernel's cannot be read. The
    /// architecture is this machine's, never the config's.
    public init(policy: Policy, config: OCIConfig?, capabilities: [String]? = nil) throws(WardenError) {
        var deny = policy.deny
        if !policy.denySources.isEmpty, config != nil || capabilities != nil {
            // This machine's architecture, as the proof's ABIs are: a config naming another first
            // would drop the deny rules written for this one (`Policy.baseline`).
            var context = config.map { ConversionContext.of($0, arch: .native) } ?? ConversionContext()
            if let capabilities { context.capabilities = capabilities }
            deny = try policy.deny(for: context)
        }
        self.init(routes: deny.flatMap(\.routes))
    }

    public struct Judgement: Sendable {
        /// The routes left open, one finding per syscall (the first counterexample).
        public var findings: [SyscallFinding]
        /// Routes the proof could not decide, with why.
        public var undecided: [String]
        /// Proofs attempted (routes × ABIs, and the newer-than-libseccomp ranges).
        public var proofs: Int
    }

    /// `chain`: the loaded filters in any order (the kernel's answer is the strictest of them).
    public func judge(_ chain: [BPFProgram]) -> Judgement {
        let proofs = routes.count * architectures.count + architectures.count
        // Only a chain that holds is kept: a finding or an undecided route is proved again (and
        // reported with its counterexample) every time.
        let key = cache.map { _ in cacheKey(chain) }
        // A node does not keep its document alive: the document is held until the node is read.
        if let cache, let key, let doc = cache.read(key), withExtendedLifetime(doc, { doc.root["holds"]?.bool == true }) {
            return Judgement(findings: [], undecided: [], proofs: proofs)
        }
        let result = judgeUncached(chain)
        if let cache, let key, result.findings.isEmpty && result.undecided.isEmpty {
            cache.write(key, [("holds", .bool(true))])
        }
        return result
    }

    /// Everything a judgement depends on: this binary (its proof, its syscall tables), the ABIs, every
    /// route with the action it requires, and every instruction of every filter, in order.
    func cacheKey(_ chain: [BPFProgram]) -> [UInt8] {
        // Built from bytes: an array's description ("\(array)") looks up conformances at run time (0.4 M).
        var out = Array("chain v4 \(VerdictCache.binaryIdentity) abis".utf8)
        func put(_ v: UInt64, _ bytes: Int) { for s in 0..<bytes { out.append(UInt8(truncatingIfNeeded: v >> (8 * s))) } }
        func put(_ text: String) { let b = Array(text.utf8); put(UInt64(b.count), 4); out += b }
        for a in architectures { put(a.libseccompName) }
        // Each route as bytes: its name, each condition (index, operator, both values) and the action
        // it requires, every field length-prefixed or fixed-size. Its description's text (hex numbers
        // by String(radix:)) was 0.25 M instructions of a warm verify.
        out += Array(" routes".utf8)
        put(UInt64(routes.count), 4)
        for r in routes {
            put(r.syscall)
            put(UInt64(r.conditions.count), 4)
            for c in r.conditions {
                put(UInt64(c.index), 4)
                put(c.op.rawValue)
                put(c.value, 8)
                put(c.valueTwo ?? 0, 8)
            }
            put(UInt64(Compiler.actionValue(r.action)), 4)
        }
        out += Array(" bpf".utf8)
        // Each filter: its instruction count, then each instruction as the kernel's 8 bytes (code, jt,
        // jf, k; little-endian), written in place. Hex text of a chain's hundreds of instructions was
        // 0.6 M instructions of a warm verify (issue 14); the entry's key is length-prefixed bytes.
        let start = out.count
        out += repeatElement(0, count: chain.reduce(0) { $0 + 4 + 8 * $1.instructions.count })
        out.withUnsafeMutableBufferPointer { b in
            var p = start
            for program in chain {
                let n = UInt32(truncatingIfNeeded: program.instructions.count)
                for s in 0..<4 { b[p + s] = UInt8(truncatingIfNeeded: n >> (8 * s)) }
                p += 4
                for i in program.instructions {
                    b[p] = UInt8(truncatingIfNeeded: i.code)
                    b[p + 1] = UInt8(truncatingIfNeeded: i.code >> 8)
                    b[p + 2] = i.jt
                    b[p + 3] = i.jf
                    for s in 0..<4 { b[p + 4 + s] = UInt8(truncatingIfNeeded: i.k >> (8 * s)) }
                    p += 8
                }
            }
        }
        return out
    }

    func judgeUncached(_ chain: [BPFProgram]) -> Judgement {
        let gaps = Guarantee.gaps(chain, routes: routes, runtime: .runc)
        var findings = [String: SyscallFinding]()
        var order = [String]()
        var undecided = [String]()
        for gap in gaps {
            let name = gap.route?.syscall ?? "syscalls newer than libseccomp"
            switch gap.result {
            case .holds: continue
            case .undecided(let why):
                undecided.append("\(gap.route?.description ?? name) on \(gap.arch.libseccompName): \(why)")
            case .fallsShort(let data, let got):
                let required = gap.route.map { Compiler.filterReturn($0.action) } ?? FilterReturn(Compiler.actionValue(Builtin.eperm))
                if var f = findings[name] {
                    f.cases += 1
                    if !f.architectures.contains(gap.arch) { f.architectures.append(gap.arch) }
                    findings[name] = f
                } else {
                    order.append(name)
                    findings[name] = SyscallFinding(name: name, architectures: [gap.arch], nr: data.nr, args: data.args,
                                                    instructionPointer: data.instructionPointer, got: got, required: required, cases: 1)
                }
            }
        }
        return Judgement(findings: order.map { findings[$0]! }, undecided: undecided, proofs: routes.count * architectures.count + architectures.count)
    }
}

/// Emulation helpers shared with `explain` and the emulator's tests.
public enum PolicyProbes {
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
