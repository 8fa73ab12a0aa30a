import WardenCore
import WardenJSON
import WardenSeccomp
import WardenSpec

/// A baseline route that a compiled filter leaves open, found by the proof.
public struct Gap: Sendable, Equatable, CustomStringConvertible {
    /// The route, or nil for "syscalls newer than libseccomp".
    public var route: Route?
    public var arch: SeccompArch
    public var runtime: RuntimeReading
    public var result: ProofResult

    /// The syscall whose rules must change to close the gap (nil: the default action must).
    public var syscall: String? { route?.syscall }

    public var description: String {
        let what = route.map(\.description) ?? "syscalls newer than libseccomp"
        let required = route.map { $0.floor.action == .log } == true ? "a log or a denial (SCMP_ACT_LOG or stricter)" : "a denial (ERRNO or stricter)"
        switch result {
        case .fallsShort(let d, let got):
            let args = d.args.map { "0x" + String($0, radix: 16) }.joined(separator: ",")
            return "\(what) on \(arch.libseccompName) under \(runtime.rawValue): \(got) for nr \(d.nr) args \(args) ip 0x\(String(d.instructionPointer, radix: 16)), the policy requires \(required)"
        case .undecided(let why):
            return "\(what) on \(arch.libseccompName) under \(runtime.rawValue): unproven (\(why))"
        case .holds:
            return "\(what): holds"
        }
    }
}

/// The guarantee, judged on the filter each runtime will really build: every route of the policy
/// is denied for every argument value and instruction pointer, on every ABI the host runs
/// (x86_64, i386 by `int $0x80`, x32 by bit 30 of the number), under runc's and crun's reading.
public enum Guarantee {
    /// The ABIs a process on this host can call the kernel through.
    public static let abis: [SeccompArch] = SeccompArch.native == .x86_64 ? [.x86_64, .x86, .x32] : [.native]

    /// Every gap of `profile` against `routes`. A profile libseccomp refuses is one gap per runtime.
    public static func gaps(_ profile: LinuxSeccomp, routes: [Route],
                            readings: [RuntimeReading] = RuntimeReading.allCases) -> [Gap] {
        var out = [Gap]()
        // Readings that add the same rules build the same filter (RuntimeReading.readAlike): it is
        // compiled and proved once, and its gaps are said for each reading.
        let alike = RuntimeReading.readAlike(profile)
        var first: [Gap]? = nil
        for reading in readings {
            if alike, let first {
                out += first.map { var g = $0; g.runtime = reading; return g }
                continue
            }
            var found: [Gap]
            do { found = gaps([try Compiler.compile(profile, as: reading)], routes: routes, runtime: reading) } catch {
                found = [Gap(route: nil, arch: .native, runtime: reading, result: .undecided("libseccomp refuses the profile: \(error.message)"))]
            }
            out += found
            first = found
        }
        return out
    }

    /// The gaps of a loaded filter chain (newest first or not: the kernel's answer is the strictest).
    public static func gaps(_ chain: [BPFProgram], routes: [Route], runtime: RuntimeReading) -> [Gap] {
        var out = [Gap]()
        let deny = FilterReturn(Compiler.actionValue(Builtin.eperm))
        let log = FilterReturn(Compiler.actionValue(RuleAction(.log)))
        // Calls newer than libseccomp only need not to run: a profile's own ERRNO(0) default is its business.
        let notRun = FilterReturn(Compiler.actionValue(RuleAction(.errno, errnoRet: 0)))
        for arch in abis {
            let (audit, narrow) = Syscalls.abi(arch)
            // Calls newer than libseccomp: no profile can name them, so the default must deny them.
            var newer = ProofResult.holds
            for numbers in Syscalls.newerThanLibseccompRanges(arch) where newer == .holds {
                newer = Prover.prove(chain, arch: audit, numbers: numbers, narrowArgs: narrow, atLeast: notRun)
            }
            if newer != .holds { out.append(Gap(route: nil, arch: arch, runtime: runtime, result: newer)) }
            for route in routes {
                guard let nr = Syscalls.number(route.syscall, arch: arch) else { continue }
                // Denied is the promise: ERRNO with an errno, or stricter (a KILL_PROCESS rule met by the
                // KILL_THREAD libseccomp gives architectures a profile leaves out still denies).
                // An observed route (SCMP_ACT_LOG) promises "logged or denied".
                let r = Prover.prove(chain, arch: audit, nr: UInt32(bitPattern: nr), conditions: route.conditions,
                                     narrowArgs: narrow, atLeast: route.floor.action == .log ? log : deny)
                if r != .holds { out.append(Gap(route: route, arch: arch, runtime: runtime, result: r)) }
            }
        }
        return out
    }
}
