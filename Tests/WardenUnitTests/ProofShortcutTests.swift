import Foundation
import Testing
@testable import WardenPolicy
@testable import WardenSeccomp
@testable import WardenSpec

/// Issue 14's shortcuts in the proof: each must give exactly what the long way gives, and must not be
/// taken where its premise fails.
@Suite("Proof shortcuts")
struct ProofShortcutTests {
    static func fixture(_ file: String) throws -> LinuxSeccomp {
        try loadProfile(file: Repo.fixtures + "/" + file,
                        context: ConversionContext(capabilities: ConversionContext.dockerDefaultCapabilities, arch: .x86_64, kernel: KernelVersion(6, 1)))
    }

    @Test("a profile runc and crun read alike compiles to the same bytes under both (the real profiles, as given and tightened)",
          arguments: ["docker-default.json", "podman-default.json"])
    func alikeSameFilter(file: String) throws {
        let given = try Self.fixture(file)
        let tightened = try Tighten.tighten(given, policy: try builtinPolicy()).profile
        for profile in [given, tightened] {
            #expect(RuntimeReading.readAlike(profile))
            let runc = try Compiler.compile(profile, as: .runc), crun = try Compiler.compile(profile, as: .crun)
            #expect(runc.instructions.count > 100)
            #expect(runc.instructions == crun.instructions)
        }
    }

    /// Seven conditions on one argument (a repeated index: one rule per condition under both runtimes);
    /// crun reads only the first six, so the seventh value is denied under runc only.
    static let seven = LinuxSeccomp(defaultAction: .allow, architectures: [.x86_64, .x86, .x32], syscalls: [
        LinuxSyscall(names: ["personality"], action: .errno, errnoRet: 1,
                     args: (1...7).map { LinuxSeccompArg(index: 0, value: UInt64($0), op: .equal) }),
    ])

    @Test("seven conditions: not read alike, and the two filters differ (so the shortcut must not be taken)")
    func sevenConditions() throws {
        #expect(!RuntimeReading.readAlike(Self.seven))
        let runc = try Compiler.compile(Self.seven, as: .runc), crun = try Compiler.compile(Self.seven, as: .crun)
        #expect(runc.instructions != crun.instructions)
        let nr = try #require(Syscalls.number("personality", arch: .x86_64))
        let data = SeccompData(nr: nr, arch: Syscalls.abi(.x86_64).auditArch, args: [7, 0, 0, 0, 0, 0])
        #expect(try runc.run(data).raw == Compiler.actionValue(RuleAction(.errno, errnoRet: 1)))
        #expect(try crun.run(data).raw == Compiler.actionValue(RuleAction(.allow)))
    }

    @Test("the gaps both readings get from one proof are those each reading's own proof finds",
          arguments: [0, 1, 2])
    func gapsPerReading(which: Int) throws {
        let policy = try builtinPolicy()
        let routes = policy.deny.flatMap(\.routes)
        let profile = switch which {
        case 0: LinuxSeccomp(defaultAction: .allow, architectures: [.x86_64, .x86, .x32])
        case 1: try Self.fixture("docker-default.json")
        default: Self.seven
        }
        let both = Guarantee.gaps(profile, routes: routes)
        let apart = Guarantee.gaps(profile, routes: routes, readings: [.runc]) + Guarantee.gaps(profile, routes: routes, readings: [.crun])
        #expect(both == apart)
        // Something to compare: every one of these falls short of the baseline, under both runtimes.
        #expect(both.contains { $0.runtime == .runc } && both.contains { $0.runtime == .crun })
    }

    @Test("calls newer than libseccomp: the range found from the top is the one the whole table gives", arguments: Guarantee.abis)
    func newer(arch: SeccompArch) throws {
        let known = Syscalls.all(arch: arch).map { UInt32(bitPattern: $0.number) }
        let highest = try #require(known.max())
        #expect(Syscalls.newerThanLibseccomp(arch).lowerBound == highest + 1)
        #expect(Syscalls.newerThanLibseccomp(arch) == Syscalls.newerRange(arch))
    }

    @Test("red team: x32 calls newer than libseccomp below x32's own block (0x40000000 | 457...511, e.g. open_tree_attr 467) must not run")
    func newerOnX32() throws {
        // x32 shares every call added since x86_64's 424 (the kernel's "common" entries): open_tree_attr
        // is 0x40000000 | 467 on x32. libseccomp names x32 calls up to 547 (its own 512...547 block),
        // so the range above its highest name missed 457...511.
        let x86_64 = Syscalls.abi(.x86_64).auditArch
        let lets467Through = BPFProgram([
            BPFInstruction(code: 0x20, jt: 0, jf: 0, k: 4),                 // ld arch
            BPFInstruction(code: 0x15, jt: 1, jf: 0, k: x86_64),            // jeq x86_64
            BPFInstruction(code: 0x06, jt: 0, jf: 0, k: 0x0000_0000),       // kill
            BPFInstruction(code: 0x20, jt: 0, jf: 0, k: 0),                 // ld nr
            BPFInstruction(code: 0x15, jt: 0, jf: 1, k: 0x4000_0000 | 467), // jeq x32 open_tree_attr
            BPFInstruction(code: 0x06, jt: 0, jf: 0, k: 0x7fff_0000),       // allow
            BPFInstruction(code: 0x06, jt: 0, jf: 0, k: 0x0005_0001),       // errno 1
        ])
        let gaps = Guarantee.gaps([lets467Through], routes: [], runtime: .runc)
        #expect(gaps.contains { $0.route == nil && $0.arch == .x32 }, "\(gaps)")
    }

    @Test("red team (found under load): a compile that outlives its time limit does not end the process with SIGPIPE when it finishes")
    func lateCompileNoSigpipe() throws {
        // The caller gives up after 1 ms and closes the pipe's read end; the compile thread's write then
        // raised SIGPIPE, killing the hook (and the test run: "exited with unexpected signal code 13").
        let big = try Self.fixture("docker-default.json")
        var late = 0
        for _ in 0..<4 where Compiler.compile(big, as: .runc, within: 1) == nil { late += 1 }
        usleep(1_500_000)  // the threads finish and write to their closed pipes
        #expect(late >= 0)
    }
}
