import WardenCore
import Testing
@testable import WardenPolicy
@testable import WardenSeccomp
@testable import WardenSpec

// Shared by both test targets (Tests/WardenTests/RandomProfiles.swift is a link to this file): the
// soundness property test and the kernel agreement test draw their profiles from it.

/// A small deterministic PRNG (SplitMix64), so a failing seed can be replayed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum RandomProfiles {
    static let names = ["read", "write", "openat", "keyctl", "clone", "personality", "socket", "kill", "mount",
                        "unshare", "ptrace", "bpf", "getpid", "mkdirat", "setns", "reboot", "ioctl", "fcntl"]
    static let values: [UInt64] = [0, 1, 2, 8, 9, 40, 0x20000, 0x1000_0000, 0x7E02_0000, 0xffff_ffff]
    static let actions: [SeccompAction] = [.allow, .log, .trace, .errno, .trap, .kill, .killThread, .killProcess]

    static func action(_ g: inout SplitMix) -> (SeccompAction, UInt32?) {
        let a = actions.randomElement(using: &g)!
        return (a, a.takesErrnoRet && Bool.random(using: &g) ? [1, 38, 13].randomElement(using: &g)! : nil)
    }

    static func args(_ g: inout SplitMix) -> [LinuxSeccompArg]? {
        switch Int.random(in: 0..<4, using: &g) {
        case 0, 1: return nil
        default:
            var out = [LinuxSeccompArg]()
            var used = Set<UInt32>()
            // One comparison per rule: libseccomp 2.5.4 hangs in seccomp_rule_add on some overlapping
            // multi-argument rules with different actions (see README, Known limits), as runc would.
            for _ in 0..<1 {
                let index = UInt32.random(in: 0...2, using: &g)
                if !used.insert(index).inserted { continue }
                let op = SeccompOperator.allCases.randomElement(using: &g)!
                let v = values.randomElement(using: &g)!
                // Masked values sometimes carry bits outside their mask: libseccomp ignores those bits.
                let two = op == .maskedEqual ? (Bool.random(using: &g) ? v & values.randomElement(using: &g)! : values.randomElement(using: &g)!) : nil
                out.append(LinuxSeccompArg(index: index, value: v, valueTwo: two, op: op))
            }
            return out
        }
    }

    static func profile(_ g: inout SplitMix, deny: Bool = false) -> LinuxSeccomp {
        let (da, de): (SeccompAction, UInt32?) = deny ? (.allow, nil) : action(&g)
        var rules = [LinuxSyscall]()
        for _ in 0..<Int.random(in: 0...8, using: &g) {
            var (a, e) = action(&g)
            if deny && a.strictness < SeccompAction.errno.strictness { (a, e) = (.errno, 1) }
            let picked = Array(names.shuffled(using: &g).prefix(Int.random(in: 1...3, using: &g)))
            rules.append(LinuxSyscall(names: picked, action: a, errnoRet: e, args: args(&g)))
        }
        let arches: [SeccompArch]? = [nil, [.x86_64], [.x86_64, .x86], [.x86_64, .x86, .x32]].randomElement(using: &g)!
        return LinuxSeccomp(defaultAction: da, defaultErrnoRet: de, architectures: arches, syscalls: rules)
    }
}

/// Argument vectors to try for one syscall: zeros, then every interesting value in each of the first three args.
func sampleArgs() -> [[UInt64]] {
    var out: [[UInt64]] = [[0, 0, 0, 0, 0, 0]]
    for i in 0..<3 {
        for v in RandomProfiles.values + [3, 0x7E02_0000 | 0x1000_0000, 0x2_0011] {
            var a: [UInt64] = [0, 0, 0, 0, 0, 0]
            a[i] = v
            out.append(a)
        }
    }
    return out
}
