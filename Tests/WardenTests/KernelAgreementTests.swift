import WardenCore
import Foundation
import Testing
@testable import WardenJSON
@testable import WardenPolicy
@testable import WardenSeccomp
@testable import WardenSpec

/// The emulator and the proof against the kernel itself: random filters loaded for real.
@Suite("Proof and emulator against the kernel", .serialized)
struct KernelAgreementTests {
    static let bpfrun: String = {
        let out = "/tmp/seccomp-warden-test/bpfrun"
        _ = try? sh("mkdir -p /tmp/seccomp-warden-test && gcc -static -O2 \(Repo.root)/Tests/support/bpfrun.c -o \(out)")
        return out
    }()

    @Test("a few hundred points per filter: the kernel, the emulator and the proof's counterexamples agree", arguments: 0..<5)
    func agree(seed: Int) throws {
        var g = SplitMix(state: UInt64(0x5eed + seed))
        let names = ["getpid", "getppid", "getuid"]
        var rules = [LinuxSyscall]()
        for i in 0..<Int.random(in: 2...6, using: &g) {
            let index = UInt32.random(in: 0...1, using: &g)
            let op = SeccompOperator.allCases.randomElement(using: &g)!
            let v = (RandomProfiles.values + [0x1_0000_0000, 0x7000_0000_0000_0000]).randomElement(using: &g)!
            let two: UInt64? = op == .maskedEqual ? RandomProfiles.values.randomElement(using: &g)! : nil
            rules.append(LinuxSyscall(names: [names.randomElement(using: &g)!], action: .errno, errnoRet: UInt32(20 + i),
                                      args: [LinuxSeccompArg(index: index, value: v, valueTwo: two, op: op)]))
        }
        let profile = LinuxSeccomp(defaultAction: .allow, architectures: nil, syscalls: rules)
        let program = try Compiler.compile(profile)
        let dir = try tempDir("kernel-agree")
        defer { cleanup(dir) }
        let bytes = program.instructions.flatMap { ins -> [UInt8] in
            [UInt8(ins.code & 0xff), UInt8(ins.code >> 8), ins.jt, ins.jf] + withUnsafeBytes(of: ins.k.littleEndian) { Array($0) }
        }
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/f.bpf"))
        let x86_64 = Syscalls.token(.x86_64)
        var points = [SeccompData]()
        let wide: [UInt64] = RandomProfiles.values + [0x1_0000_0000, 0x1_0000_0009, 0x7000_0000_0000_0000, 0xffff_ffff_ffff_ffff]
        for name in names {
            let nr = try #require(Syscalls.number(name, arch: .x86_64))
            for a in wide { for b in [0, 8, 0x1_0000_0000] as [UInt64] { points.append(SeccompData(nr: nr, arch: x86_64, args: [a, b, 0, 0, 0, 0])) } }
            // The proof's counterexample, if any, must be allowed by the kernel too.
            if case .fallsShort(let d, _) = Prover.prove([program], arch: x86_64, nr: UInt32(nr), atLeast: FilterReturn(Compiler.actionValue(Builtin.eperm))) { points.append(d) }
        }
        let input = points.map { d in ([UInt64(UInt32(bitPattern: d.nr))] + d.args).map { String($0, radix: 16) }.joined(separator: " ") }.joined(separator: "\n") + "\n"
        let r = try run(Self.bpfrun, [dir + "/f.bpf"], input: Data(input.utf8))
        #expect(r.status == 0, "\(r.stderr)")
        let kernel = r.stdout.split(separator: "\n").map(String.init)
        #expect(kernel.count == points.count)
        var disagreements = [String]()
        for (d, k) in zip(points, kernel) {
            let e = try program.run(d)
            let emulated = e.actionBits == 0x7fff_0000 ? "ok" : "errno=\(e.data)"
            if emulated != k { disagreements.append("nr \(d.nr) args \(d.args.prefix(2)): kernel \(k), emulator \(emulated)") }
        }
        #expect(points.count > 90 && kernel.contains("ok") && kernel.contains { $0.hasPrefix("errno=") }, "\(kernel)")
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5))")
    }
}
