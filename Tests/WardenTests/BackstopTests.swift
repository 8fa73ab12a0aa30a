import WardenCore
import Foundation
import Testing
@testable import WardenHost
@testable import WardenVerify

/// `verify --all`'s backstop against real runc containers under a private state root: one started with
/// the createRuntime gate registered (its decision is logged with the real id) is accounted; one
/// started with plain runc is UNACCOUNTED, and `--kill-unaccounted` kills it in enforce mode only,
/// while the accounted one keeps running. An audit log others can write accounts for nothing.
@Suite("Backstop", .serialized)
struct BackstopTests {
    struct Box {
        var id: String
        var root: String
        var pid: Int32
        /// The init's start time: a pid reused after the test killed the container is not signalled.
        var start: UInt64?

        func stop() {
            if pid > 0, let start, ProcFS.stat(pid)?.startTime == start { kill(pid, SIGKILL) }
            for _ in 0..<60 where pid > 0 && ContainerProcesses.isLive(pid) { usleep(50_000) }
            _ = try? sh("runc --root \(root) delete -f \(id) >/dev/null 2>&1; true")
        }
    }

    static func shell(_ script: String) throws -> Result {
        try sh("source \(Repo.root)/Tests/support/runtime.sh\n" + script)
    }

    /// The built-in policy as a root-owned 0600 file, in `mode`.
    func policyFile(_ dir: String, mode: String) throws -> String {
        let r = try warden(["policy", "show"])
        let path = dir + "/policy-\(mode).json"
        try r.stdout.replacingOccurrences(of: "\"mode\": \"enforce\"", with: "\"mode\": \"\(mode)\"")
            .write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o600)
        return path
    }

    /// Docker's default tightened by apply (the filter holds either way: accounting is what differs),
    /// with the gate registered when `gate`.
    func bundle(_ path: String, gate: Bool, policy: String, log: String) throws {
        let m = try Self.shell("make_bundle \(Repo.sample("docker-default"))/config.json \(path) /bin/sleep 600")
        #expect(m.status == 0, "\(m.stderr)")
        #expect(try warden(["apply", path]).status == 0)
        if gate {
            let r = try warden(["register", "--policy", policy, "--audit-log", log, path])
            #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        }
    }

    func start(_ bundle: String, id: String, root: String) throws -> Box {
        let r = try Self.shell("cd \(bundle) && runc --root \(root) run -d --pid-file \(bundle)/pid \(id) </dev/null >\(bundle)/out 2>&1 && cat \(bundle)/pid")
        let pid = Int32(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        let box = Box(id: id, root: root, pid: pid, start: pid > 0 ? ProcFS.stat(pid)?.startTime : nil)
        if r.status != 0 || box.pid <= 0 {
            box.stop()
            Issue.record("runc run -d \(id) failed: \(r.stdout) \(r.stderr) \(readText(bundle + "/out"))")
            throw CancellationError()
        }
        for _ in 0..<100 where readText("/proc/\(box.pid)/comm").hasPrefix("runc:") { usleep(100_000) }
        return box
    }

    func json(_ r: Result) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    func target(_ r: Result, _ id: String) -> [String: Any] {
        ((json(r)["targets"] as? [[String: Any]]) ?? []).first { $0["container"] as? String == id } ?? [:]
    }

    func accounting(_ r: Result, _ id: String) -> String? {
        (target(r, id)["accounting"] as? [String: Any])?["status"] as? String
    }

    func alive(_ box: Box) -> Bool { ContainerProcesses.isLive(box.pid) }

    @Test("gate-started is accounted, plain runc is UNACCOUNTED (exit 1, JSON, Prometheus); --kill-unaccounted kills it in enforce mode only; the accounted one keeps running")
    func accountedAndNot() throws {
        // runc records the bundle path cleaned: no "//" from NSTemporaryDirectory's trailing slash.
        let dir = try tempDir("backstop").replacingOccurrences(of: "//", with: "/")
        defer { cleanup(dir) }
        chmod(dir, 0o755)
        let root = dir + "/root"
        let folder = dir + "/log"
        mkdir(folder, 0o755)
        let log = folder + "/audit.log"
        // History: a record from before this boot, as any node's log has (else a container started
        // within two minutes of the first record could have its decision before it: unverified).
        try "{\"time\":1,\"stage\":\"createRuntime\",\"id\":\"last-boot\",\"decision\":\"compliant\",\"boot\":\"00000000-0000-0000-0000-000000000000\",\"uptime\":1}\n"
            .write(toFile: log, atomically: false, encoding: .utf8)
        chmod(log, 0o640)
        let enforce = try policyFile(dir, mode: "enforce"), audit = try policyFile(dir, mode: "audit")
        // The plain container's id is a prefix of the accounted one's, and is the accounted one's bundle
        // folder name, so the accounted record carries it twice: as a prefix of its id and in its bundle.
        let plainID = "bk-\(UInt32.random(in: 0...UInt32.max))"
        let gatedID = plainID + "-gated"
        let gatedBundle = dir + "/" + plainID
        let plainBundle = dir + "/plain"
        try bundle(gatedBundle, gate: true, policy: enforce, log: log)
        try bundle(plainBundle, gate: false, policy: enforce, log: log)
        var boxes = [Box]()
        defer { for b in boxes { b.stop() } }
        let gated = try start(gatedBundle, id: gatedID, root: root)
        boxes.append(gated)
        let plain = try start(plainBundle, id: plainID, root: root)
        boxes.append(plain)
        let records = readText(log)
        #expect(records.contains("\"stage\":\"createRuntime\",\"id\":\"\(gatedID)\",\"bundle\":\"\(gatedBundle)\""), "\(records)")
        #expect(!records.contains("\"id\":\"\(plainID)\""), "\(records)")

        let env = ["SECCOMP_WARDEN_AUDIT_LOG": log, "SECCOMP_WARDEN_POLICY": enforce]
        func verify(_ args: [String], env extra: [String: String] = [:]) throws -> Result {
            try warden(["verify", "--all", "--root", root] + args, env: env.merging(extra) { $1 })
        }

        // Table: exit 1, an UNACCOUNTED line for the plain one; the gated one holds.
        let t = try verify([])
        #expect(t.status == 1, "\(t.stdout) \(t.stderr)")
        #expect(t.stdout.contains("UNACCOUNTED container \(plainID) (runc, \(root)), pid \(plain.pid): no seccomp-warden decision"), "\(t.stdout)")
        #expect(!t.stdout.contains("UNACCOUNTED container \(gatedID)"), "\(t.stdout)")
        #expect(t.stdout.contains("container \(gatedID) (runc, \(root)), pid \(gated.pid), bundle \(gatedBundle): HOLDS"), "\(t.stdout)")
        #expect(t.stdout.contains("createRuntime logged compliant for this id"), "\(t.stdout)")
        #expect(t.stdout.contains("2 containers verified: 1 hold, 0 fall short, 0 unverified, 1 unaccounted"), "\(t.stdout)")
        #expect(t.stdout.contains("accounting: \(log), root's and writable by no one else"), "\(t.stdout)")

        // JSON: its own status, per container and overall.
        let j = try verify(["--json"])
        #expect(j.status == 1)
        #expect(json(j)["status"] as? String == "unaccounted", "\(j.stdout)")
        #expect(target(j, plainID)["status"] as? String == "unaccounted")
        #expect(accounting(j, plainID) == "unaccounted")
        #expect(target(j, gatedID)["status"] as? String == "holds")
        #expect(accounting(j, gatedID) == "accounted")
        let acc = json(j)["accounting"] as? [String: Any] ?? [:]
        #expect(acc["trusted"] as? Bool == true)
        #expect(acc["unaccounted"] as? [String] == [plainID], "\(acc)")

        // Prometheus: the metric, per container and in the result counts.
        let p = try verify(["--format", "prometheus"])
        #expect(p.status == 1)
        #expect(p.stdout.contains("seccomp_warden_unaccounted{container=\"\(plainID)\",runtime=\"runc\",pid=\"\(plain.pid)\"} 1"), "\(p.stdout)")
        #expect(p.stdout.contains("seccomp_warden_unaccounted{container=\"\(gatedID)\",runtime=\"runc\",pid=\"\(gated.pid)\"} 0"), "\(p.stdout)")
        #expect(p.stdout.contains("seccomp_warden_containers{result=\"unaccounted\"} 1"), "\(p.stdout)")
        #expect(p.stdout.contains("seccomp_warden_accounting_error 0"), "\(p.stdout)")
        #expect(p.stdout.contains("seccomp_warden_verify_ok 0"), "\(p.stdout)")
        expectPrometheusText(p.stdout)

        // Audit mode: --kill-unaccounted says it kills nothing, and nothing is killed.
        let a = try verify(["--kill-unaccounted"], env: ["SECCOMP_WARDEN_POLICY": audit])
        #expect(a.status == 1, "\(a.stdout) \(a.stderr)")
        #expect(a.stdout.contains("--kill-unaccounted: the policy (\(audit)) is in audit mode: nothing was killed"), "\(a.stdout)")
        #expect(a.stderr.contains("nothing was killed"), "\(a.stderr)")
        #expect(alive(plain) && alive(gated))

        // Enforce: the plain one is killed and it is said; the accounted one keeps running.
        let k = try verify(["--kill-unaccounted", "--json"])
        #expect(k.status == 1, "\(k.stdout) \(k.stderr)")
        #expect((json(k)["accounting"] as? [String: Any])?["killed"] as? [String] == [plainID], "\(k.stdout)")
        #expect(((target(k, plainID)["accounting"] as? [String: Any])?["kill"] as? String)?.hasPrefix("KILLED: SIGKILL sent to pid \(plain.pid)") == true, "\(k.stdout)")
        #expect(!alive(plain))
        #expect(alive(gated))
        let state = try Self.shell("runc --root \(root) state \(plainID)")
        #expect(state.stdout.contains("\"status\": \"stopped\""), "\(state.stdout)")
        // Afterwards only the accounted one runs: exit 0.
        let after = try verify([])
        #expect(after.status == 0, "\(after.stdout) \(after.stderr)")
        #expect(after.stdout.contains("skipped, not running"), "\(after.stdout)")
        #expect(alive(gated))
    }

    @Test("an audit log others could write (or not root's, or a symlink) accounts for nothing: no 'all accounted', nothing killed; a line forged by nobody does not count")
    func untrustedLog() throws {
        let dir = try tempDir("backstop-untrusted")
        defer { cleanup(dir) }
        chmod(dir, 0o755)
        let root = dir + "/root"
        let folder = dir + "/log"
        mkdir(folder, 0o755)
        let log = folder + "/audit.log"
        try "{\"time\":1,\"stage\":\"createRuntime\",\"id\":\"last-boot\",\"decision\":\"compliant\",\"boot\":\"00000000-0000-0000-0000-000000000000\",\"uptime\":1}\n"
            .write(toFile: log, atomically: false, encoding: .utf8)
        chmod(log, 0o640)
        let enforce = try policyFile(dir, mode: "enforce")
        let gatedID = "bk-trust-\(UInt32.random(in: 0...UInt32.max))"
        let plainID = gatedID + "-plain"
        try bundle(dir + "/gated", gate: true, policy: enforce, log: log)
        try bundle(dir + "/plain", gate: false, policy: enforce, log: log)
        var boxes = [Box]()
        defer { for b in boxes { b.stop() } }
        let gated = try start(dir + "/gated", id: gatedID, root: root)
        boxes.append(gated)
        let plain = try start(dir + "/plain", id: plainID, root: root)
        boxes.append(plain)
        let env = ["SECCOMP_WARDEN_POLICY": enforce]

        // Positive control: the root-owned log accounts for the gated one.
        let ok = try warden(["verify", "--all", "--root", root, "--json"], env: env.merging(["SECCOMP_WARDEN_AUDIT_LOG": log]) { $1 })
        #expect(accounting(ok, gatedID) == "accounted", "\(ok.stdout)")
        #expect(accounting(ok, plainID) == "unaccounted", "\(ok.stdout)")

        // The same records in logs that are not trustworthy, each in a folder of its own.
        var cases = [(String, String)]()
        func copy(_ name: String) throws -> String {
            let f = dir + "/" + name
            mkdir(f, 0o755)
            try FileManager.default.copyItem(atPath: log, toPath: f + "/audit.log")
            chmod(f + "/audit.log", 0o640)
            return f + "/audit.log"
        }
        let open = try copy("world")
        chmod(open, 0o666)
        // A container's creator without root writes the line that would account for the plain one.
        let forged = "{\"time\":1,\"stage\":\"createRuntime\",\"id\":\"\(plainID)\",\"decision\":\"compliant\"}"
        let w = try sh("setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'echo \(forged.replacingOccurrences(of: "\"", with: "\\\"")) >> \(open)'")
        #expect(w.status == 0, "\(w.stderr)")
        #expect(readText(open).contains("\"id\":\"\(plainID)\""))
        cases.append((open, "is writable by everyone (mode 666)"))
        let foreign = try copy("foreign")
        chown(foreign, 65534, 65534)
        cases.append((foreign, "is owned by uid 65534, not root"))
        let link = dir + "/link"
        mkdir(link, 0o755)
        symlink(log, link + "/audit.log")
        cases.append((link + "/audit.log", "is a symlink"))
        let swappable = try copy("swappable")
        chmod(dir + "/swappable", 0o777)
        cases.append((swappable, "is writable by everyone (mode 777)"))

        for (path, why) in cases {
            let e = env.merging(["SECCOMP_WARDEN_AUDIT_LOG": path]) { $1 }
            let t = try warden(["verify", "--all", "--root", root, "--kill-unaccounted"], env: e)
            #expect(t.status == 1, "\(path): \(t.stdout) \(t.stderr)")
            #expect(t.stdout.contains("accounting: CANNOT ACCOUNT: "), "\(t.stdout)")
            #expect(t.stdout.contains(why), "\(path): \(t.stdout)")
            #expect(t.stdout.contains("--kill-unaccounted: cannot account"), "\(t.stdout)")
            #expect(!t.stdout.contains("UNACCOUNTED container"), "\(t.stdout)")
            let j = try warden(["verify", "--all", "--root", root, "--json"], env: e)
            #expect(j.status == 1)
            #expect(json(j)["status"] as? String == "unverified", "\(j.stdout)")
            #expect(accounting(j, gatedID) == "unverified", "\(path): \(j.stdout)")
            #expect(accounting(j, plainID) == "unverified", "\(path): \(j.stdout)")
            let p = try warden(["verify", "--all", "--root", root, "--format", "prometheus"], env: e)
            #expect(p.stdout.contains("seccomp_warden_accounting_error 1"), "\(p.stdout)")
            #expect(p.stdout.contains("seccomp_warden_verify_ok 0"), "\(p.stdout)")
            #expect(alive(plain) && alive(gated), "\(path): a container was killed on an untrusted log")
        }
    }

    @Test("a container's process without root cannot append a record to the log even with its folder bind-mounted (control: the same write as root)")
    func containerCannotForge() throws {
        let dir = try tempDir("backstop-forge").replacingOccurrences(of: "//", with: "/")
        defer { cleanup(dir) }
        chmod(dir, 0o755)
        let folder = dir + "/log"
        mkdir(folder, 0o755)
        let log = folder + "/audit.log"
        try "{\"time\":1,\"stage\":\"createRuntime\",\"id\":\"x\",\"decision\":\"compliant\"}\n".write(toFile: log, atomically: false, encoding: .utf8)
        chmod(log, 0o640)
        let before = readText(log)
        let forged = "{\\\"stage\\\":\\\"createRuntime\\\",\\\"id\\\":\\\"victim\\\",\\\"decision\\\":\\\"compliant\\\"}"
        for uid in [65534, 0] {
            let b = dir + "/b\(uid)"
            let m = try Self.shell("make_bundle \(Repo.sample("docker-default"))/config.json \(b) /bin/sh -c 'echo \(forged) >> /wlog/audit.log; echo rc=$?'")
            #expect(m.status == 0, "\(m.stderr)")
            let edit = try sh("""
                python3 - \(b)/config.json <<'PY'
                import json, sys
                c = json.load(open(sys.argv[1]))
                c["process"]["user"] = {"uid": \(uid), "gid": \(uid)}
                c["mounts"].append({"destination": "/wlog", "type": "bind", "source": "\(folder)", "options": ["rbind", "rw"]})
                json.dump(c, open(sys.argv[1], "w"))
                PY
                """)
            #expect(edit.status == 0, "\(edit.stderr)")
            #expect(try warden(["apply", b]).status == 0)
            let r = try Self.shell("run_in runc \(b) bk-forge-\(uid)-\(UInt32.random(in: 0...UInt32.max)) 2>&1")
            if uid == 0 {
                // Root in a container without a user namespace is root on the node: it can write anything root can.
                #expect(r.stdout.contains("rc=0"), "\(r.stdout)")
                #expect(readText(log).contains("victim"))
            } else {
                #expect(r.stdout.contains("Permission denied") && r.stdout.contains("rc=1"), "\(r.stdout)")
                #expect(readText(log) == before)
            }
        }
    }

    func expectPrometheusText(_ text: String) {
        var typed = Set<String>()
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") { typed.insert(String(line.split(separator: " ")[2])); continue }
            if line.hasPrefix("# HELP ") { continue }
            let name = String(line.prefix { $0 != "{" && $0 != " " })
            #expect(typed.contains(name), "\(line)")
            #expect(Double(line.split(separator: " ").last ?? "") != nil, "\(line)")
        }
    }
}
