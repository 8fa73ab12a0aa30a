import WardenCore
import Foundation
import Testing
@testable import WardenJSON
@testable import WardenPolicy
@testable import WardenSeccomp
@testable import WardenSpec

/// The path-walking proof against the emulator: a counterexample it prints must be one the emulator
/// reproduces, and where it says "holds" no sampled point may fall short.
@Suite("Proof on compiled BPF")
struct ProofTests {
    static let x86_64 = Syscalls.token(.x86_64)
    static let floor = FilterReturn(Compiler.actionValue(Builtin.eperm))

    /// Points inside a route's region: zeros and each interesting value, with the high halves varied.
    func samples(_ conditions: [LinuxSeccompArg]) -> [[UInt64]] {
        var out = [[UInt64]]()
        let values = RandomProfiles.values + [3, 0x1_0000_0000, 0x7000_0000_0000_0000, 0xffff_ffff_ffff_ffff, 0x1_0000_0028]
        for i in 0..<3 {
            for v in values {
                var a: [UInt64] = [0, 0, 0, 0, 0, 0]
                a[i] = v
                out.append(a)
            }
        }
        return out.filter { a in conditions.allSatisfy { $0.holds(a) } }
    }

    @Test("random filters: every counterexample reproduces in the emulator; no sampled point contradicts 'holds'", arguments: 0..<4)
    func agreesWithEmulator(batch: Int) throws {
        var proofs = 0, counterexamples = 0
        var problems = [String]()
        for seed in 0..<40 {
            var g = SplitMix(state: UInt64(0xbeef + batch * 1000 + seed))
            let profile = RandomProfiles.profile(&g)
            guard let program = try? Compiler.compile(profile) else { continue }
            let routeSource = RandomProfiles.profile(&g, deny: true).syscalls ?? []
            for route in routeSource.flatMap(\.routes) {
                guard let nr = Syscalls.number(route.syscall, arch: .x86_64) else { continue }
                let r = Prover.prove([program], arch: Self.x86_64, nr: UInt32(bitPattern: nr), conditions: route.conditions, atLeast: Self.floor)
                proofs += 1
                switch r {
                case .holds:
                    for args in samples(route.conditions) {
                        let got = try program.run(SeccompData(nr: nr, arch: Self.x86_64, args: args))
                        if Self.floor.isStricter(than: got) {
                            problems.append("seed \(seed) \(route) holds, but \(args) gives \(got)")
                        }
                    }
                case .fallsShort(let data, let got):
                    counterexamples += 1
                    let real = try program.run(data)
                    if real != got || !route.conditions.allSatisfy({ $0.holds(data.args) }) || data.nr != nr {
                        problems.append("seed \(seed) \(route): counterexample \(data.args) gives \(real), the proof said \(got)")
                    }
                case .undecided(let why):
                    problems.append("seed \(seed) \(route): undecided: \(why)")
                }
            }
        }
        #expect(proofs > 50)
        #expect(counterexamples > 5, "the random filters should leave some routes open")
        #expect(problems.isEmpty, "\(problems.count): \(problems.prefix(5).joined(separator: "\n"))")
    }

    @Test("the instruction pointer is symbolic: a filter that denies only at ip 0 falls short")
    func instructionPointer() throws {
        // ld [8] (ip low); jeq #0 → errno; ret allow
        let p = BPFProgram([
            BPFInstruction(code: 0x20, jt: 0, jf: 0, k: 8),
            BPFInstruction(code: 0x15, jt: 0, jf: 1, k: 0),
            BPFInstruction(code: 0x06, jt: 0, jf: 0, k: 0x0005_0001),
            BPFInstruction(code: 0x06, jt: 0, jf: 0, k: 0x7fff_0000),
        ])
        #expect(try p.run(SeccompData(nr: 250, arch: Self.x86_64)).description == "ERRNO(1)")
        let r = Prover.prove([p], arch: Self.x86_64, nr: 250, atLeast: Self.floor)
        guard case .fallsShort(let d, let got) = r else { Issue.record("expected a counterexample, got \(r)"); return }
        #expect(d.instructionPointer != 0)
        #expect(got.description == "ALLOW")
    }

    @Test("64-bit arguments: libseccomp's halves leave no hole the proof misses", arguments: [
        // keyctl denied when arg0 <= 2^32 or > 2^32: the whole range; on x86_64 the halves cover it.
        (#"[{"names":["keyctl"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":4294967296,"op":"SCMP_CMP_LE"}]},{"names":["keyctl"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":4294967296,"op":"SCMP_CMP_GT"}]}]"#, true),
        // Only arg0 <= 2^32 denied: keyctl(2^32 + 1) passes.
        (#"[{"names":["keyctl"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":4294967296,"op":"SCMP_CMP_LE"}]}]"#, false),
    ])
    func wideArguments(rules: String, holds: Bool) throws {
        let p = try loadProfile(#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":\#(rules)}"#)
        let program = try Compiler.compile(p)
        let r = Prover.prove([program], arch: Self.x86_64, nr: 250, atLeast: Self.floor)
        #expect((r == .holds) == holds, "\(r)")
    }

    @Test("crun reads six conditions: seven clone flags in one entry leave CLONE_NEWUSER open under crun only")
    func crunSixConditions() throws {
        // CLONE_NEWUSER last, as the attack wrote it.
        let ordered = Builtin.cloneNamespaceFlags.filter { $0 != 0x1000_0000 } + [0x1000_0000]
        let flags = ordered.map { #"{"index":0,"value":\#($0),"valueTwo":\#($0),"op":"SCMP_CMP_MASKED_EQ"}"# }
        let p = try loadProfile(#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["clone"],"action":"SCMP_ACT_ERRNO","args":[\#(flags.joined(separator: ","))]}]}"#)
        let route = Route("clone", [LinuxSeccompArg(index: 0, value: 0x1000_0000, valueTwo: 0x1000_0000, op: .maskedEqual)])
        let nr = UInt32(try #require(Syscalls.number("clone", arch: .x86_64)))
        let runc = Prover.prove([try Compiler.compile(p, as: .runc)], arch: Self.x86_64, nr: nr, conditions: route.conditions, atLeast: Self.floor)
        let crun = Prover.prove([try Compiler.compile(p, as: .crun)], arch: Self.x86_64, nr: nr, conditions: route.conditions, atLeast: Self.floor)
        #expect(runc == .holds)
        guard case .fallsShort(let d, _) = crun else { Issue.record("crun: \(crun)"); return }
        #expect(d.args[0] & 0x1000_0000 != 0)
    }

    @Test("ERRNO(0) runs nothing but reports success: it does not meet a denial")
    func errnoZero() throws {
        let p = try Compiler.compile(try loadProfile(#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["keyctl"],"action":"SCMP_ACT_ERRNO","errnoRet":0}]}"#))
        guard case .fallsShort(_, let got) = Prover.prove([p], arch: Self.x86_64, nr: 250, atLeast: Self.floor) else { Issue.record("ERRNO(0) accepted"); return }
        #expect(got.description == "ERRNO(0)")
        #expect(RuleAction(.errno, errnoRet: 0).stricter(Builtin.eperm) == Builtin.eperm)
        #expect(Builtin.eperm.stricter(RuleAction(.errno, errnoRet: 0)) == Builtin.eperm)
    }

    @Test("a chain: the kernel's strictest answer counts, so a second filter can close the first one's gap")
    func chain() throws {
        let weak = try Compiler.compile(try loadProfile(#"{"defaultAction":"SCMP_ACT_ALLOW"}"#))
        let strict = try Compiler.compile(try loadProfile(#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["keyctl"],"action":"SCMP_ACT_ERRNO"}]}"#))
        #expect(Prover.prove([weak], arch: Self.x86_64, nr: 250, atLeast: Self.floor) != .holds)
        #expect(Prover.prove([weak, strict], arch: Self.x86_64, nr: 250, atLeast: Self.floor) == .holds)
        #expect(Prover.prove([strict, weak], arch: Self.x86_64, nr: 250, atLeast: Self.floor) == .holds)
        #expect(Prover.prove([], arch: Self.x86_64, nr: 250, atLeast: Self.floor) != .holds)
    }

    @Test("the built-in baseline, injected or tightened into real profiles, proves on every ABI under runc and crun",
          arguments: ["no-seccomp", "weak-allow", "docker-default", "arg-rules"])
    func builtinProves(sample: String) throws {
        let policy = try builtinPolicy()
        let config = try OCIConfig(document: JSONDocument(contentsOf: Repo.sample(sample) + "/config.json"))
        let result = try Tighten.tighten(try config.seccomp(), policy: policy)
        let gaps = Guarantee.gaps(result.profile, routes: policy.deny.flatMap(\.routes))
        #expect(gaps.isEmpty, "\(gaps.prefix(3))")
        #expect(!result.changes.contains { if case .routeClosed = $0 { true } else { false } }, "\(result.changes)")
    }
}
