import WardenCore
import Foundation
import Testing
@testable import WardenPolicy
@testable import WardenSeccomp
@testable import WardenSpec
import WardenJSON

/// Random profiles with argument rules for the exact-meet property: every operator, masks, values
/// past 32 bits, several rules per syscall, every action.
enum MeetProfiles {
    static let names = ["read", "write", "openat", "keyctl", "clone", "personality", "socket", "kill", "mount",
                        "unshare", "ptrace", "bpf", "ioctl", "fcntl", "mmap", "prctl"]
    static let small: [UInt64] = [0, 1, 2, 3, 8, 9, 40, 0x20000, 0x1000_0000, 0x7E02_0000, 0xffff_ffff, 0x8000_0000]
    static let wide: [UInt64] = [0x1_0000_0000, 0x1_0000_0005, 0xffff_ffff_0000_0000, 0x8000_0000_0000_0000, .max]
    static let actions: [SeccompAction] = [.allow, .log, .trace, .errno, .trap, .kill, .killThread, .killProcess]

    static func action(_ g: inout SplitMix) -> (SeccompAction, UInt32?) {
        let a = actions.randomElement(using: &g)!
        return (a, a.takesErrnoRet && Bool.random(using: &g) ? [0, 1, 38, 13].randomElement(using: &g)! : nil)
    }

    static func value(_ g: inout SplitMix, wide: Bool) -> UInt64 {
        wide && Int.random(in: 0..<4, using: &g) == 0 ? Self.wide.randomElement(using: &g)! : small.randomElement(using: &g)!
    }

    static func args(_ g: inout SplitMix, wide: Bool) -> [LinuxSeccompArg]? {
        if Int.random(in: 0..<3, using: &g) == 0 { return nil }
        var out = [LinuxSeccompArg]()
        var used = Set<UInt32>()
        for _ in 0..<Int.random(in: 1...3, using: &g) {
            let index = UInt32.random(in: 0...2, using: &g)
            guard used.insert(index).inserted else { continue }
            let op = SeccompOperator.allCases.randomElement(using: &g)!
            let v = value(&g, wide: wide)
            let two = op == .maskedEqual ? value(&g, wide: wide) & (Bool.random(using: &g) ? v : .max) : nil
            out.append(LinuxSeccompArg(index: index, value: v, valueTwo: two, op: op))
        }
        return out
    }

    /// A profile; `wide` lets values past 32 bits in. Rules of different actions with several
    /// conditions that may overlap are cut to one condition: libseccomp 2.5.4 can hang adding such
    /// rules (runc would hang with it), and the meet never writes them.
    static func profile(_ g: inout SplitMix, deny: Bool = false, wide: Bool) -> LinuxSeccomp {
        let (da, de): (SeccompAction, UInt32?) = deny ? (.allow, nil) : action(&g)
        var rules = [LinuxSyscall]()
        for _ in 0..<Int.random(in: 0...10, using: &g) {
            var (a, e) = action(&g)
            if deny && a.strictness < SeccompAction.errno.strictness { (a, e) = (.errno, 1) }
            let picked = Array(names.shuffled(using: &g).prefix(Int.random(in: 1...3, using: &g)))
            var rule = LinuxSyscall(names: picked, action: a, errnoRet: e, args: args(&g, wide: wide))
            let mine = Region(rule.args ?? [])
            for other in rules where (other.args?.count ?? 0) > 1 || (rule.args?.count ?? 0) > 1 {
                guard !Set(other.names).isDisjoint(with: picked), other.ruleAction != rule.ruleAction else { continue }
                if let mine, let theirs = Region(other.args ?? []), mine.intersects(theirs) {
                    rule.args = rule.args.map { Array($0.prefix(1)) }
                    break
                }
            }
            rules.append(rule)
        }
        let arches: [SeccompArch]? = [nil, [.x86_64], [.x86_64, .x86], [.x86_64, .x86, .x32]].randomElement(using: &g)!
        // Entries in the order libseccomp 2.5.4 can add them (see ExactMeet.addOrder): in the other
        // order it hangs, as runc would with the same profile.
        let order = ExactMeet.addOrder(rules.map { Decision.Rule(args: $0.args ?? [], action: $0.ruleAction) })
        var sorted = [LinuxSyscall]()
        for r in order { if let i = rules.firstIndex(where: { ($0.args ?? []) == r.args && $0.ruleAction == r.action }) { sorted.append(rules.remove(at: i)) } }
        return LinuxSeccomp(defaultAction: da, defaultErrnoRet: de, architectures: arches, syscalls: sorted + rules)
    }
}

/// What the kernel would return, in the README's order: the stricter action; on a tie the
/// container's, but an errno over ERRNO(0).
func expectedMeet(_ a: FilterReturn, _ b: FilterReturn) -> FilterReturn {
    if b.isStricter(than: a) { return b }
    if a.isStricter(than: b) { return a }
    if a.actionBits == 0x0005_0000 && a.data == 0 && b.data != 0 { return b }
    return a
}

/// Argument vectors for one syscall: built from the values both sides compare against (each value,
/// its neighbours, its mask's extremes), single and combined over args 0-2, plus random ones.
func meetPoints(_ conditions: [LinuxSeccompArg], _ g: inout SplitMix) -> [[UInt64]] {
    var values: Set<UInt64> = [0, 1, 0xffff_ffff, 0x1_0000_0000, .max]
    for c in conditions {
        values.formUnion([c.value, c.value &+ 1, c.value &- 1])
        if c.op == .maskedEqual {
            let b = (c.valueTwo ?? 0) & c.value
            values.formUnion([b, b | ~c.value, b ^ (c.value & (~c.value &+ 1)), b | (c.value & 0xffff_ffff_0000_0000)])
        }
    }
    let list = Array(values).sorted()
    var out: [[UInt64]] = [[0, 0, 0, 0, 0, 0]]
    for i in 0..<3 {
        for v in list { var a: [UInt64] = [0, 0, 0, 0, 0, 0]; a[i] = v; out.append(a) }
    }
    for _ in 0..<48 {
        out.append((0..<6).map { i in i < 3 ? list.randomElement(using: &g)! : 0 })
    }
    return out
}

struct MeetTally: CustomStringConvertible {
    var profiles = 0, points = 0, weaker = 0, stricter = 0, declared = 0, declaredNames = 0
    var examples = [String]()
    var description: String {
        "\(profiles) profiles, \(points) points: \(weaker) weaker, \(stricter) stricter, \(declared) stricter where the output says so (\(declaredNames) syscalls)"
    }

    /// Compares the output's filter with the exact meet of the two inputs' filters at every point, on
    /// every ABI, under both runtimes' readings.
    mutating func judge(container: LinuxSeccomp, baseline: LinuxSeccomp, result: TightenResult, label: String, seed: UInt64,
                        names: [String] = MeetProfiles.names) throws {
        var g = SplitMix(state: seed)
        // Said departures: where the meet cannot be written exactly, and where the proof found the
        // baseline's route open on an ABI that reads only the low 32 bits (x32 passes all 64) and
        // denied the syscall outright.
        let declaredSet = Set(result.changes.compactMap { c -> String? in
            switch c {
            case .overApproximated(let n, _), .routeClosed(let n, _): n
            default: nil
            }
        })
        declaredNames += declaredSet.count
        profiles += 1
        // The baseline holds on every ABI (its rules are names, resolved per architecture).
        var baseline = baseline
        baseline.architectures = [.x86_64, .x86, .x32]
        for reading in RuntimeReading.allCases {
            guard let bpfA = try? Compiler.compile(container, as: reading), let bpfB = try? Compiler.compile(baseline, as: reading) else { continue }
            let bpfOut = try Compiler.compile(result.profile, as: reading)
            for name in names {
                let conds = ExactMeet.rawRules(container, name: name).flatMap(\.conditions)
                    + ExactMeet.rawRules(baseline, name: name).flatMap(\.conditions)
                let pts = meetPoints(conds, &g)
                for abi in [SeccompArch.x86_64, .x86, .x32] {
                    guard let nr = Syscalls.number(name, arch: abi) else { continue }
                    let (audit, narrow) = Syscalls.abi(abi)
                    for p in pts {
                        let args = narrow ? p.map { $0 & 0xffff_ffff } : p
                        let d = SeccompData(nr: nr, arch: audit, args: args)
                        let a = try bpfA.run(d), b = try bpfB.run(d), o = try bpfOut.run(d)
                        // An ABI the container's profile leaves out is killed whole, as libseccomp kills
                        // architectures it was not given; the output leaves it out too.
                        let left = !Compiler.architectures(of: container).contains(abi)
                        let want = left ? a : expectedMeet(a, b)
                        points += 1
                        if o.raw == want.raw { continue }
                        let line = "\(label) \(reading.name) \(name)/\(abi.rawValue) \(args.prefix(3).map { String($0, radix: 16) }): container \(a) baseline \(b) out \(o) want \(want)"
                        if want.isStricter(than: o) || (o.actionBits == want.actionBits && o.data == 0 && want.data != 0 && o.actionBits == 0x0005_0000) {
                            weaker += 1
                            if weaker <= 6 { examples.insert("WEAKER " + line, at: 0) }
                        } else if declaredSet.contains(name) {
                            declared += 1
                        } else {
                            stricter += 1
                            if examples.count < 6 { examples.append("STRICTER " + line) }
                        }
                    }
                }
            }
        }
    }
}

@Suite("Exact meet: never weaker, never stricter")
struct ExactMeetTests {
    /// 560 random pairs (container's profile, site baseline), compiled with libseccomp and emulated.
    @Test("random profiles: 0 points weaker and 0 stricter than the exact meet", arguments: 0..<8)
    func randomProfiles(batch: Int) throws {
        var policy = try builtinPolicy()
        policy.architectures = nil
        var tally = MeetTally()
        var refused = [String]()
        for seed in 0..<70 {
            let s = UInt64(batch * 1000 + seed)
            var g = SplitMix(state: s)
            // A third of the pairs let values past 32 bits in.
            let wide = seed % 3 == 0
            let container = MeetProfiles.profile(&g, wide: wide)
            policy.deny = MeetProfiles.profile(&g, deny: true, wide: wide).syscalls ?? []
            let result: TightenResult
            if let only = ProcessInfo.processInfo.environment["MEET_SEED"], UInt64(only) != s { continue }
            if ProcessInfo.processInfo.environment["MEET_DUMP"] != nil {
                for e in container.syscalls ?? [] { print("IN \(e.names) \(e.ruleAction) \(e.args.map { ExactMeet.describe(Region($0) ?? .all) } ?? "-")") }
                print("IN default \(container.defaultRule) \(container.architectures ?? [])")
                let m = Tighten.meet(Tighten.readAlike(container).0, policy.denyProfile, policy: policy, checkOutput: false)
                print("default \(m.profile.defaultRule)")
                do { try Compiler.check(m.profile) } catch { print("CHECK \(error)") }
                if let t = try? Tighten.tighten(container, policy: policy) {
                    for c in t.changes { print("CHANGE \(c)") }
                    for e in t.profile.syscalls ?? [] where e.names.contains(ProcessInfo.processInfo.environment["MEET_NAME"] ?? "read") {
                        print("OUT \(e.names) \(e.ruleAction) \(e.args.map { ExactMeet.describe(Region($0) ?? .all) } ?? "-")")
                    }
                }
                for e in m.profile.syscalls ?? [] where !(e.args ?? []).isEmpty {
                    print("\(e.names) \(e.ruleAction) \(ExactMeet.describe(Region(e.args!) ?? .all))")
                }
            }
            let t0 = Date()
            if let only = ProcessInfo.processInfo.environment["MEET_SEED"], UInt64(only) != s { continue }
            defer { if ProcessInfo.processInfo.environment["MEET_TRACE"] != nil { print("seed \(s) \(Date().timeIntervalSince(t0))") } }
            do { result = try Tighten.tighten(container, policy: policy) } catch {
                refused.append("seed \(s): \(error)")
                continue
            }
            if ProcessInfo.processInfo.environment["MEET_TRACE"] != nil { print("seed \(s) tightened after \(Date().timeIntervalSince(t0))") }
            // Inputs libseccomp refuses (a runtime would refuse them too) are not pairs to judge.
            guard (try? Compiler.compile(container)) != nil else { continue }
            try tally.judge(container: container, baseline: policy.denyProfile, result: result, label: "seed \(s)", seed: s)
        }
        print("exact meet, batch \(batch): \(tally)")
        #expect(tally.profiles >= 60, "\(refused.prefix(3))")
        #expect(tally.weaker == 0 && tally.stricter == 0, "\(tally)\n\(tally.examples.joined(separator: "\n"))")
    }

    @Test("the fixtures' real profiles against the built-in baseline: exact", arguments: ["docker-default.json", "podman-default.json"], [false, true])
    func realProfiles(file: String, sysAdmin: Bool) throws {
        let caps = ConversionContext.dockerDefaultCapabilities + (sysAdmin ? ["CAP_SYS_ADMIN"] : [])
        let text = try String(contentsOfFile: Repo.fixtures + "/" + file, encoding: .utf8)
        let doc = try JSONDocument(bytes: Array(text.utf8), name: file)
        let container = try loadProfile(node: doc.root, context: ConversionContext(capabilities: caps, arch: .x86_64, kernel: KernelVersion(6, 1)))
        let policy = try builtinPolicy()
        let result = try Tighten.tighten(container, policy: policy)
        var tally = MeetTally()
        for c in result.changes { if case .overApproximated = c { print("DEPARTURE \(c)") } }
        let names = Set((container.syscalls ?? []).flatMap(\.names) + (policy.denyProfile.syscalls ?? []).flatMap(\.names))
        try tally.judge(container: container, baseline: policy.denyProfile, result: result, label: file, seed: 7, names: names.sorted())
        print("exact meet, \(file) sysAdmin=\(sysAdmin): \(tally)")
        #expect(tally.points > 1000)
        #expect(tally.weaker == 0 && tally.stricter == 0 && tally.declared == 0, "\(tally)\n\(tally.examples.joined(separator: "\n"))")
        #expect(!result.changes.contains { if case .routeClosed = $0 { true } else { false } }, "the proof passes without closing routes: \(result.changes)")
    }

    /// The issue's cases, written as one rule each where one rule says it.
    @Test("Docker's clone rule without CLONE_NEWUSER in its mask: one rule, the mask grows")
    func cloneMask() throws {
        let mask: UInt64 = 0x7E02_0000 & ~0x1000_0000  // Docker's namespace mask minus CLONE_NEWUSER
        let container = LinuxSeccomp(defaultAction: .errno, defaultErrnoRet: 1, architectures: [.x86_64, .x86, .x32], syscalls: [
            LinuxSyscall(names: ["clone"], action: .allow, args: [LinuxSeccompArg(index: 0, value: mask, valueTwo: 0, op: .maskedEqual)]),
        ])
        let r = try Tighten.tighten(container, policy: try builtinPolicy())
        let clone = r.profile.syscalls!.filter { $0.names.contains("clone") }
        #expect(clone.count == 1, "\(clone)")
        #expect(clone.first?.args == [LinuxSeccompArg(index: 0, value: mask | 0x1000_0000, valueTwo: 0, op: .maskedEqual)], "\(clone)")
        #expect(!r.changes.contains { if case .overApproximated = $0 { true } else { false } })
    }

    @Test("a container that kills clone only for some arguments can still fork")
    func partialKill() throws {
        let container = LinuxSeccomp(defaultAction: .allow, architectures: [.x86_64], syscalls: [
            LinuxSyscall(names: ["clone"], action: .kill, args: [LinuxSeccompArg(index: 1, value: 16101, op: .lessOrEqual),
                                                                  LinuxSeccompArg(index: 2, value: 1, op: .lessOrEqual)]),
        ])
        let policy = try builtinPolicy()
        let r = try Tighten.tighten(container, policy: policy)
        let out = try Compiler.compile(r.profile)
        let nr = Syscalls.number("clone", arch: .x86_64)!
        let audit = Syscalls.abi(.x86_64).auditArch
        // fork() through clone: SIGCHLD flags and a stack pointer: allowed as before.
        #expect(try out.run(SeccompData(nr: nr, arch: audit, args: [0x11, 0x7fff_0000_0000, 5, 0, 0, 0])).actionBits == 0x7fff_0000)
        // Inside the container's kill region: still killed.
        #expect(try out.run(SeccompData(nr: nr, arch: audit, args: [0x11, 0, 0, 0, 0, 0])).actionBits == 0)
        // A namespace flag outside it: denied with EPERM by the baseline.
        #expect(try out.run(SeccompData(nr: nr, arch: audit, args: [0x1000_0000, 0x7fff_0000_0000, 5, 0, 0, 0])) == FilterReturn(0x0005_0001))
        var tally = MeetTally()
        for c in r.changes { if case .overApproximated = c { print("DEPARTURE \(c)") }; if case .routeClosed = c { print("CLOSED \(c)") } }
        try tally.judge(container: container, baseline: policy.denyProfile, result: r, label: "partial kill", seed: 3)
        #expect(tally.weaker == 0 && tally.stricter == 0 && tally.declared == 0, "\(tally) \(tally.examples)")
    }

    @Test("values past 32 bits on a profile with x86: stricter, and said so with the region")
    func wideValuesSaid() throws {
        let container = LinuxSeccomp(defaultAction: .allow, architectures: [.x86_64, .x86], syscalls: [
            LinuxSyscall(names: ["clone"], action: .trap, args: [LinuxSeccompArg(index: 0, value: 0x1_0000_0000, op: .greaterOrEqual)]),
        ])
        let r = try Tighten.tighten(container, policy: try builtinPolicy())
        let said = r.changes.compactMap { c -> String? in if case .overApproximated(let n, let d) = c { "\(n): \(d)" } else { nil } }
        #expect(said.contains { $0.hasPrefix("clone: all arguments") && $0.contains("32 bits") }, "\(r.changes)")
    }

    @Test("ValueSet: intersections, complements and intervals are exact", arguments: 0..<4)
    func valueSets(batch: Int) {
        var g = SplitMix(state: UInt64(77 + batch))
        let probes: [UInt64] = [0, 1, 2, 5, 6, 7, 8, 9, 10, 0xff, 0x100, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0005, .max - 1, .max]
        func random() -> ValueSet {
            let v = MeetProfiles.value(&g, wide: true)
            switch Int.random(in: 0..<7, using: &g) {
            case 0: return .equal(v)
            case 1: return .notEqual(v)
            case 2: return v == 0 ? .any : .atLeast(v)
            case 3: return v == .max ? .any : .atMost(v)
            case 4: return .equal(v ^ (1 << UInt64.random(in: 0..<64, using: &g)))
            default: return ValueSet.masked(v | 1, MeetProfiles.value(&g, wide: true))
            }
        }
        for _ in 0..<400 {
            let a = random()
            let b = Int.random(in: 0..<3, using: &g) == 0 ? ValueSet.equal(a.least ^ (1 << UInt64.random(in: 0..<64, using: &g))) : random()
            let both = a.intersect(b), not = a.complement
            var near = [a.least, a.greatest, b.least, b.greatest]
            near += near.flatMap { [$0 &+ 1, $0 &- 1, $0 ^ 1, $0 ^ 0x10000, $0 ^ 0x1_0000_0000] }
            for x in probes + near {
                #expect(both.filter { $0.contains(x) }.count == (a.contains(x) && b.contains(x) ? 1 : 0), "\(a) ∧ \(b) at \(x): \(both)")
                #expect(not.filter { $0.contains(x) }.count == (a.contains(x) ? 0 : 1), "¬\(a) at \(x): \(not)")
                if let u = a.union(b) { #expect(u.contains(x) == (a.contains(x) || b.contains(x)), "\(a) ∪ \(b) = \(u) at \(x)") }
                if a.isSubset(of: b) { #expect(!a.contains(x) || b.contains(x), "\(a) ⊆ \(b) at \(x)") }
            }
            // Regions over two arguments: intersection and difference are exact and disjoint.
            let c = random(), d = random()
            let r1 = Region(sets: [a, c, .any, .any, .any, .any]), r2 = Region(sets: [b, .any, d, .any, .any, .any])
            let rBoth = r1.intersect(r2), minus = r1.subtracting(r2)
            for x in probes.prefix(8) + [a.least, b.least] {
                for y in [c.least, c.greatest, d.least, 0, 9, .max] {
                    let p: [UInt64] = [x, y, y, 0, 0, 0]
                    #expect(rBoth.filter { $0.contains(p) }.count == (r1.contains(p) && r2.contains(p) ? 1 : 0), "\(r1) ∧ \(r2) at \(p)")
                    #expect(minus.filter { $0.contains(p) }.count == (r1.contains(p) && !r2.contains(p) ? 1 : 0), "\(r1) ∖ \(r2) at \(p)")
                    if let u = r1.union(r2) { #expect(u.contains(p) == (r1.contains(p) || r2.contains(p))) }
                }
            }
        }
    }
}
