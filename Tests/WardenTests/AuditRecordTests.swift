import WardenCore
import Foundation
import Testing
@testable import WardenHost
@testable import WardenVerify
import WardenHook
import WardenJSON
import WardenSpec

/// Issue 11, item 5: every audit record names its container (id and bundle), says when (RFC 3339,
/// UTC), by which version and in which layout (`schema`); a log that is not a regular file is never
/// written and never makes a container wait; every value is escaped for the format it goes into.
enum AuditRecord {
    /// The version from `--version`'s first line, `seccomp-warden X.Y.Z`.
    static let version = (try? warden(["--version"]).stdout.split(separator: "\n").first?.split(separator: " ").last)
        .flatMap { $0.map(String.init) } ?? "?"

    /// Each line of an audit log as a JSON object (a line that is not one fails the test).
    static func lines(_ path: String) -> [[String: Any]] {
        readText(path).split(separator: "\n").map { line in
            let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(o != nil, "not one JSON object: \(line)")
            return o ?? [:]
        }
    }

    /// The fields every record carries, with the id and bundle expected (nil: any non-empty string).
    static func expectTraceable(_ r: [String: Any], id: String? = nil, bundle: String? = nil, idFrom: String? = nil,
                                sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r["schema"] as? Int == 1, "\(r)", sourceLocation: sourceLocation)
        let time = r["time"] as? String ?? ""
        #expect(time.contains(#/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/#), "time \(time)", sourceLocation: sourceLocation)
        #expect(r["version"] as? String == version, "\(r)", sourceLocation: sourceLocation)
        let rid = r["id"] as? String ?? ""
        #expect(!rid.isEmpty && (id == nil || rid == id), "id \(rid) in \(r)", sourceLocation: sourceLocation)
        let rb = r["bundle"] as? String ?? ""
        #expect(!rb.isEmpty && (bundle == nil || rb == bundle), "bundle \(rb) in \(r)", sourceLocation: sourceLocation)
        if let idFrom { #expect(r["idFrom"] as? String == idFrom, "\(r)", sourceLocation: sourceLocation) }
    }
}

@Suite("Audit records", .serialized)
struct AuditRecordTests {
    func bundle(_ dir: String, sample: String = "weak-allow") throws -> String {
        try FileManager.default.createDirectory(atPath: dir + "/b", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Repo.sample(sample) + "/config.json", toPath: dir + "/b/config.json")
        return dir + "/b"
    }

    func state(_ bundle: String, id: String) -> Data {
        Data("{\"ociVersion\": \"1.0.2\", \"id\": \"\(id)\", \"status\": \"creating\", \"pid\": 1, \"bundle\": \"\(bundle)\"}".utf8)
    }

    @Test("gate and wrapper records: schema, RFC 3339 UTC time, version, the container's id and bundle")
    func gateAndWrapper() throws {
        let dir = try realTempDir("audit-rec")
        defer { cleanup(dir) }
        let b = try bundle(dir)
        let log = dir + "/audit.log"
        let g = try warden(["hook", "createRuntime"], input: state(b, id: "gate-id-1"), env: ["SECCOMP_WARDEN_AUDIT_LOG": log])
        #expect(g.status == 1)
        try FileManager.default.createSymbolicLink(atPath: dir + "/seccomp-warden-runc", withDestinationPath: Repo.binary)
        let env = ["SECCOMP_WARDEN_RUNTIME": "/bin/true", "SECCOMP_WARDEN_POLICY": "builtin", "SECCOMP_WARDEN_AUDIT_LOG": log]
        let w = try run(dir + "/seccomp-warden-runc", ["--root", dir + "/root", "create", "--bundle", b, "wrapper-id-2"], env: env)
        #expect(w.status == 0, "\(w.stderr)")
        // A refused command line still names the container it was for, where the runtime's grammar reached it.
        try FileManager.default.createSymbolicLink(atPath: dir + "/seccomp-warden-crun", withDestinationPath: Repo.binary)
        let refused = try run(dir + "/seccomp-warden-crun", ["--root", dir + "/root", "create", "--config", b + "/config.json", "wrapper-id-3"], env: env)
        #expect(refused.status == 1, "\(refused.stderr)")
        let records = AuditRecord.lines(log)
        #expect(records.count == 3)
        guard records.count == 3 else { return }
        AuditRecord.expectTraceable(records[0], id: "gate-id-1", bundle: b, idFrom: "state")
        #expect(records[0]["decision"] as? String == "denied" && records[0]["configDigest"] is String)
        AuditRecord.expectTraceable(records[1], id: "wrapper-id-2", bundle: b, idFrom: "argv")
        #expect(records[2]["stage"] as? String == "wrapper-crun")
        #expect(records[1]["decision"] as? String == "tightened", "\(records[1])")
        // The digest of the file the runtime reads: the one written and read back.
        let written = try sh("python3 -c 'import sys; h=0xcbf29ce484222325\nfor b in open(sys.argv[1],\"rb\").read(): h=((h^b)*0x100000001b3)&0xffffffffffffffff\nprint(\"%016x\" % h)' \(b)/config.json").stdout
        #expect(records[1]["configDigest"] as? String == written.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(records[2]["id"] as? String == "wrapper-id-3" && records[2]["idFrom"] as? String == "argv", "\(records[2])")
    }

    @Test("a FIFO as audit log (no reader, or a reader): the hook decides at once, says so on stderr, writes nothing to it")
    func fifoAuditLog() throws {
        let dir = try realTempDir("audit-fifo")
        defer { cleanup(dir) }
        let b = try bundle(dir)
        for reader in [false, true] {
            let r = try sh("""
                rm -f \(dir)/fifo; mkfifo \(dir)/fifo
                \(reader ? "cat \(dir)/fifo > \(dir)/read.txt & reader=$!; exec 7>\(dir)/fifo" : "")
                start=$(date +%s%N)
                SECCOMP_WARDEN_POLICY=builtin SECCOMP_WARDEN_AUDIT_LOG=\(dir)/fifo SECCOMP_WARDEN_DEADLINE=8 \
                  \(Repo.binary) hook createRuntime < <(printf '{"ociVersion": "1.0.2", "id": "fifo", "pid": 1, "bundle": "\(b)"}')
                echo "rc=$? ms=$(( ($(date +%s%N) - start) / 1000000 ))"
                \(reader ? "exec 7>&-; wait $reader" : "")
                """)
            #expect(r.stdout.contains("rc=1 "), "reader \(reader): \(r.stdout) \(r.stderr)")
            let ms = Int(r.stdout.split(separator: "ms=").last?.prefix { $0.isNumber } ?? "") ?? .max
            #expect(ms < 3000, "reader \(reader): took \(ms) ms")
            #expect(r.stderr.contains("falls short"), "\(r.stderr)")
            #expect(r.stderr.contains("audit log \(dir)/fifo: is a FIFO, not a regular file; not written; the decision stands"), "\(r.stderr)")
            if reader { #expect(readText(dir + "/read.txt").isEmpty) }
        }
    }

    @Test("a real runc container whose gate logs to a FIFO starts at once")
    func fifoAuditLogRealContainer() throws {
        let dir = try realTempDir("audit-fifo-rt")
        defer { cleanup(dir) }
        let helpers = "source \(Repo.root)/Tests/support/runtime.sh\n"
        _ = try sh(helpers + "make_bundle \(Repo.sample("no-seccomp"))/config.json \(dir)/b /bin/echo ran >/dev/null")
        #expect(try warden(["apply", dir + "/b"]).status == 0)
        let path = dir + "/b/config.json"
        var cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        cfg["hooks"] = ["createRuntime": [["path": Repo.binary, "args": ["seccomp-warden", "hook", "createRuntime", "--policy", "builtin"],
                                           "env": ["SECCOMP_WARDEN_AUDIT_LOG=\(dir)/fifo"]]]]
        try JSONSerialization.data(withJSONObject: cfg, options: [.prettyPrinted]).write(to: URL(fileURLWithPath: path))
        mkfifo(dir + "/fifo", 0o644)
        let id = "warden-fifo-\(UInt32.random(in: 0...UInt32.max))"
        let r = try sh(helpers + """
            start=$(date +%s%N)
            run_in runc \(dir)/b \(id) 2>&1
            echo "ms=$(( ($(date +%s%N) - start) / 1000000 ))"
            """)
        _ = try? sh("runc delete -f \(id) >/dev/null 2>&1")
        #expect(r.stdout.contains("ran\n"), "\(r.stdout)")
        let ms = Int(r.stdout.split(separator: "ms=").last?.prefix { $0.isNumber } ?? "") ?? .max
        // A gate blocked on the FIFO would run into its 8 s deadline; a cold-cache gate on a loaded
        // machine (the exact meet checks libseccomp's filter, debug build) can take a few seconds.
        #expect(ms < 7500, "took \(ms) ms: \(r.stdout)")
    }

    @Test("a symlinked audit log is not followed: its target stays as it was, the decision stands")
    func symlinkedAuditLog() throws {
        let dir = try realTempDir("audit-link")
        defer { cleanup(dir) }
        let b = try bundle(dir)
        try "precious\n".write(toFile: dir + "/target", atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dir + "/audit.log", withDestinationPath: dir + "/target")
        let r = try warden(["hook", "createRuntime"], input: state(b, id: "link"), env: ["SECCOMP_WARDEN_AUDIT_LOG": dir + "/audit.log"])
        #expect(r.status == 1 && r.stderr.contains("falls short"), "\(r.stderr)")
        #expect(r.stderr.contains("audit log \(dir)/audit.log: is a symlink; not followed, not written; the decision stands"), "\(r.stderr)")
        #expect(readText(dir + "/target") == "precious\n")
        // Positive control: a regular file is written.
        try FileManager.default.removeItem(atPath: dir + "/audit.log")
        let ok = try warden(["hook", "createRuntime"], input: state(b, id: "link"), env: ["SECCOMP_WARDEN_AUDIT_LOG": dir + "/audit.log"])
        #expect(ok.status == 1 && !ok.stderr.contains("audit log"), "\(ok.stderr)")
        #expect(AuditRecord.lines(dir + "/audit.log").count == 1)
    }

    @Test("an audit log with a second hard link, or owned by another user, is not written; the decision stands",
          arguments: ["hardlink", "owner"])
    func auditLogNotOurs(kind: String) throws {
        let dir = try realTempDir("audit-nlink")
        defer { cleanup(dir) }
        let b = try bundle(dir)
        try "precious\n".write(toFile: dir + "/audit.log", atomically: false, encoding: .utf8)
        if kind == "hardlink" { _ = try sh("ln \(dir)/audit.log \(dir)/passwd") } else { _ = try sh("chown 65534 \(dir)/audit.log") }
        let r = try warden(["hook", "createRuntime"], input: state(b, id: "nlink"), env: ["SECCOMP_WARDEN_AUDIT_LOG": dir + "/audit.log"])
        #expect(r.status == 1 && r.stderr.contains("falls short"), "\(r.stderr)")
        #expect(r.stderr.contains(kind == "hardlink" ? "has 2 hard links; not written" : "is owned by uid 65534; not written"), "\(r.stderr)")
        #expect(readText(dir + "/audit.log") == "precious\n")
    }

    @Test("the runtime's --log: a FIFO or a symlink is never written and never blocks the refusal", arguments: ["fifo", "symlink"])
    func runtimeLogNotRegular(kind: String) throws {
        let dir = try realTempDir("audit-rtlog")
        defer { cleanup(dir) }
        if kind == "fifo" { mkfifo(dir + "/log", 0o644) } else {
            try "precious\n".write(toFile: dir + "/target", atomically: false, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: dir + "/log", withDestinationPath: dir + "/target")
        }
        try FileManager.default.createSymbolicLink(atPath: dir + "/seccomp-warden-runc", withDestinationPath: Repo.binary)
        let r = try sh("""
            start=$(date +%s%N)
            SECCOMP_WARDEN_RUNTIME=/bin/true SECCOMP_WARDEN_POLICY=builtin SECCOMP_WARDEN_AUDIT_LOG=\(dir)/audit.log \
              \(dir)/seccomp-warden-runc --log \(dir)/log --log-format json create --bogus x
            echo "rc=$? ms=$(( ($(date +%s%N) - start) / 1000000 ))"
            """)
        #expect(r.stdout.contains("rc=1 "), "\(r.stdout) \(r.stderr)")
        let ms = Int(r.stdout.split(separator: "ms=").last?.prefix { $0.isNumber } ?? "") ?? .max
        #expect(ms < 3000, "took \(ms) ms")
        #expect(r.stderr.contains("runtime log \(dir)/log: is "), "\(r.stderr)")
        if kind == "symlink" { #expect(readText(dir + "/target") == "precious\n") }
    }

    @Test("values are escaped for their format: an id with a newline stays inside its JSON string and its quoted text field")
    func escaping() throws {
        let dir = try realTempDir("audit-esc")
        defer { cleanup(dir) }
        try FileManager.default.createSymbolicLink(atPath: dir + "/seccomp-warden-runc", withDestinationPath: Repo.binary)
        let forged = "\ntime=\"2000-01-01T00:00:00Z\" level=info msg=\"forged\" \u{1b}[2J\"}\n{\"decision\":\"compliant\""
        let id = "evil" + forged
        let env = ["SECCOMP_WARDEN_RUNTIME": "/bin/true", "SECCOMP_WARDEN_POLICY": "builtin", "SECCOMP_WARDEN_AUDIT_LOG": dir + "/audit.log"]
        // A bundle that is refused (it does not exist) and whose name forges lines too: the refusal names
        // it in the audit log and in the runtime's text log.
        let bundle = dir + "/none" + forged
        let r = try run(dir + "/seccomp-warden-runc", ["--log", dir + "/runc.log", "--log-format", "text", "create", "--bundle", bundle, id], env: env)
        #expect(r.status == 1)
        let records = AuditRecord.lines(dir + "/audit.log")
        #expect(records.count == 1 && records.first?["id"] as? String == id && records.first?["bundle"] as? String == bundle, "\(records)")
        #expect((records.first?["reason"] as? String)?.contains(bundle) == true, "\(records)")
        let text = readText(dir + "/runc.log")
        #expect(text.split(separator: "\n").count == 1 && text.hasPrefix("time=\"") && text.contains("level=error msg=\""), "\(text)")
        #expect(text.contains("\\ntime=\\\"2000"), "\(text)")
    }
}

/// What precreate can tell of its container from podman's config alone (`ContainerIdentity`).
enum IdentityTable {
    static let id = String(repeating: "ab12", count: 16)
    static let other = String(repeating: "cd34", count: 16)

    struct Row: Sendable, CustomStringConvertible {
        var name: String
        var config: String
        var id: String?
        var idFrom: String?
        var bundle: String?
        var description: String { name }
    }

    static func mounts(_ m: [(String, String)]) -> String {
        "[" + m.map { "{\"destination\": \"\($0.0)\", \"source\": \"\($0.1)\"}" }.joined(separator: ", ") + "]"
    }
    static let podmanMounts = mounts([("/proc", "proc"), ("/dev/shm", "/g/vfs-containers/\(id)/userdata/shm"),
                                      ("/run/.containerenv", "/r/vfs-containers/\(id)/userdata/.containerenv"),
                                      ("/etc/hostname", "/r/vfs-containers/\(id)/userdata/hostname")])

    static let rows: [Row] = [
        Row(name: "cgroupfs path", config: "{\"linux\": {\"cgroupsPath\": \"/libpod_parent/libpod-\(id)\"}, \"mounts\": \(podmanMounts)}",
            id: id, idFrom: "config:linux.cgroupsPath", bundle: "/g/vfs-containers/\(id)/userdata"),
        Row(name: "systemd path", config: "{\"linux\": {\"cgroupsPath\": \"machine.slice:libpod:\(id)\"}}",
            id: id, idFrom: "config:linux.cgroupsPath", bundle: nil),
        Row(name: "--cgroups=disabled: podman's own mounts", config: "{\"mounts\": \(podmanMounts)}",
            id: id, idFrom: "config:mounts[2].source", bundle: "/g/vfs-containers/\(id)/userdata"),
        Row(name: "--ipc=host: no shm mount of podman's, no bundle",
            config: "{\"mounts\": \(mounts([("/dev/shm", "/dev/shm"), ("/run/.containerenv", "/r/vfs-containers/\(id)/userdata/.containerenv")]))}",
            id: id, idFrom: "config:mounts[1].source", bundle: nil),
        Row(name: "a creator's volume shaped like podman's is not read",
            config: "{\"mounts\": \(mounts([("/data", "/x/\(other)/userdata/x"), ("/etc/hostname", "/r/vfs-containers/\(id)/userdata/hostname")]))}",
            id: id, idFrom: "config:mounts[1].source", bundle: nil),
        Row(name: "an shm mount of another id gives no bundle",
            config: "{\"linux\": {\"cgroupsPath\": \"/libpod_parent/libpod-\(id)\"}, \"mounts\": \(mounts([("/dev/shm", "/g/vfs-containers/\(other)/userdata/shm")]))}",
            id: id, idFrom: "config:linux.cgroupsPath", bundle: nil),
        Row(name: "a cgroup path that is not podman's", config: "{\"linux\": {\"cgroupsPath\": \"/custom/\(id)\"}}", id: nil, idFrom: nil, bundle: nil),
        Row(name: "an id that is not 64 hex digits", config: "{\"linux\": {\"cgroupsPath\": \"/libpod_parent/libpod-xyz\"}}", id: nil, idFrom: nil, bundle: nil),
        Row(name: "nothing", config: "{}", id: nil, idFrom: nil, bundle: nil),
    ]
}

@Suite("precreate's container identity")
struct ContainerIdentityTests {
    @Test("the id and bundle podman's config gives away, and what it does not", arguments: IdentityTable.rows)
    func identity(row: IdentityTable.Row) throws {
        let doc = try JSONDocument(bytes: Array(row.config.utf8), name: "config")
        let found = ContainerIdentity.of(OCIConfig(document: doc))
        #expect(found.id == row.id && found.idFrom == row.idFrom && found.bundle == row.bundle, "\(found)")
    }
}

extension PodmanTests {
    /// podman 4.3 gives precreate no id (no annotation, no environment): the record takes it from the
    /// fields podman derives from it (the cgroup path; with `--cgroups=disabled`, its own mounts' sources),
    /// and the bundle from the /dev/shm mount's folder. Both must be the ones the gate sees from runc.
    @Test("precreate, gate and poststart records under podman: the same real id and bundle, schema, time, version", arguments: runtimes)
    func traceableRecords(runtime: String) throws {
        let env = try setUp()
        defer { tearDown(env) }
        // The container's own output is podman's to relay (under load it has lost it); poststart's
        // record says what the kernel holds, which is what this test needs.
        // It lives a second, so poststart finds it running (crun runs poststart after start).
        let r = try env.run(runtime, "--security-opt seccomp=unconfined", "/bin/probe status; sleep 1")
        let records = AuditRecord.lines(env.log)
        let byStage = Dictionary(records.map { (($0["stage"] as? String) ?? "?", $0) }, uniquingKeysWith: { a, _ in a })
        guard let gate = byStage["createRuntime"], let pre = byStage["precreate"], let post = byStage["poststart"] else {
            Issue.record("missing stages: \(records)")
            return
        }
        let id = gate["id"] as? String ?? ""
        let bundle = gate["bundle"] as? String ?? ""
        #expect(id.count == 64, "\(gate)")
        AuditRecord.expectTraceable(gate, id: id, bundle: bundle, idFrom: "state")
        AuditRecord.expectTraceable(post, id: id, bundle: bundle, idFrom: "state")
        AuditRecord.expectTraceable(pre, id: id, bundle: bundle)
        #expect((pre["idFrom"] as? String)?.hasPrefix("config:") == true, "\(pre)")
        #expect(pre["decision"] as? String == "injected", "\(pre)")
        #expect(post["decision"] as? String == "compliant", "poststart: \(post) \(r.stdout)")
    }
}

extension BackstopTests {
    /// The wrapper's record carries the id from the runtime's command line: `verify --all`'s backstop
    /// accounts for a container started through the wrapper link alone (no gate registered).
    @Test("a container started through the wrapper link, no gate, is accounted by the wrapper's record")
    func wrapperAccounted() throws {
        let dir = try tempDir("backstop-wrap").replacingOccurrences(of: "//", with: "/")
        defer { cleanup(dir) }
        chmod(dir, 0o755)
        let root = dir + "/root"
        mkdir(dir + "/log", 0o755)
        let log = dir + "/log/audit.log"
        // History from before this boot, as in the backstop's own tests.
        try "{\"time\":1,\"stage\":\"createRuntime\",\"id\":\"last-boot\",\"decision\":\"compliant\",\"boot\":\"00000000-0000-0000-0000-000000000000\",\"uptime\":1}\n"
            .write(toFile: log, atomically: false, encoding: .utf8)
        chmod(log, 0o640)
        let enforce = try policyFile(dir, mode: "enforce")
        let m = try Self.shell("make_bundle \(Repo.sample("no-seccomp"))/config.json \(dir)/b /bin/sleep 600")
        #expect(m.status == 0, "\(m.stderr)")
        try FileManager.default.createSymbolicLink(atPath: dir + "/seccomp-warden-runc", withDestinationPath: Repo.binary)
        let id = "bk-wrap-\(UInt32.random(in: 0...UInt32.max))"
        let r = try Self.shell("""
            cd \(dir)/b && SECCOMP_WARDEN_POLICY=\(enforce) SECCOMP_WARDEN_AUDIT_LOG=\(log) SECCOMP_WARDEN_RUNTIME=$(command -v runc) \\
              \(dir)/seccomp-warden-runc --root \(root) run -d --pid-file \(dir)/b/pid \(id) </dev/null >\(dir)/b/out 2>&1 && cat \(dir)/b/pid
            """)
        let pid = Int32(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        let box = Box(id: id, root: root, pid: pid, start: pid > 0 ? ProcFS.stat(pid)?.startTime : nil)
        defer { box.stop() }
        #expect(pid > 0, "\(r.stdout) \(r.stderr) \(readText(dir + "/b/out"))")
        guard pid > 0 else { return }
        for _ in 0..<100 where readText("/proc/\(pid)/comm").hasPrefix("runc:") { usleep(100_000) }
        #expect(readText(log).contains("\"stage\":\"wrapper-runc\",\"id\":\"\(id)\",\"bundle\":\"\(dir)/b\""), "\(readText(log))")
        let v = try warden(["verify", "--all", "--root", root, "--json"], env: ["SECCOMP_WARDEN_AUDIT_LOG": log, "SECCOMP_WARDEN_POLICY": enforce])
        #expect(accounting(v, id) == "accounted", "\(v.stdout) \(v.stderr)")
        #expect(target(v, id)["status"] as? String == "holds", "\(v.stdout)")
        #expect(v.status == 0, "\(v.stdout) \(v.stderr)")
    }
}
