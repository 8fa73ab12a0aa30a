import WardenCore
import Foundation
import Testing
@testable import WardenJSON
@testable import WardenPolicy
@testable import WardenSpec
import WardenVerify

@Suite("Policy and tightening")
struct PolicyTests {
    func config(_ sample: String) throws -> OCIConfig {
        OCIConfig(document: try JSONDocument(contentsOf: Repo.sample(sample) + "/config.json"))
    }

    @Test("the built-in policy loads and denies the syscalls the README lists")
    func builtin() throws {
        let p = try Policy.builtin()
        let names = Set(p.deny.flatMap(\.names))
        for n in ["keyctl", "add_key", "request_key", "ptrace", "kexec_load", "kexec_file_load", "mount", "umount2", "unshare",
                  "setns", "bpf", "perf_event_open", "userfaultfd", "open_by_handle_at", "init_module", "finit_module",
                  "delete_module", "reboot", "swapon", "swapoff", "acct", "settimeofday", "clock_settime", "pivot_root", "clone"] {
            #expect(names.contains(n), "\(n)")
        }
        #expect(p.mode == .enforce)
        #expect(p.inject.defaultAction == .errno)
        // clone3 answered with ENOSYS so glibc falls back to clone.
        #expect(p.inject.syscalls?.contains { $0.names.contains("clone3") && $0.errnoRet == 38 } == true)
    }

    @Test("the built-in policy passes the checks a policy file gets (it skips them at start: they are the binary's constants)")
    func builtinValidates() throws {
        let text = Array(builtinPolicyJSON.utf8)
        let doc = try JSONDocument(bytes: text, name: "<built-in policy>")
        let checked = try Policy(node: doc.root, source: "built-in", digest: fnv1a(text), validating: true)
        let fast = try Policy.builtin()
        #expect(checked.json == fast.json)
        // Positive control: the same check refuses a deny rule libseccomp does not know.
        let bad = try JSONDocument(bytes: Array(#"{"deny": [{"names": ["no_such_call"], "action": "SCMP_ACT_ERRNO"}]}"#.utf8), name: "p")
        #expect(throws: WardenError.self) { try Policy(node: bad.root, source: "p", digest: "", validating: true) }
    }

    @Test("verdicts per sample", arguments: [
        ("no-seccomp", Verdict.injected), ("weak-allow", .tightened), ("arg-rules", .tightened),
        ("docker-default", .tightened), ("notify", .denied),
    ])
    func verdicts(sample: String, verdict: Verdict) throws {
        let e = try Evaluation.evaluate(try config(sample), policy: try Policy.builtin())
        #expect(e.verdict == verdict)
    }

    @Test("tightening is idempotent on every sample")
    func idempotent() throws {
        let policy = try Policy.builtin()
        for s in ["no-seccomp", "weak-allow", "arg-rules", "docker-default"] {
            let c = try config(s)
            let first = try Tighten.tighten(try c.seccomp(), policy: policy)
            let second = try Tighten.tighten(first.profile, policy: policy)
            #expect(second.changes.isEmpty, "\(s): \(second.changes)")
        }
    }

    @Test("Docker's clone rule already satisfies the namespace-flag deny rules: no change, exact")
    func dockerClone() throws {
        let e = try Evaluation.evaluate(try config("docker-default"), policy: try Policy.builtin())
        #expect(!e.changes.contains { if case .syscall(let n, _, _) = $0 { n == "clone" } else { false } })
        #expect(!e.changes.contains { if case .overApproximated = $0 { true } else { false } })
    }

    @Test("errno kept where the container denied; the baseline's where only it denies")
    func errnoChoice() throws {
        var policy = try Policy.builtin()
        policy.deny = [LinuxSyscall(names: ["clone3", "keyctl"], action: .errno, errnoRet: 1)]
        let c = try loadProfile("""
            {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
            """)
        let r = try Tighten.tighten(c, policy: policy)
        let d = Dictionary(uniqueKeysWithValues: r.profile.decisions().map { ($0.name, $0.decision) })
        #expect(d["clone3"]?.otherwise.data == 13)
        #expect(d["keyctl"]?.otherwise.data == 1)
    }

    @Test("forbidden flags are removed; absent/null/[] kept")
    func flags() throws {
        let policy = try Policy.builtin()
        let c = try loadProfile("""
            {"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"]}
            """)
        let r = try Tighten.tighten(c, policy: policy)
        #expect(r.profile.flags == .list([.log]))
        #expect(r.changes.contains(.flagRemoved(.specAllow)))
    }

    @Test("architectures outside the policy are removed")
    func arches() throws {
        let c = try loadProfile("""
            {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"]}
            """)
        let r = try Tighten.tighten(c, policy: try Policy.builtin())
        #expect(r.profile.architectures == [.x86_64])
    }

    @Test("a policy that refuses ALLOW-default profiles refuses them")
    func refuseAllow() throws {
        var policy = try Policy.builtin()
        policy.defaultAllow = .refuse
        #expect(throws: Refusal.self) { try Tighten.tighten(try self.config("weak-allow").seccomp(), policy: policy) }
    }

    @Test("an exemption by a trusted annotation is honoured and reported; the sample's annotation alone exempts nothing", .rootOwnedFiles)
    func exemptions() throws {
        let dir = try tempDir("policy")
        defer { cleanup(dir) }
        let p = dir + "/policy.json"
        try """
            {"trustedAnnotations": ["org.example.seccomp-warden/exempt"],
             "exemptions": [{"annotations": {"org.example.seccomp-warden/exempt": "debug*"}, "reason": "debug pods"}]}
            """.write(toFile: p, atomically: false, encoding: .utf8)
        chmod(p, 0o600)
        let policy = try Policy.load(file: p)
        let e = try Evaluation.evaluate(try config("exempt"), policy: policy)
        #expect(e.verdict == .exempt)
        #expect(e.reason?.contains("debug pods") == true)
        #expect(try Evaluation.evaluate(try config("no-seccomp"), policy: policy).verdict == .injected)
        #expect(try Evaluation.evaluate(try config("exempt"), policy: try Policy.builtin()).verdict == .injected)
    }

    @Test("policy show prints a policy that loads back to the same digest-independent content", .rootOwnedFiles)
    func showRoundTrip() throws {
        let r = try warden(["policy", "show"])
        #expect(r.status == 0)
        let dir = try tempDir("show")
        defer { cleanup(dir) }
        try r.stdout.write(toFile: dir + "/p.json", atomically: false, encoding: .utf8)
        chmod(dir + "/p.json", 0o600)
        let again = try warden(["policy", "show", "--policy", dir + "/p.json"])
        #expect(again.stdout == r.stdout)
    }

    @Test("check: exit 1 with findings that name the syscall; exit 0 after apply")
    func checkCommand() throws {
        let dir = try tempDir("check")
        defer { cleanup(dir) }
        try FileManager.default.copyItem(atPath: Repo.sample("weak-allow") + "/config.json", toPath: dir + "/config.json")
        var r = try warden(["check", dir])
        #expect(r.status == 1)
        #expect(r.stdout.contains("keyctl"))
        r = try warden(["check", "--json", dir])
        #expect(r.stdout.contains("\"compliant\": false"))
        #expect(try warden(["apply", dir]).status == 0)
        #expect(try warden(["check", dir]).status == 0)
    }

    @Test("a Docker-format deny set is converted for each container's own capabilities", .rootOwnedFiles)
    func dockerFormatDenySet() throws {
        let dir = try tempDir("denyset")
        defer { cleanup(dir) }
        // Deny chroot unless the container has CAP_SYS_CHROOT (Docker's own shape for such rules).
        try #"{"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}], "syscalls": [{"names": ["chroot"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "excludes": {"caps": ["CAP_SYS_CHROOT"]}}]}"#
            .write(toFile: dir + "/deny.json", atomically: false, encoding: .utf8)
        try "{\"deny\": [\"builtin\", \"\(dir)/deny.json\"]}".write(toFile: dir + "/policy.json", atomically: false, encoding: .utf8)
        chmod(dir + "/policy.json", 0o600)
        let policy = try Policy.load(file: dir + "/policy.json")
        #expect(policy.denySources.count == 1)
        func verdict(caps: [String]) throws -> [String] {
            let doc = try JSONDocument(contentsOf: Repo.sample("weak-allow") + "/config.json")
            let config = OCIConfig(document: doc)
            let process = doc.root["process"]!
            let capabilities = doc.object(at: process, key: "capabilities")
            doc.set(.array(caps.map { .string($0) }), at: capabilities, key: "bounding")
            return try Evaluation.evaluate(config, policy: policy).changes.map(\.description)
        }
        // With CAP_SYS_CHROOT the rule is excluded: chroot is not among the changes; without it, it is.
        #expect(!(try verdict(caps: ["CAP_CHOWN", "CAP_SYS_CHROOT"])).contains { $0.hasPrefix("chroot:") })
        #expect(try verdict(caps: ["CAP_CHOWN"]).contains { $0.hasPrefix("chroot:") })
        // The built-in deny rules still apply either way.
        #expect(try verdict(caps: ["CAP_SYS_CHROOT"]).contains { $0.hasPrefix("keyctl:") })
    }

    @Test("red team: a Docker-format deny set is converted for this machine's architecture, whatever config.json lists first", .rootOwnedFiles)
    func dockerFormatDenySetArchitecture() throws {
        let dir = try tempDir("denyset-arch")
        defer { cleanup(dir) }
        // ptrace denied on amd64 and its sub-architectures only (Docker's shape for arch-specific rules).
        try #"{"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}, {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}], "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "includes": {"arches": ["amd64", "x32", "x86"]}}]}"#
            .write(toFile: dir + "/deny.json", atomically: false, encoding: .utf8)
        try "{\"deny\": [\"\(dir)/deny.json\"]}".write(toFile: dir + "/policy.json", atomically: false, encoding: .utf8)
        chmod(dir + "/policy.json", 0o600)
        let policy = try Policy.load(file: dir + "/policy.json")
        // A profile that allows ptrace, listing aarch64 first: the kernel here still runs it as x86_64.
        for arches in [#""SCMP_ARCH_X86_64""#, #""SCMP_ARCH_AARCH64", "SCMP_ARCH_X86_64""#, #""SCMP_ARCH_AARCH64""#] {
            let first = arches
            let doc = try JSONDocument(bytes: Array(#"{"ociVersion": "1.0.2", "process": {"args": ["true"], "capabilities": {"bounding": []}}, "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "architectures": [\#(arches)], "syscalls": [{"names": ["keyctl", "bpf"], "action": "SCMP_ACT_ERRNO"}]}}}"#.utf8), name: "config.json")
            let changes = try Evaluation.evaluate(OCIConfig(document: doc), policy: policy).changes.map(\.description)
            #expect(changes.contains { $0.hasPrefix("ptrace:") }, "\(first) first: \(changes)")
            let judge = try ChainJudge(policy: policy, config: OCIConfig(document: doc))
            #expect(judge.routes.contains { $0.description.hasPrefix("ptrace") }, "\(first) first: \(judge.routes.map(\.description))")
        }
    }

    @Test("the built-in inject profile is the converted Docker default sample")
    func builtinInjectIsSample() throws {
        let sample = try loadProfile(try String(contentsOfFile: Repo.sample("docker-default") + "/seccomp.json", encoding: .utf8))
        #expect(try Policy.builtin().inject == sample)
    }
}
