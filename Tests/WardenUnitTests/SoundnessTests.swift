import WardenCore
import Testing
@testable import WardenPolicy
@testable import WardenSeccomp
@testable import WardenSpec

@Suite("Soundness of tightening, by BPF emulation")
struct SoundnessTests {

    @Test("random (container, baseline) pairs: output never weaker than either, exact unless reported", arguments: 0..<8)
    func randomPairs(batch: Int) throws {
        let x86_64 = Syscalls.token(.x86_64)
        let syscalls = Syscalls.all(arch: .x86_64)
        let mentioned = Set(RandomProfiles.names.compactMap { Syscalls.number($0, arch: .x86_64) })
        let argSets = sampleArgs()
        var policy = try builtinPolicy()
        policy.architectures = nil
        var checkedPairs = 0, violations = [String](), refusals = [String](), uncompilable = [String](), notIdempotent = [String]()
        for seed in 0..<25 {
            var g = SplitMix(state: UInt64(batch * 1000 + seed))
            let hasProfile = seed % 5 != 0
            let container = RandomProfiles.profile(&g)
            policy.deny = RandomProfiles.profile(&g, deny: true).syscalls ?? []
            policy.inject = RandomProfiles.profile(&g)
            let inputA = hasProfile ? container : policy.inject
            // Inputs libseccomp refuses (runc would refuse them too) are not pairs to judge: counted.
            let bpfA = try? Compiler.compile(inputA), bpfB = try? Compiler.compile(policy.denyProfile)
            let result: TightenResult
            do { result = try Tighten.tighten(hasProfile ? container : nil, policy: policy) } catch {
                refusals.append("seed \(batch * 1000 + seed)\(bpfA == nil || bpfB == nil ? " (not compilable)" : ""): \(error)")
                continue
            }
            guard let bpfA, let bpfB else {
                uncompilable.append("seed \(batch * 1000 + seed)")
                continue
            }
            let bpfOut: BPFProgram
            do { bpfOut = try Compiler.compile(result.profile) } catch {
                violations.append("seed \(batch * 1000 + seed): output does not compile: \(error)")
                continue
            }
            checkedPairs += 1
            // Reported departures from the exact meet: rules that cannot be combined, and routes the proof
            // on the compiled filter found open (libseccomp's x32 and 32-bit halves) and closed outright.
            let inexact = Set(result.changes.compactMap { c -> String? in
                switch c {
                case .overApproximated(let n, _), .routeClosed(let n, _): n
                default: nil
                }
            })
            for (nr, name) in syscalls {
                for args in (mentioned.contains(nr) ? argSets : [argSets[0]]) {
                    let data = SeccompData(nr: nr, arch: x86_64, args: args)
                    let a = try bpfA.run(data), b = try bpfB.run(data), o = try bpfOut.run(data)
                    if violations.count > 20 { break }
                    if a.isStricter(than: o) || b.isStricter(than: o) {
                        violations.append("seed \(batch * 1000 + seed) \(name) \(args): container \(a) baseline \(b) out \(o)")
                    } else if !inexact.contains(name) {
                        let expected = b.isStricter(than: a) ? b : a
                        if expected.actionBits != o.actionBits {
                            violations.append("seed \(batch * 1000 + seed) \(name) \(args): not exact: container \(a) baseline \(b) out \(o)")
                        }
                    }
                }
            }
            // Idempotent: tightening the output changes nothing.
            if hasProfile {
                let again = try Tighten.tighten(result.profile, policy: policy)
                if !again.changes.isEmpty { notIdempotent.append("seed \(batch * 1000 + seed): \(again.changes)") }
            }
        }
        // Every pair is accounted for: judged, refused, or not loadable by libseccomp at all.
        #expect(checkedPairs + refusals.count + uncompilable.count == 25)
        #expect(checkedPairs >= 20, "refused: \(refusals); not compilable: \(uncompilable)")
        // Today no pair is refused (the generator writes neither SCMP_ACT_NOTIFY nor an allowing default
        // the policy refuses): a refusal now is a change to look at, not a pair to skip.
        #expect(refusals.isEmpty, "\(refusals)")
        #expect(violations.isEmpty, "\(violations.count) violations, first: \(violations.prefix(3).joined(separator: "\n"))")
        // Known: since the exact meet, re-tightening some random outputs with many argument rules
        // changes them again (a re-read side fails libseccomp's point check, or meets the rule
        // bound), always to something stricter and said. Docker's and podman's profiles are
        // idempotent (RouteTests: apply, then check passes).
        withKnownIssue("re-tightening a random output with many argument rules can change it again", isIntermittent: true) {
            #expect(notIdempotent.isEmpty, "\(notIdempotent.count) not idempotent, first: \(notIdempotent.prefix(2).joined(separator: "\n"))")
        }
    }
}
