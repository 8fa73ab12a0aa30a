import Foundation
import Testing

/// The hook entry: precreate on stdin/stdout, and the createRuntime gate registered in a real
/// runc/crun bundle.
@Suite("Hooks", .serialized)
struct HookTests {
    /// The built-in policy as a root-owned 0600 file, with the given mode.
    func policyFile(_ dir: String, mode: String = "enforce") throws -> String {
        let r = try warden(["policy", "show"])
        let path = dir + "/policy-\(mode).json"
        try r.stdout.replacingOccurrences(of: "\"mode\": \"enforce\"", with: "\"mode\": \"\(mode)\"")
            .write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o600)
        return path
    }

    @Test("precreate: no-seccomp config in, the same config with the baseline out; other keys untouched")
    func precreate() throws {
        let dir = try tempDir("hook")
        defer { cleanup(dir) }
        let input = try Data(contentsOf: URL(fileURLWithPath: Repo.sample("no-seccomp") + "/config.json"))
        let r = try warden(["hook", "precreate", "--policy", try policyFile(dir)], input: input,
                           env: ["SECCOMP_WARDEN_AUDIT_LOG": dir + "/audit.log"])
        #expect(r.status == 0, "\(r.stderr)")
        let out = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let linux = out["linux"] as! [String: Any]
        #expect((linux["seccomp"] as? [String: Any])?["defaultAction"] as? String == "SCMP_ACT_ERRNO")
        // Everything but linux.seccomp is the same, key order included.
        try r.stdout.write(toFile: dir + "/out.json", atomically: false, encoding: .utf8)
        let same = try sh("python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); o[\"linux\"].pop(\"seccomp\"); print(json.dumps(o)==json.dumps(json.load(open(sys.argv[2]))))' \(dir)/out.json \(Repo.sample("no-seccomp"))/config.json")
        #expect(same.stdout == "True\n", "\(same.stderr)")
        let log = readText(dir + "/audit.log")
        #expect(log.contains("\"decision\":\"injected\""), "\(log)")
    }

    @Test("precreate: bad input exits non-zero with one line, nothing on stdout")
    func precreateBad() throws {
        let dir = try tempDir("hookbad")
        defer { cleanup(dir) }
        let r = try warden(["hook", "precreate", "--policy", try policyFile(dir)], input: Data("{\"linux\": {\"seccomp\": 1}}".utf8),
                           env: ["SECCOMP_WARDEN_AUDIT_LOG": dir + "/audit.log"])
        #expect(r.status == 2)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.contains("linux.seccomp"), "\(r.stderr)")
    }

    /// The audit log's lines about container `id`.
    static func logLines(_ log: String, id: String) -> [Substring] {
        readText(log).split(separator: "\n").filter { $0.contains("\"id\":\"\(id)\"") }
    }

    func registerGate(_ bundle: String, policy: String, log: String) throws {
        let path = bundle + "/config.json"
        var cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        cfg["hooks"] = ["createRuntime": [["path": Repo.binary, "args": ["seccomp-warden", "hook", "createRuntime", "--policy", policy],
                                           "env": ["SECCOMP_WARDEN_AUDIT_LOG=\(log)"]]]]
        try JSONSerialization.data(withJSONObject: cfg, options: [.prettyPrinted]).write(to: URL(fileURLWithPath: path))
    }

    @Test("createRuntime gate: a weak profile is refused with the reason; after apply it runs; audit mode lets it run and logs",
          arguments: ["runc", "crun"])
    func gate(runtime: String) throws {
        let dir = try tempDir("gate-\(runtime)")
        defer { cleanup(dir) }
        let policy = try policyFile(dir), audit = try policyFile(dir, mode: "audit")
        let log = dir + "/audit.log"
        let id = "warden-gate-\(runtime)-\(UInt32.random(in: 0...UInt32.max))"
        let helpers = "source \(Repo.root)/Tests/support/runtime.sh\n"
        _ = try sh(helpers + "make_bundle \(Repo.sample("weak-allow"))/config.json \(dir)/b /bin/echo ran")
        try registerGate(dir + "/b", policy: policy, log: log)
        let refused = try sh(helpers + "run_in \(runtime) \(dir)/b \(id)a 2>&1")
        #expect(!refused.stdout.contains("ran\n"), "\(refused.stdout)")
        // Not "did not run" for any reason: the runtime failed, and because the gate denied this very container.
        #expect(refused.status != 0, "\(refused.stdout)")
        if runtime == "runc" { #expect(refused.stdout.contains("falls short of the policy"), "\(refused.stdout)") }
        #expect(Self.logLines(log, id: id + "a").contains { $0.contains("\"decision\":\"denied\"") }, "\(readText(log))")
        _ = try? sh("runc delete -f \(id)a; source \(Repo.root)/Tests/support/runtime.sh; crun_ns delete -f \(id)a")

        try registerGate(dir + "/b", policy: audit, log: log)
        let audited = try sh(helpers + "run_in \(runtime) \(dir)/b \(id)b 2>&1")
        #expect(audited.stdout.contains("ran"), "\(audited.stdout)")
        #expect(readText(log).contains("\"decision\":\"audit-only\""))

        #expect(try warden(["apply", dir + "/b", "--policy", policy]).status == 0)
        try registerGate(dir + "/b", policy: policy, log: log)
        let ok = try sh(helpers + "run_in \(runtime) \(dir)/b \(id)c 2>&1")
        #expect(ok.stdout.contains("ran"), "\(ok.stdout)")
        #expect(readText(log).contains("\"decision\":\"compliant\""))
        // Every line of the log is one JSON object.
        for line in readText(log).split(separator: "\n") {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "\(line)")
        }
    }
}

/// The wrapper with runc directly, and the gate under load.
@Suite("Wrapper and concurrency", .serialized)
struct WrapperTests {
    func wrapperLink(_ dir: String, _ runtime: String) throws -> String {
        let link = "\(dir)/seccomp-warden-\(runtime)"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: Repo.binary)
        return link
    }

    @Test("the wrapper tightens on run/create and passes state, kill and delete through untouched", arguments: ["runc", "crun"])
    func passThrough(runtime: String) throws {
        let dir = try tempDir("wrap-\(runtime)")
        defer { cleanup(dir) }
        let w = try wrapperLink(dir, runtime)
        let id = "warden-wrap-\(runtime)-\(UInt32.random(in: 0...UInt32.max))"
        let helpers = "source \(Repo.root)/Tests/support/runtime.sh\n"
        _ = try sh(helpers + "make_bundle \(Repo.sample("no-seccomp"))/config.json \(dir)/b /bin/sleep 30")
        // crun needs the cgroup2 namespace: the wrapper runs inside it, as the real crun would.
        let wrap = runtime == "crun"
            ? "unshare -m --propagation private sh -c 'umount -l /sys/fs/cgroup 2>/dev/null; mount -t cgroup2 none /sys/fs/cgroup && exec \"$0\" \"$@\"' \(w) --cgroup-manager=disabled"
            : w
        let r = try sh("""
            export SECCOMP_WARDEN_POLICY=builtin SECCOMP_WARDEN_AUDIT_LOG=\(dir)/audit.log
            \(wrap) --log \(dir)/runtime.log --log-format json create --bundle \(dir)/b \(id) </dev/null >/dev/null 2>&1 || echo create-failed
            \(wrap) state \(id) | grep -o '"status": "[a-z]*"'
            \(wrap) start \(id)
            sleep 0.3
            \(wrap) state \(id) | grep -o '"status": "[a-z]*"'
            \(wrap) kill \(id) KILL; sleep 0.5
            \(wrap) delete -f \(id) && echo deleted
            """)
        #expect(r.stdout.contains("\"status\": \"created\""), "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("\"status\": \"running\""), "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("deleted"), "\(r.stdout) \(r.stderr)")
        #expect(readText(dir + "/b/config.json").contains("\"seccomp\""))
        // Exactly one decision: the pass-through subcommands did no policy work.
        #expect(readText(dir + "/audit.log").split(separator: "\n").count == 1)
    }

    @Test("a refused bundle: the wrapper exits 1 before the runtime runs and writes the runtime's --log")
    func refusal() throws {
        let dir = try tempDir("wrap-refuse")
        defer { cleanup(dir) }
        let w = try wrapperLink(dir, "runc")
        _ = try sh("source \(Repo.root)/Tests/support/runtime.sh\nmake_bundle \(Repo.sample("notify"))/config.json \(dir)/b /bin/true")
        let before = readText(dir + "/b/config.json")
        let r = try sh("SECCOMP_WARDEN_POLICY=builtin SECCOMP_WARDEN_AUDIT_LOG=\(dir)/audit.log \(w) --root \(dir)/root --log \(dir)/runtime.log --log-format json run --bundle \(dir)/b warden-refused")
        #expect(r.status == 1)
        #expect(r.stderr.contains("NOTIFY"), "\(r.stderr)")
        #expect(readText(dir + "/runtime.log").contains("\"level\":\"error\""))
        #expect(readText(dir + "/b/config.json") == before)
        #expect(!FileManager.default.fileExists(atPath: dir + "/root/warden-refused"))
    }

    @Test("16 containers at once through the gate hook: every one decided, every audit line valid, none lost")
    func concurrency() throws {
        let dir = try tempDir("gate16")
        defer { cleanup(dir) }
        let n = 16
        let helpers = "source \(Repo.root)/Tests/support/runtime.sh\n"
        var script = helpers
        for i in 0..<n {
            let sample = i % 2 == 0 ? "docker-default" : "weak-allow"
            script += "make_bundle \(Repo.sample(sample))/config.json \(dir)/b\(i) /bin/true\n"
        }
        _ = try sh(script)
        // Even bundles are made compliant; odd ones stay weak and must be refused.
        for i in stride(from: 0, to: n, by: 2) { #expect(try warden(["apply", "\(dir)/b\(i)"]).status == 0) }
        for i in 0..<n {
            _ = try warden(["register", "--policy", "builtin", "--audit-log", dir + "/audit.log", "\(dir)/b\(i)"])
        }
        var runAll = helpers
        for i in 0..<n { runAll += "(run_in runc \(dir)/b\(i) warden-c16-\(i) >/dev/null 2>&1; echo \"\(i) $?\" >> \(dir)/results) &\n" }
        runAll += "wait\n"
        _ = try sh(runAll)
        let results = readText(dir + "/results").split(separator: "\n")
        #expect(results.count == n)
        let lines = readText(dir + "/audit.log").split(separator: "\n")
        let gateLines = lines.filter { $0.contains("\"stage\":\"createRuntime\"") }
        #expect(gateLines.count == n, "\(gateLines.count) gate lines")
        for line in lines { #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "\(line)") }
        #expect(gateLines.filter { $0.contains("\"decision\":\"denied\"") }.count == n / 2)
        #expect(gateLines.filter { $0.contains("\"decision\":\"compliant\"") }.count == n / 2)
        _ = try? sh("for i in $(seq 0 \(n - 1)); do runc delete -f warden-c16-$i 2>/dev/null; done; true")
    }

    @Test("poststart: a container without a filter, or whose loaded filter allows keyctl, is killed",
          arguments: [("runc", "no-seccomp", "no seccomp filter"), ("crun", "no-seccomp", "no seccomp filter"),
                      ("runc", "weak-allow", "keyctl"), ("crun", "weak-allow", "keyctl")])
    func poststartKills(runtime: String, sample: String, evidence: String) throws {
        let dir = try tempDir("post-\(runtime)")
        defer { cleanup(dir) }
        let id = "warden-post-\(runtime)-\(UInt32.random(in: 0...UInt32.max))"
        _ = try sh("source \(Repo.root)/Tests/support/runtime.sh\nmake_bundle \(Repo.sample(sample))/config.json \(dir)/b /bin/sh -c 'sleep 2; echo survived'")
        // Only the poststart stage: nothing stopped the container earlier.
        let path = dir + "/b/config.json"
        var cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        cfg["hooks"] = ["poststart": [["path": Repo.binary, "args": ["seccomp-warden", "hook", "poststart", "--policy", "builtin"],
                                       "env": ["SECCOMP_WARDEN_AUDIT_LOG=\(dir)/audit.log"]]]]
        try JSONSerialization.data(withJSONObject: cfg).write(to: URL(fileURLWithPath: path))
        let r = try sh("source \(Repo.root)/Tests/support/runtime.sh\nrun_in \(runtime) \(dir)/b \(id) 2>&1")
        #expect(!r.stdout.contains("survived"), "\(r.stdout)")
        // Positive control: the container started (poststart runs only after its process did), and
        // poststart judged this very container by what it saw in the running process.
        let post = HookTests.logLines(dir + "/audit.log", id: id).filter { $0.contains("\"stage\":\"poststart\"") }
        #expect(post.contains { $0.contains(evidence) }, "\(readText(dir + "/audit.log"))")
        _ = try? sh("runc delete -f \(id) 2>/dev/null; true")
    }
}
