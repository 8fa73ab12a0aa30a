import WardenCore
import Foundation
import Testing
@testable import WardenJSON
@testable import WardenPolicy
@testable import WardenHost
@testable import WardenVerify
@testable import WardenSeccomp
@testable import WardenSpec

func observePolicy(_ text: String) throws -> Policy {
    let doc = try JSONDocument(bytes: Array(text.utf8), name: "test-policy")
    return try Policy(node: doc.root, source: "test-policy", digest: "")
}

/// Observe mode and `"action": "log"` entries: what the policy's deny rules and the meet become.
@Suite("Observe mode: the policy")
struct ObservePolicyTests {
    func action(_ p: LinuxSeccomp, _ name: String) -> [String] {
        (p.syscalls ?? []).filter { $0.names.contains(name) }.map { $0.ruleAction.description }
    }

    @Test("observe: every deny rule logs, but clone3's ENOSYS (glibc falls back to clone)")
    func observeRules() throws {
        let p = try observePolicy(#"{"mode": "observe"}"#)
        #expect(p.mode == .observe && !p.mode.refuses && p.mode.writesProfiles)
        for rule in p.deny {
            if rule.names == ["clone3"] { #expect(rule.ruleAction == Builtin.enosys) } else { #expect(rule.action == .log, "\(rule.names)") }
        }
        #expect(p.deny.flatMap(\.routes).filter { $0.syscall == "keyctl" }.allSatisfy { $0.floor.action == .log })
    }

    @Test("a capability logged in an enforcing policy: its routes log, the others deny")
    func capabilityLog() throws {
        let p = try observePolicy(#"{"deny": ["builtin", {"capability": "keyrings", "action": "log"}, {"names": ["bpf"], "action": "log"}]}"#)
        let routes = p.deny.flatMap(\.routes)
        for name in ["keyctl", "add_key", "request_key", "bpf"] {
            #expect(routes.filter { $0.syscall == name }.allSatisfy { $0.action.action == .log }, "\(name)")
        }
        #expect(routes.filter { $0.syscall == "unshare" }.allSatisfy { $0.action == Builtin.eperm })
    }

    @Test("the meet: LOG where the container allowed, the container's own denial kept; the proof holds")
    func meet() throws {
        let p = try observePolicy(#"{"mode": "observe"}"#)
        let container = try loadProfile(#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],"syscalls":[{"names":["bpf"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#)
        let r = try Tighten.tighten(container, policy: p)
        #expect(action(r.profile, "keyctl") == ["SCMP_ACT_LOG"])
        #expect(action(r.profile, "unshare") == ["SCMP_ACT_LOG"])
        #expect(action(r.profile, "bpf") == ["SCMP_ACT_ERRNO(13)"])
        let routes = p.deny.flatMap(\.routes)
        #expect(Guarantee.gaps(r.profile, routes: routes).isEmpty)
        // The same profile falls short of the enforcing baseline: LOG is not a denial.
        let gaps = Guarantee.gaps(r.profile, routes: try Policy.builtin().deny.flatMap(\.routes))
        #expect(gaps.contains { $0.syscall == "keyctl" })
        #expect(gaps.first { $0.syscall == "keyctl" }?.description.contains("a denial") == true)
    }

    @Test("observe injects no allow-list: a container without a profile runs as before, routes logged")
    func inject() throws {
        let p = try observePolicy(#"{"mode": "observe"}"#)
        let config = OCIConfig(document: try JSONDocument(contentsOf: Repo.sample("no-seccomp") + "/config.json"))
        let e = try Evaluation.evaluate(config, policy: p)
        let profile = try #require(e.profile)
        #expect(e.verdict == .injected)
        #expect(action(profile, "keyctl") == ["SCMP_ACT_LOG"])
        #expect(action(profile, "socket") == ["SCMP_ACT_ALLOW"])
        #expect(Guarantee.gaps(profile, routes: p.deny.flatMap(\.routes)).isEmpty)
    }

    @Test("a LOG route that is allowed is a gap the proof names as needing a log")
    func logFloor() throws {
        let p = try observePolicy(#"{"mode": "observe"}"#)
        let open = try loadProfile(#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"]}"#)
        let gaps = Guarantee.gaps(open, routes: p.deny.flatMap(\.routes))
        let keyctl = try #require(gaps.first { $0.syscall == "keyctl" })
        #expect(keyctl.description.contains("a log or a denial"), "\(keyctl)")
    }
}

/// The kernel's seccomp records as this machine wrote them (Tests/Fixtures/kmsg-seccomp.txt).
@Suite("Observe mode: reading the kernel's records")
struct SeccompLogTests {
    var lines: [Substring] {
        readText(Repo.fixtures + "/kmsg-seccomp.txt").split(separator: "\n")
    }

    var records: [SeccompRecord] {
        lines.compactMap { if case .record(let r)? = SeccompLog.parse($0) { return r } else { return nil } }
    }

    @Test("every record of the capture parses, with its ABI and syscall name")
    func parse() throws {
        let r = records
        #expect(r.count == 8)
        let logged = r.filter(\.isLog).map { "\($0.abi?.libseccompName ?? "?") \($0.syscallName ?? "?")" }
        #expect(logged == ["x86_64 keyctl", "x86_64 unshare", "x86_64 io_uring_setup", "x86 keyctl", "x86 unshare", "x32 keyctl",
                           "x86 keyctl"])
        let first = try #require(r.first)
        #expect(first.pid == 10691 && first.comm == "probe" && first.exe == "/bin/probe" && first.serial == 30026)
        #expect(first.time == 1795982506.224)
        let kill = try #require(r.first { !$0.isLog })
        #expect(kill.code == 0 && kill.syscallName == "keyctl")
    }

    @Test("a callbacks-suppressed line is counted with its number")
    func suppressed() {
        let s = lines.compactMap { l -> Int? in if case .suppressed(let n, _)? = SeccompLog.parse(l) { return n } else { return nil } }
        #expect(s == [445])
    }

    @Test("lines that are not seccomp records are not read as ones", arguments: [
        "6,1,0,-;Linux version 6.18.44", "4,875,5944241837,-;kauditd_printk_skb: callbacks suppressed",
        "5,1,2,-;audit: type=1400 audit(1.2:3): apparmor=\"DENIED\"", "5,1,2,-;audit: type=1326 audit(x:3): pid=1",
        "5,1,2,-;audit: type=1326 audit(1.2:3): pid=1 arch=c000003e syscall=250",
        // A line a process wrote to /dev/kmsg: facility LOG_USER at least (PRI 13), never the kernel's.
        "13,1520,10752527329,-;audit: type=1326 audit(1795982517.896:30029): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=11094 comm=\"probe\" exe=\"/bin/probe\" sig=0 arch=40000003 syscall=288 compat=1 ip=0x4016b7 code=0x7ffc0000",
    ])
    func notRecords(line: String) { #expect(SeccompLog.parse(line[...]) == nil) }

    @Test("auditd's format: type=SECCOMP, hex-encoded comm, the enriched part after 0x1d")
    func auditd() throws {
        // The kmsg record of keyctl above as auditd writes it (no auditd here: the layout is auditd's
        // log format for the same message, with a comm that needed hex encoding).
        let line = "type=SECCOMP msg=audit(1795982506.224:30026): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=unconfined pid=10691 comm=6D792070726F6265 exe=\"/bin/probe\" sig=0 arch=c000003e syscall=250 compat=0 ip=0x43ae09 code=0x7ffc0000\u{1d}AUID=\"unset\" UID=\"root\" ARCH=x86_64 SYSCALL=keyctl"
        guard case .record(let r)? = SeccompLog.parse(line[...]) else { Issue.record("not parsed"); return }
        #expect(r.comm == "my probe" && r.code == 0x7ffc_0000 && r.syscallName == "keyctl" && r.pid == 10691)
    }

    @Test("summarize: grouped per container, a record read twice counts once, the window and kill records left out")
    func summarize() {
        // Boot time from the capture itself: record 30026 at 1795982506.224 s was 10740.856689 s after boot.
        let entries = lines.compactMap { SeccompLog.parse($0, bootTime: 1795982506.224 - 10740.856689) }
        let s = WouldDeny.summarize(entries, since: 1795980000, attribute: { pid, _ in
            pid == 10691 ? .container(ContainerLabel(id: "a", root: "/run/runc", annotations: [("io.kubernetes.cri.sandbox-namespace", "team-a")]))
                : .unattributed("the process exited")
        })
        #expect(s.groups.count == 2)
        let a = s.groups[0]
        guard case .container(let label) = a.attribution else { Issue.record("first group not a container"); return }
        #expect(label.namespace == "team-a" && label.pod == nil)
        #expect(a.rows.map(\.syscall) == ["io_uring_setup", "keyctl", "unshare"])
        // The dmesg line repeats record 30029: x86 keyctl counts once.
        #expect(s.groups[1].rows.map { "\($0.arch) \($0.syscall) \($0.count)" } == ["x32 keyctl 1", "x86 keyctl 1", "x86 unshare 1"])
        // The kill record and the suppressed line are older than the window.
        #expect(s.otherActions == 0 && s.suppressedLines == 0)
        #expect(s.oldest == 1795977819.764)
        // Without the boot time a suppressed line's time is unknown: counted, as it may be in the window.
        let untimed = WouldDeny.summarize(lines.compactMap { SeccompLog.parse($0) }, since: 1795980000, attribute: { _, _ in .unattributed("x") })
        #expect(untimed.suppressedLines == 1)
        let all = WouldDeny.summarize(entries, since: nil, attribute: { _, _ in .unattributed("x") })
        #expect(all.otherActions == 1 && all.suppressedMessages == 445 && all.suppressedLines == 1)
    }
}

/// `report` on the capture, and attribution of pids that are not (or no longer) the caller's.
@Suite("Observe mode: report")
struct ReportTests {
    @Test("report --log FILE: the capture's records, unattributed (their processes are gone), the suppressed line said")
    func fromFile() throws {
        let r = try warden(["report", "--log", Repo.fixtures + "/kmsg-seccomp.txt", "--json", "--root", "/nonexistent-observe-root"])
        #expect(r.status == 3, "an explicit root that does not exist is an error, as for verify: \(r.stderr)")
        let ok = try warden(["report", "--log", Repo.fixtures + "/kmsg-seccomp.txt", "--json"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(ok.stdout.utf8)) as? [String: Any])
        #expect(json["schema"] as? Int == 1)
        #expect((json["suppressed"] as? [String: Any])?["messages"] as? Int == 445)
        #expect(json["otherActions"] as? Int == 1)
        let groups = json["groups"] as? [[String: Any]] ?? []
        // Their processes are gone (or their pids are others' now, started after the records).
        #expect(!groups.isEmpty && groups.allSatisfy { $0["container"] is NSNull && $0["unattributed"] is String }, "\(ok.stdout)")
        let rows = groups.flatMap { ($0["syscalls"] as? [[String: Any]] ?? []).map { "\($0["arch"]!) \($0["syscall"]!) \($0["count"]!)" } }
        #expect(rows.sorted() == ["x32 keyctl 1", "x86 keyctl 1", "x86 unshare 1", "x86_64 io_uring_setup 1", "x86_64 keyctl 1", "x86_64 unshare 1"])
        #expect((json["notes"] as? [String] ?? []).contains { $0.contains("every count is a lower bound") })
        let table = try warden(["report", "--log", Repo.fixtures + "/kmsg-seccomp.txt"])
        #expect(table.stdout.contains("note: the kernel suppressed 445 audit messages (1 \"callbacks suppressed\" lines)"), "\(table.stdout)")
        let bad = try warden(["report", "--since", "3 weeks"])
        #expect(bad.status == 64, "\(bad.stderr)")
    }

    @Test("a pid is attributed only to the process that made the call")
    func attribution() {
        let a = Attributor(roots: [])
        // This process started after time 0: a record from then is another process's.
        #expect(a.attribute(pid: getpid(), at: 0) == .unattributed("pid \(getpid()) is another process now"))
        #expect(a.attribute(pid: getpid(), at: Date().timeIntervalSince1970) == .unattributed("not in a container under the runtime roots"))
        #expect(a.attribute(pid: Int32.max, at: 0) == .unattributed("the process exited"))
    }
}

/// apply under each mode: what is written, and when a refusal stops.
@Suite("Observe mode: apply")
struct ObserveApplyTests {
    func write(_ text: String, _ path: String) throws { try text.write(toFile: path, atomically: false, encoding: .utf8) }

    @Test("audit writes nothing; observe writes LOG rules; enforce denies", arguments: ["audit", "observe", "enforce"])
    func modes(mode: String) throws {
        let dir = try tempDir("observe-apply")
        defer { cleanup(dir) }
        try FileManager.default.createDirectory(atPath: dir + "/b", withIntermediateDirectories: true)
        let original = try Data(contentsOf: URL(fileURLWithPath: Repo.sample("weak-allow") + "/config.json"))
        try original.write(to: URL(fileURLWithPath: dir + "/b/config.json"))
        try write(#"{"mode": "\#(mode)"}"#, dir + "/policy.json")
        let r = try warden(["apply", "--policy", dir + "/policy.json", dir + "/b"])
        #expect(r.status == 0, "\(r.stderr)")
        let after = try Data(contentsOf: URL(fileURLWithPath: dir + "/b/config.json"))
        let text = String(decoding: after, as: UTF8.self)
        switch mode {
        case "audit":
            #expect(after == original)
            #expect(r.stdout.contains("audit mode: nothing written"))
        case "observe":
            #expect(text.contains("SCMP_ACT_LOG") && r.stdout.contains("tightened"))
        default:
            #expect(!text.contains("SCMP_ACT_LOG") && text.contains("SCMP_ACT_ERRNO"))
        }
    }

    @Test("a profile the policy refuses: enforce exits 1, observe and audit say so and write nothing", arguments: ["audit", "observe", "enforce"])
    func refusal(mode: String) throws {
        let dir = try tempDir("observe-refuse")
        defer { cleanup(dir) }
        try FileManager.default.createDirectory(atPath: dir + "/b", withIntermediateDirectories: true)
        let original = try Data(contentsOf: URL(fileURLWithPath: Repo.sample("notify") + "/config.json"))
        try original.write(to: URL(fileURLWithPath: dir + "/b/config.json"))
        try write(#"{"mode": "\#(mode)"}"#, dir + "/policy.json")
        let r = try warden(["apply", "--policy", dir + "/policy.json", dir + "/b"])
        #expect(r.status == (mode == "enforce" ? 1 : 0), "\(r.stdout) \(r.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/b/config.json")) == original)
    }

    @Test("the wrapper follows the mode: audit leaves config.json as it was, observe writes LOG rules; a refused profile runs", arguments: ["audit", "observe"])
    func wrapper(mode: String) throws {
        let dir = try tempDir("observe-wrapper")
        defer { cleanup(dir) }
        try write(#"{"mode": "\#(mode)", "auditLog": "\#(dir)/audit.log"}"#, dir + "/policy.json")
        try FileManager.default.createSymbolicLink(atPath: dir + "/seccomp-warden-runc", withDestinationPath: Repo.binary)
        for sample in ["weak-allow", "notify"] {
            try FileManager.default.createDirectory(atPath: dir + "/" + sample, withIntermediateDirectories: true)
            let original = try Data(contentsOf: URL(fileURLWithPath: Repo.sample(sample) + "/config.json"))
            try original.write(to: URL(fileURLWithPath: dir + "/\(sample)/config.json"))
            let env = ["SECCOMP_WARDEN_RUNTIME": "/bin/true", "SECCOMP_WARDEN_POLICY": dir + "/policy.json"]
            let r = try run(dir + "/seccomp-warden-runc", ["create", "--bundle", dir + "/" + sample, "observe-wrapper-\(mode)"], env: env)
            #expect(r.status == 0, "\(sample): \(r.stderr)")
            let after = try Data(contentsOf: URL(fileURLWithPath: dir + "/\(sample)/config.json"))
            if mode == "observe" && sample == "weak-allow" {
                #expect(String(decoding: after, as: UTF8.self).contains("SCMP_ACT_LOG"))
            } else {
                #expect(after == original, "\(sample) under \(mode)")
            }
        }
        #expect(readText(dir + "/audit.log").contains("\"decision\":\"audit-only\""))
    }

    @Test("precreate follows the mode: audit returns the config unchanged, observe with LOG rules", arguments: ["audit", "observe"])
    func precreate(mode: String) throws {
        let dir = try tempDir("observe-precreate")
        defer { cleanup(dir) }
        try write(#"{"mode": "\#(mode)", "auditLog": "\#(dir)/audit.log"}"#, dir + "/policy.json")
        let input = try Data(contentsOf: URL(fileURLWithPath: Repo.sample("weak-allow") + "/config.json"))
        let r = try warden(["hook", "precreate"], input: input, env: ["SECCOMP_WARDEN_POLICY": dir + "/policy.json"])
        #expect(r.status == 0, "\(r.stderr)")
        if mode == "audit" { #expect(Data(r.stdout.utf8) == input) } else { #expect(r.stdout.contains("SCMP_ACT_LOG")) }
    }
}

/// `policy check` and `policy diff`: what a policy author reads. Each row: the policy (or two), the
/// exit code, and a line that must be in the output (stdout or stderr).
@Suite("Policy authoring messages")
struct PolicyAuthoringTests {
    static let checks: [(policy: String, status: Int32, says: String)] = [
        // The user's index, not the one after "builtin" expanded into many rules.
        (#"{"deny": ["builtin", {"names": ["keyctl", "nosuchcall"], "action": "SCMP_ACT_ERRNO"}]}"#, 2,
         #"policy.json: deny[1].names[1]: unknown syscall "nosuchcall""#),
        (#"{"deny": ["builtin", {"names": ["keyctl"], "action": "SCMP_ACT_KILL"}]}"#, 2,
         "policy.json: deny[1]: contradictory rules: keyctl is denied with SCMP_ACT_ERRNO(1) and with SCMP_ACT_KILL"),
        (#"{"deny": ["builtin", {"names": ["nosuchcall"], "action": "log"}]}"#, 2, #"policy.json: deny[1].names[0]: unknown syscall"#),
        (#"{"deny": ["builtin", "missing.json"]}"#, 2, "policy.json: deny[1]: the file it names, "),
        (#"{"inject": "missing.json"}"#, 2, "policy.json: inject: the file it names, "),
        (#"{"deny": [{"capability": "keyrings", "action": "deny"}]}"#, 2, #"policy.json: deny[0].action: a capability entry's action must be "log""#),
        (#"{"deny": [{"capability": "nosuch"}]}"#, 2, #"policy.json: deny[0].capability: unknown capability "nosuch""#),
        (#"{"deny": [{"names": ["keyctl"], "action": "SCMP_ACT_ALLOW"}]}"#, 2, #"or "log" to log it, not SCMP_ACT_ALLOW"#),
        (#"{"mode": "watch"}"#, 2, "policy.json: mode:"),
        // Warnings: a policy that leaves out the baseline, logs, or observes.
        (#"{"deny": ["capability:keyrings"]}"#, 0, "warning: deny leaves out the built-in baseline's namespaces, modules,"),
        (#"{"deny": ["builtin", "capability:keyrings"]}"#, 0, "denied: namespaces, modules, keyrings"),
        (#"{"deny": ["builtin", {"capability": "keyrings", "action": "log"}]}"#, 0, #"warning: logged, not denied ("action": "log"): keyrings"#),
        (#"{"mode": "observe"}"#, 0, "mode observe: the baseline's routes logged, not denied; nothing stopped"),
        (#"{"mode": "audit"}"#, 0, "warning: mode audit: no container's profile is changed and none is refused"),
        (#"{}"#, 0, "exemptions: none"),
    ]

    @Test("policy check", arguments: checks.indices)
    func check(row: Int) throws {
        let (text, status, says) = Self.checks[row]
        let dir = try tempDir("observe-check")
        defer { cleanup(dir) }
        try text.write(toFile: dir + "/policy.json", atomically: false, encoding: .utf8)
        let r = try run(Repo.binary, ["policy", "check", "policy.json"], cwd: dir)
        #expect(r.status == status, "\(text): \(r.stdout) \(r.stderr)")
        #expect((r.stdout + r.stderr).contains(says), "\(text): \(r.stdout) \(r.stderr)")
        if status == 2 { #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r.stderr)") }
    }

    static let diffs: [(old: String, new: String, status: Int32, says: [String])] = [
        (#"{}"#, #"{"deny": ["builtin"]}"#, 0, ["the same routes, mode and exemptions"]),
        (#"{}"#, #"{"mode": "observe"}"#, 1, ["mode: enforce -> observe", "~ keyctl: SCMP_ACT_ERRNO(1) -> SCMP_ACT_LOG"]),
        (#"{}"#, #"{"deny": ["builtin", {"capability": "keyrings", "action": "log"}]}"#, 1, ["~ add_key: SCMP_ACT_ERRNO(1) -> SCMP_ACT_LOG"]),
        (#"{"deny": ["builtin"]}"#, #"{"deny": ["capability:keyrings", {"names": ["chroot"], "action": "SCMP_ACT_ERRNO"}]}"#, 1,
         ["- unshare => SCMP_ACT_ERRNO(1) (no longer in deny)", "+ chroot => SCMP_ACT_ERRNO(1)"]),
        (#"{}"#, #"{"trustedEngine": "containerd-cri", "exemptions": [{"namespace": "kube-system", "reason": "CNI"}]}"#, 1,
         ["trustedEngine: none -> containerd-cri", "+ exemptions[0]: namespace kube-system: CNI"]),
    ]

    @Test("policy diff", arguments: diffs.indices)
    func diff(row: Int) throws {
        let (old, new, status, says) = Self.diffs[row]
        let dir = try tempDir("observe-diff")
        defer { cleanup(dir) }
        try old.write(toFile: dir + "/old.json", atomically: false, encoding: .utf8)
        try new.write(toFile: dir + "/new.json", atomically: false, encoding: .utf8)
        let r = try run(Repo.binary, ["policy", "diff", "old.json", "new.json"], cwd: dir)
        #expect(r.status == status, "\(r.stdout) \(r.stderr)")
        for line in says { #expect(r.stdout.contains(line), "\(line): \(r.stdout)") }
    }
}
