import Testing
@testable import WardenPolicy
import WardenSpec

/// `Enforcement` against `EnforcementTable` (the stages' behaviour before they became its adapters,
/// pinned on the binary by WardenTests/EnforcementPinTests): every verdict × mode × stage.
@Suite("Enforcement table")
struct EnforcementTests {
    static let profile = LinuxSeccomp(defaultAction: .errno, architectures: nil, syscalls: [])
    /// Four changes, so the gate's "and 1 more" is reached.
    static let changes: [Change] = [.flagRemoved(.log), .architectureRemoved(.x86), .overApproximated(name: "clone", detail: "flags"),
                                    .defaultClosed(from: .allow)]

    static func evaluation(_ verdict: String) -> Evaluation {
        switch verdict {
        case "injected": Evaluation(verdict: .injected, profile: profile, changes: [.injected], reason: nil)
        case "tightened": Evaluation(verdict: .tightened, profile: profile, changes: changes, reason: nil)
        case "compliant": Evaluation(verdict: .compliant, profile: nil, changes: [], reason: nil)
        case "denied": Evaluation(verdict: .denied, profile: nil, changes: [], reason: "annotation x changes the filter")
        default: Evaluation(verdict: .exempt, profile: nil, changes: [], reason: "exempt by debugging")
        }
    }

    static func stage(_ name: String) -> Enforcement.Stage {
        name.hasPrefix("wrapper-") ? .wrapper(runtime: String(name.dropFirst("wrapper-".count))) : .init(hook: name)
    }

    static func row(_ r: Enforcement.Result) -> EnforcementTable.Row {
        EnforcementTable.Row(outcome: r.outcome.kind, decision: r.audit.decision.rawValue, changes: r.audit.changes,
                             reason: r.audit.reason, message: r.message, exit: r.exitCode)
    }

    static let cases: [(String, String, String)] = EnforcementTable.verdicts.flatMap { v in
        EnforcementTable.modes.flatMap { m in EnforcementTable.stages.map { (v, m, $0) } }
    }

    @Test("verdict × mode × stage: outcome, audit record, stderr line and exit code as the stages had them", arguments: cases)
    func table(verdict: String, mode: String, stage: String) throws {
        let m = try #require(Policy.Mode(rawValue: mode))
        let result: Enforcement.Result
        let e: Evaluation?
        if verdict == "error" {
            e = nil
            result = Enforcement.failure("config.json: linux.seccomp: not an object", exitCode: 2, mode: m, stage: Self.stage(stage))
        } else {
            e = Self.evaluation(verdict)
            result = Enforcement.decide(e!, mode: m, stage: Self.stage(stage), container: "c1")
        }
        let want = EnforcementTable.expected(verdict: verdict, mode: mode, stage: stage, id: "c1",
                                             reason: e?.reason ?? (verdict == "error" ? "config.json: linux.seccomp: not an object" : nil),
                                             changes: e?.changes.map(\.description) ?? [])
        #expect(Self.row(result) == want)
        // A rewrite carries the evaluation's profile, a refusal a reason.
        if case .rewrite(let r) = result.outcome { #expect(r.profile == Self.profile) }
        if case .refuse(let why) = result.outcome { #expect(!why.isEmpty) }
    }

    @Test("the table covers every outcome: each stage passes, refuses, and (writers) rewrites")
    func coverage() throws {
        var seen = Set<String>()
        for (v, m, s) in Self.cases where v != "error" {
            let r = Enforcement.decide(Self.evaluation(v), mode: Policy.Mode(rawValue: m)!, stage: Self.stage(s), container: "c1")
            seen.insert("\(s) \(r.outcome.kind)")
        }
        #expect(seen == ["precreate pass", "precreate rewrite", "precreate refuse", "createRuntime pass", "createRuntime refuse",
                         "wrapper-runc pass", "wrapper-runc rewrite", "wrapper-runc refuse"])
    }

    @Test("no policy: every stage refuses (fails closed)")
    func noPolicy() {
        for s in EnforcementTable.stages {
            let r = Enforcement.failure("cannot read the policy", exitCode: 78, mode: nil, stage: Self.stage(s))
            #expect(r.outcome == .refuse("cannot read the policy") && r.audit.decision == .denied, "\(s)")
            #expect(r.exitCode == (s.hasPrefix("wrapper-") ? 1 : 78), "\(s)")
        }
    }

    @Test("poststart: findings kill under enforce, are logged under audit and observe; none is compliant",
          arguments: Policy.Mode.allCases)
    func poststart(mode: Policy.Mode) {
        let clean = Enforcement.poststart(findings: [], checks: ["seccomp-mode: ok: 2"], container: "c1", mode: mode)
        #expect(clean == .init(outcome: .pass, audit: .init(.compliant, changes: ["seccomp-mode: ok: 2"]), message: nil, exitCode: 0))
        let found = Enforcement.poststart(findings: ["bpf: fail: ptrace allowed"], checks: [], container: "c1", mode: mode)
        if mode == .enforce {
            #expect(found.outcome == .refuse("container c1: bpf: fail: ptrace allowed"))
            #expect(found.audit == .init(.denied, changes: ["bpf: fail: ptrace allowed"], reason: "container c1: bpf: fail: ptrace allowed (process killed)"))
            #expect(found.message == "seccomp-warden: container c1: bpf: fail: ptrace allowed; the container's process was killed")
            #expect(found.exitCode == 1)
        } else {
            #expect(found == .init(outcome: .pass, audit: .init(.auditOnly, changes: ["bpf: fail: ptrace allowed"],
                                                               reason: "container c1: bpf: fail: ptrace allowed"),
                                   message: nil, exitCode: 0))
        }
    }
}
