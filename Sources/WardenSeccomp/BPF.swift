import WardenCore
import CSeccomp
import CShim
/// Classic BPF as seccomp runs it: a program over `struct seccomp_data`, and an emulator.

/// One `struct sock_filter`.
public struct BPFInstruction: Equatable, Sendable {
    public var code: UInt16
    public var jt: UInt8
    public var jf: UInt8
    public var k: UInt32

    public init(code: UInt16, jt: UInt8, jf: UInt8, k: UInt32) {
        self.code = code
        self.jt = jt
        self.jf = jf
        self.k = k
    }
}

/// The input the kernel gives a filter.
public struct SeccompData: Sendable {
    public var nr: Int32
    public var arch: UInt32
    public var instructionPointer: UInt64
    public var args: [UInt64]

    public init(nr: Int32, arch: UInt32, instructionPointer: UInt64 = 0, args: [UInt64] = [0, 0, 0, 0, 0, 0]) {
        self.nr = nr
        self.arch = arch
        self.instructionPointer = instructionPointer
        self.args = args
    }

    /// The 32-bit word at byte offset `k` (little-endian layout, as on x86_64 and aarch64).
    func word(at k: UInt32) -> UInt32? {
        switch k {
        case 0: UInt32(bitPattern: nr)
        case 4: arch
        case 8: UInt32(truncatingIfNeeded: instructionPointer)
        case 12: UInt32(truncatingIfNeeded: instructionPointer >> 32)
        case 16..<64 where k % 4 == 0:
            {
                let a = args[Int(k - 16) / 8]
                return (k % 8 == 0) ? UInt32(truncatingIfNeeded: a) : UInt32(truncatingIfNeeded: a >> 32)
            }()
        default: nil
        }
    }
}

/// A filter's return value (`SECCOMP_RET_*`).
public struct FilterReturn: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var raw: UInt32
    public init(_ raw: UInt32) { self.raw = raw }

    public var actionBits: UInt32 { raw & 0xffff_0000 }
    public var data: UInt32 { raw & 0xffff }

    /// Kernel precedence: the smaller signed action value wins (KILL_PROCESS is negative).
    public func isStricter(than other: FilterReturn) -> Bool {
        Int32(bitPattern: actionBits) < Int32(bitPattern: other.actionBits)
    }

    public var description: String {
        // libseccomp's action values (seccomp.h); ERRNO and TRACE carry their data in the low 16 bits.
        switch actionBits {
        case SCMP_ACT_KILL_PROCESS: "KILL_PROCESS"
        case SCMP_ACT_KILL_THREAD: "KILL_THREAD"
        case SCMP_ACT_TRAP: "TRAP"
        case sw_act_errno(0): "ERRNO(\(data))"
        case SCMP_ACT_NOTIFY: "NOTIFY"
        case sw_act_trace(0): "TRACE(\(data))"
        case SCMP_ACT_LOG: "LOG"
        case SCMP_ACT_ALLOW: "ALLOW"
        default: "UNKNOWN(0x\(String(raw, radix: 16)))"
        }
    }
}

public enum BPFError: Error, Equatable, CustomStringConvertible {
    case badInstruction(pc: Int, code: UInt16)
    case badLoad(pc: Int, offset: UInt32)
    case fellOff
    case divideByZero(pc: Int)

    public var description: String {
        switch self {
        case .badInstruction(let pc, let code): "instruction \(pc): unsupported opcode 0x\(String(code, radix: 16))"
        case .badLoad(let pc, let off): "instruction \(pc): load outside seccomp_data (offset \(off))"
        case .fellOff: "program ran past its end"
        case .divideByZero(let pc): "instruction \(pc): division by zero"
        }
    }
}

/// A seccomp BPF program and the emulator that runs it like the kernel does.
public struct BPFProgram: Sendable {
    public var instructions: [BPFInstruction]

    public init(_ instructions: [BPFInstruction]) { self.instructions = instructions }

    /// Parses `struct sock_filter[]` bytes (8 bytes each, host order).
    public init(bytes: [UInt8]) {
        var out = [BPFInstruction]()
        out.reserveCapacity(bytes.count / 8)
        var i = 0
        while i + 8 <= bytes.count {
            let code = UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8
            let k = UInt32(bytes[i + 4]) | UInt32(bytes[i + 5]) << 8 | UInt32(bytes[i + 6]) << 16 | UInt32(bytes[i + 7]) << 24
            out.append(BPFInstruction(code: code, jt: bytes[i + 2], jf: bytes[i + 3], k: k))
            i += 8
        }
        instructions = out
    }

    /// Runs the program over `data`. Classic BPF: only forward jumps, so it always ends.
    public func run(_ data: SeccompData) throws(BPFError) -> FilterReturn {
        var none = NoComparisonObserver()
        return try run(data, observer: &none)
    }

    /// Runs the program and tells `observer` each comparison of an argument word (possibly masked
    /// with `and #m` first) against a constant: the values where the answer can change.
    public func run<O: ArgumentComparisonObserver>(_ data: SeccompData, observer: inout O) throws(BPFError) -> FilterReturn {
        var state = BPFState()
        return try execute(data, state: &state, observer: &observer, stopAtData: false)!
    }

    /// Runs the program from the start for syscall `nr` on `arch` while it reads nothing but those two
    /// (the same for every argument vector of that syscall), and stops before its first other read of
    /// seccomp_data. nil when that part of the program fails: `run` reports the error.
    /// `run(_:from:observer:)` then gives exactly what `run(_:observer:)` gives, without the walk
    /// through every other syscall's comparisons.
    public func start(nr: Int32, arch: UInt32) -> BPFState? {
        var state = BPFState()
        var none = NoComparisonObserver()
        let data = SeccompData(nr: nr, arch: arch)
        do {
            if let result = try execute(data, state: &state, observer: &none, stopAtData: true) { state.returned = result }
            return state
        } catch {
            return nil
        }
    }

    /// Runs the program from `start` (from `start(nr:arch:)` with `data`'s nr and arch).
    public func run<O: ArgumentComparisonObserver>(_ data: SeccompData, from start: BPFState, observer: inout O) throws(BPFError) -> FilterReturn {
        if let returned = start.returned { return returned }
        var state = start
        return try execute(data, state: &state, observer: &observer, stopAtData: false)!
    }

    /// The interpreter. With `stopAtData` it returns nil (and leaves `state` at that instruction) before
    /// the first load of a seccomp_data word other than nr and arch.
    @inline(__always)
    func execute<O: ArgumentComparisonObserver>(_ data: SeccompData, state: inout BPFState, observer: inout O,
                                                stopAtData: Bool) throws(BPFError) -> FilterReturn? {
        var a = state.a
        var x = state.x
        var mem = state.mem
        // Which seccomp_data word A holds (an argument's offset), and the mask applied to it since.
        // Both are zero where a run from `start(nr:arch:)` resumes: nothing but nr and arch was loaded yet.
        var source: UInt32 = 0, mask: UInt32 = 0
        var pc = state.pc
        let prog = instructions
        let observing = O.observes
        while pc < prog.count {
            let ins = prog[pc]
            let k = ins.k
            if stopAtData && ins.code == 0x20 && k != 0 && k != 4 {
                state = BPFState(pc: pc, a: a, x: x, mem: mem)
                return nil
            }
            if observing {
                switch ins.code {
                case 0x15, 0x25, 0x35, 0x45:
                    if source >= 16 { observer.compared(offset: source, mask: mask, value: k, code: ins.code) }
                case 0x54: mask &= k
                case 0x20: break
                case 0x05, 0x06, 0x07, 0x02, 0x03, 0x01, 0x61, 0x81, 0x16: break  // leave A alone
                default: source = 0
                }
                if ins.code == 0x20 { source = k >= 16 && k < 64 ? k : 0; mask = 0xffff_ffff }
            }
            switch ins.code {
            // BPF_LD|BPF_W|BPF_ABS
            case 0x20:
                guard let w = data.word(at: k) else { throw .badLoad(pc: pc, offset: k) }
                a = w
            case 0x00: a = k  // LD IMM
            case 0x80: a = 64  // LD W LEN: sizeof(struct seccomp_data)
            case 0x81: x = 64  // LDX W LEN
            case 0x60: a = withUnsafeBytes(of: &mem) { $0.load(fromByteOffset: Int(k & 15) * 4, as: UInt32.self) }  // LD MEM
            case 0x01: x = k  // LDX IMM
            case 0x61: x = withUnsafeBytes(of: &mem) { $0.load(fromByteOffset: Int(k & 15) * 4, as: UInt32.self) }  // LDX MEM
            case 0x02: withUnsafeMutableBytes(of: &mem) { $0.storeBytes(of: a, toByteOffset: Int(k & 15) * 4, as: UInt32.self) }  // ST
            case 0x03: withUnsafeMutableBytes(of: &mem) { $0.storeBytes(of: x, toByteOffset: Int(k & 15) * 4, as: UInt32.self) }  // STX
            // ALU with K (0x04 + op) and X (0x0c + op)
            case 0x04: a = a &+ k
            case 0x0c: a = a &+ x
            case 0x14: a = a &- k
            case 0x1c: a = a &- x
            case 0x24: a = a &* k
            case 0x2c: a = a &* x
            case 0x34:
                guard k != 0 else { throw .divideByZero(pc: pc) }
                a = a / k
            case 0x3c:
                guard x != 0 else { return FilterReturn(0) }  // kernel: division by zero X returns 0
                a = a / x
            case 0x94:
                guard k != 0 else { throw .divideByZero(pc: pc) }
                a = a % k
            case 0x9c:
                guard x != 0 else { return FilterReturn(0) }
                a = a % x
            case 0x44: a = a | k
            case 0x4c: a = a | x
            case 0x54: a = a & k
            case 0x5c: a = a & x
            case 0xa4: a = a ^ k
            case 0xac: a = a ^ x
            case 0x64: a = k >= 32 ? 0 : a << k
            case 0x6c: a = x >= 32 ? 0 : a << x
            case 0x74: a = k >= 32 ? 0 : a >> k
            case 0x7c: a = x >= 32 ? 0 : a >> x
            case 0x84: a = 0 &- a  // NEG
            // JMP
            case 0x05: pc += Int(k)  // JA
            case 0x15: pc += a == k ? Int(ins.jt) : Int(ins.jf)
            case 0x1d: pc += a == x ? Int(ins.jt) : Int(ins.jf)
            case 0x25: pc += a > k ? Int(ins.jt) : Int(ins.jf)
            case 0x2d: pc += a > x ? Int(ins.jt) : Int(ins.jf)
            case 0x35: pc += a >= k ? Int(ins.jt) : Int(ins.jf)
            case 0x3d: pc += a >= x ? Int(ins.jt) : Int(ins.jf)
            case 0x45: pc += (a & k) != 0 ? Int(ins.jt) : Int(ins.jf)
            case 0x4d: pc += (a & x) != 0 ? Int(ins.jt) : Int(ins.jf)
            // RET
            case 0x06: return FilterReturn(k)
            case 0x16: return FilterReturn(a)
            // MISC
            case 0x07: x = a  // TAX
            case 0x87: a = x  // TXA
            default: throw .badInstruction(pc: pc, code: ins.code)
            }
            pc += 1
        }
        throw .fellOff
    }
}

/// Where a run stands: the program counter, the registers and the scratch memory; or its result.
public struct BPFState: Sendable {
    public typealias Memory = (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32,
                               UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)
    var pc = 0
    var a: UInt32 = 0
    var x: UInt32 = 0
    var mem: Memory = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    /// Set when the program returned before reading anything but nr and arch.
    var returned: FilterReturn? = nil

    init() {}

    init(pc: Int, a: UInt32, x: UInt32, mem: Memory) {
        self.pc = pc
        self.a = a
        self.x = x
        self.mem = mem
    }
}

/// Told of each comparison of an argument word with a constant during a run (see `BPFProgram.run(_:observer:)`).
public protocol ArgumentComparisonObserver {
    /// False for the plain run: the bookkeeping is compiled out.
    static var observes: Bool { get }
    /// `offset`: the seccomp_data byte offset of the word (16 + 8 * index, + 4 for the high half);
    /// `mask`: what A was and-ed with since the load; `code`: the jump (JEQ 0x15, JGT 0x25, JGE 0x35, JSET 0x45).
    mutating func compared(offset: UInt32, mask: UInt32, value: UInt32, code: UInt16)
}

public struct NoComparisonObserver: ArgumentComparisonObserver {
    public static var observes: Bool { false }
    public init() {}
    public mutating func compared(offset: UInt32, mask: UInt32, value: UInt32, code: UInt16) {}
}

/// The filters attached to a process, newest first as the kernel runs them.
public struct FilterChain: Sendable {
    public var programs: [BPFProgram]
    public init(_ programs: [BPFProgram]) { self.programs = programs }

    /// The kernel's answer: every filter runs; the strictest return wins (first one on a tie).
    public func run(_ data: SeccompData) throws(BPFError) -> FilterReturn {
        var none = NoComparisonObserver()
        return try run(data, observer: &none)
    }

    public func run<O: ArgumentComparisonObserver>(_ data: SeccompData, observer: inout O) throws(BPFError) -> FilterReturn {
        var best: FilterReturn? = nil
        for p in programs {
            let r = try p.run(data, observer: &observer)
            if best == nil || r.isStricter(than: best!) { best = r }
        }
        return best ?? FilterReturn(0x7fff_0000)
    }

    /// Each program's `start(nr:arch:)`, for running many argument vectors of one syscall.
    public func start(nr: Int32, arch: UInt32) -> [BPFState?] {
        programs.map { $0.start(nr: nr, arch: arch) }
    }

    /// `run(_:observer:)` from the programs' starts (`start(nr:arch:)` with `data`'s nr and arch).
    public func run<O: ArgumentComparisonObserver>(_ data: SeccompData, from starts: [BPFState?], observer: inout O) throws(BPFError) -> FilterReturn {
        var best: FilterReturn? = nil
        for (p, start) in zip(programs, starts) {
            let r: FilterReturn
            if let start { r = try p.run(data, from: start, observer: &observer) } else { r = try p.run(data, observer: &observer) }
            if best == nil || r.isStricter(than: best!) { best = r }
        }
        return best ?? FilterReturn(0x7fff_0000)
    }
}
