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
        if runtime == "runc" { #expect(refused.stdout.contains("falls short of the policy"), "\(refused.stdout)") }
        #expect(readText(log).contains("\"decision\":\"denied\""))
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
