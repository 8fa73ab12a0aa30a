import WardenCore
import Foundation
import Testing
@testable import WardenHook
@testable import WardenHost
@testable import WardenPolicy
@testable import WardenVerify

/// The audit log read back for `verify --all`'s backstop: which decisions count, for which id, from
/// which file. No container: the "container" is this test process (its start time is real).
@Suite("Audit ledger")
struct AuditLedgerTests {
    static let boot = "11111111-2222-3333-4444-555555555555"
    static let earlier = "99999999-8888-7777-6666-555555555555"
    /// When this test process (the "container") started, in seconds after boot.
    static let started = ProcFS.startUptime(getpid())!
    static let lead = AuditLedger.decisionLead

    /// A record as AuditLog writes it (compact, same key order).
    static func record(_ stage: String, _ id: String?, _ decision: String, bundle: String? = nil, reason: String? = nil,
                       changes: [String] = [], boot: String? = boot, uptime: Double = started) -> String {
        func q(_ s: String?) -> String {
            guard let s else { return "null" }
            let data = try! JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
            return String(decoding: data, as: UTF8.self).dropFirst().dropLast().description
        }
        return "{\"time\":1700000000.5,\"stage\":\(q(stage)),\"id\":\(q(id)),\"bundle\":\(q(bundle)),\"decision\":\(q(decision)),"
            + "\"changes\":[\(changes.map { q($0) }.joined(separator: ","))],\"reason\":\(q(reason)),\"policy\":\"built-in\","
            + "\"policyDigest\":\"x\",\"boot\":\(q(boot)),\"uptime\":\(uptime)}"
    }

    /// History from before this boot: the part read covers every decision of this boot.
    static let history = record("createRuntime", "from-last-week", "compliant", boot: earlier, uptime: 5)

    /// A root-owned 0755 folder with `audit.log` (0640) holding `lines`.
    func log(_ lines: [String], _ dir: String, trailingNewline: Bool = true) throws -> String {
        let folder = dir + "/log"
        mkdir(folder, 0o755)
        chmod(folder, 0o755)
        let path = folder + "/audit.log"
        try (lines.joined(separator: "\n") + (trailingNewline && !lines.isEmpty ? "\n" : "")).write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o640)
        return path
    }

    func me(_ id: String) -> ContainerRecord {
        ContainerRecord(id: id, format: .runc, root: "/run/test", pid: getpid(), startTime: nil, bundle: nil, configPath: nil)
    }

    func status(_ path: String, _ id: String, limit: Int = AuditLedger.defaultLimit) -> (Accounting, AuditLedger) {
        let ledger = AuditLedger.read(path: path, ids: [id], limit: limit, boot: Self.boot)
        return (ledger.account(me(id)), ledger)
    }

    struct Row: CustomTestStringConvertible, Sendable {
        var name: String
        var lines: [String]
        var expected: Accounting.Status
        var testDescription: String { name }
    }

    static let victim = "victim-0123456789"

    static let rows: [Row] = [
        // Which records count.
        Row(name: "createRuntime gate compliant", lines: [record("createRuntime", victim, "compliant")], expected: .accounted),
        Row(name: "prestart gate exempt", lines: [record("prestart", victim, "exempt")], expected: .accounted),
        Row(name: "createContainer gate audit-only", lines: [record("createContainer", victim, "audit-only")], expected: .accounted),
        Row(name: "wrapper-runc injected", lines: [record("wrapper-runc", victim, "injected")], expected: .accounted),
        Row(name: "wrapper-crun tightened", lines: [record("wrapper-crun", victim, "tightened")], expected: .accounted),
        Row(name: "precreate injected (an id podman's record carries)", lines: [record("precreate", victim, "injected")], expected: .accounted),
        Row(name: "a record without boot and uptime (written before they existed)",
            lines: [record("createRuntime", victim, "compliant").replacingOccurrences(of: ",\"boot\":\"\(boot)\",\"uptime\":\(started)", with: "")],
            expected: .accounted),
        Row(name: "gate denied: it should not be running", lines: [record("createRuntime", victim, "denied")], expected: .denied),
        Row(name: "wrapper refused its command line (denied)", lines: [record("wrapper-runc", victim, "denied")], expected: .denied),
        Row(name: "last decision wins: injected, then the gate denied", lines: [record("wrapper-runc", victim, "injected"), record("createRuntime", victim, "denied")],
            expected: .denied),
        Row(name: "last decision wins: denied, then started again properly", lines: [record("createRuntime", victim, "denied"), record("wrapper-runc", victim, "injected"),
                                                                               record("createRuntime", victim, "compliant")], expected: .accounted),
        Row(name: "the wrapper's decision just before the start, the gate's just after", lines: [record("wrapper-runc", victim, "injected", uptime: started - 0.5),
                                                                                            record("createRuntime", victim, "compliant", uptime: started + 0.2)],
            expected: .accounted),
        Row(name: "a decision of this boot long before the start: another container that had the id", lines: [record("wrapper-runc", victim, "injected", uptime: started - lead - 1)],
            expected: .unaccounted),
        Row(name: "a decision long after the start: another attempt with the id", lines: [record("wrapper-runc", victim, "injected", uptime: started + lead + 1)],
            expected: .unaccounted),
        Row(name: "a denial long after the start does not undo the decision of this start",
            lines: [record("wrapper-runc", victim, "injected"), record("precreate", victim, "denied", uptime: started + lead + 1)], expected: .accounted),
        Row(name: "poststart looks, it does not decide a start", lines: [record("poststart", victim, "compliant")], expected: .unaccounted),
        Row(name: "poststart unverified", lines: [record("poststart", victim, "unverified")], expected: .unaccounted),
        Row(name: "a decision that is not one (unknown word)", lines: [record("createRuntime", victim, "ok")], expected: .unaccounted),
        Row(name: "an unknown stage", lines: [record("verify", victim, "compliant")], expected: .unaccounted),
        Row(name: "a record of an earlier boot (the id reused since)", lines: [record("createRuntime", victim, "compliant", boot: earlier)],
            expected: .unaccounted),
        // Attacks: the id elsewhere than in the top-level id.
        Row(name: "a record for an id that is a prefix of the container's", lines: [record("createRuntime", "victim-01234", "compliant")], expected: .unaccounted),
        Row(name: "a record for an id the container's is a prefix of", lines: [record("createRuntime", victim + "0", "compliant")], expected: .unaccounted),
        Row(name: "the id as the bundle of another container's record", lines: [record("createRuntime", "other", "compliant", bundle: victim)],
            expected: .unaccounted),
        Row(name: "\"id\":\"victim\" inside the reason (escaped by the writer)",
            lines: [record("createRuntime", "other", "compliant", reason: "x\",\"id\":\"\(victim)\",\"decision\":\"compliant")], expected: .unaccounted),
        Row(name: "the id in changes", lines: [record("wrapper-runc", "other", "injected", changes: ["\"id\":\"\(victim)\"", victim])], expected: .unaccounted),
        Row(name: "the id in a nested object, the top-level id another's",
            lines: ["{\"x\":{\"id\":\"\(victim)\"},\"stage\":\"createRuntime\",\"id\":\"other\",\"decision\":\"compliant\",\"boot\":\"\(boot)\",\"uptime\":\(started)}"],
            expected: .unaccounted),
        Row(name: "two objects on one line (the second naming the id)",
            lines: [record("createRuntime", "other", "compliant") + record("createRuntime", victim, "compliant")], expected: .unaccounted),
        Row(name: "a record that is not an object", lines: ["[\"createRuntime\",\"\(victim)\",\"compliant\"]"], expected: .unaccounted),
        Row(name: "the id key twice (jansson refuses duplicates)",
            lines: ["{\"stage\":\"createRuntime\",\"id\":\"other\",\"id\":\"\(victim)\",\"decision\":\"compliant\",\"boot\":\"\(boot)\",\"uptime\":\(started)}"],
            expected: .unaccounted),
        Row(name: "the id with a \\u escape is the same id (the parser decides)",
            lines: [record("createRuntime", victim, "compliant").replacingOccurrences(of: "\"victim-", with: "\"vic\\u0074im-")], expected: .accounted),
        Row(name: "blanks around the key's colon still read",
            lines: [record("createRuntime", victim, "compliant").replacingOccurrences(of: "\"id\":", with: "\"id\" :  ")], expected: .accounted),
    ]

    @Test("which records account for a running id", arguments: rows)
    func table(row: Row) throws {
        let dir = try tempDir("ledger")
        defer { cleanup(dir) }
        let path = try log([Self.history] + row.lines, dir)
        let (a, ledger) = status(path, Self.victim)
        #expect(ledger.problem == nil, "\(ledger.summary)")
        #expect(ledger.horizon == .earlierBoot)
        #expect(a.status == row.expected, "\(a.evidence)")
    }

    @Test("a record being written (no newline yet) and a first line cut by the size bound do not count")
    func partialLines() throws {
        let dir = try tempDir("ledger-partial")
        defer { cleanup(dir) }
        let path = try log([Self.history, Self.record("createRuntime", Self.victim, "compliant")], dir, trailingNewline: false)
        #expect(status(path, Self.victim).0.status == .unaccounted)
        // Control: the same line ended.
        let ended = try log([Self.history, Self.record("createRuntime", Self.victim, "compliant")], dir)
        #expect(status(ended, Self.victim).0.status == .accounted)

        // The limit cuts into the middle of the victim's line: only its tail is read, and it does not count.
        let line = Self.record("createRuntime", Self.victim, "compliant")
        let tail = Self.record("createRuntime", "other", "compliant", uptime: 1)
        let cut = try log([line, tail], dir)
        let (a, ledger) = status(cut, Self.victim, limit: tail.utf8.count + 1 + 20)
        #expect(ledger.cut)
        #expect(ledger.decisions.isEmpty)
        // The first record read (uptime 1, this boot) is long before this process started: a missing
        // decision there is a finding. (If the process started within the lead after it: unverified.)
        #expect(a.status == .unaccounted, "\(a.evidence)")
    }

    @Test("how far back: a container that started before the part read (plus the lead) is unverified, never unaccounted")
    func horizon() throws {
        let dir = try tempDir("ledger-horizon")
        defer { cleanup(dir) }
        let started = Self.started, lead = Self.lead
        // This boot, first record long before the start: covered.
        let old = try log([Self.record("createRuntime", "other", "compliant", uptime: max(0, started - lead - 60))], dir)
        #expect(status(old, Self.victim).0.status == .unaccounted)
        // This boot, first record within the lead before the start (or after it): not covered.
        for u in [started - lead + 5, started + 30] {
            let recent = try log([Self.record("createRuntime", "other", "compliant", uptime: u)], dir)
            let (a, ledger) = status(recent, Self.victim)
            #expect(ledger.horizon == .uptime(u))
            #expect(a.status == .unverified, "\(a.evidence)")
            #expect(a.evidence.contains("begins after this container started"), "\(a.evidence)")
        }
        // No record at all, or no log: unverified.
        #expect(status(try log([], dir), Self.victim).0.status == .unverified)
        #expect(status(dir + "/none/audit.log", Self.victim).0.status == .unverified)
        // A legacy first record (no boot): judged by wall-clock time.
        let boot = try #require(ProcFS.bootWallClock())
        let legacy = "{\"time\":\(boot + started - lead - 3600),\"stage\":\"createRuntime\",\"id\":\"other\",\"decision\":\"compliant\"}"
        #expect(status(try log([legacy], dir), Self.victim).0.status == .unaccounted)
        let legacyRecent = "{\"time\":\(boot + started),\"stage\":\"createRuntime\",\"id\":\"other\",\"decision\":\"compliant\"}"
        #expect(status(try log([legacyRecent], dir), Self.victim).0.status == .unverified)
    }

    @Test("rotation: audit.log.1 is read first, audit.log after it; an untrusted .1 is left out")
    func rotation() throws {
        let dir = try tempDir("ledger-rotated")
        defer { cleanup(dir) }
        let path = try log([Self.record("createRuntime", "newer", "compliant")], dir)
        try ([Self.history, Self.record("createRuntime", Self.victim, "compliant")].joined(separator: "\n") + "\n")
            .write(toFile: path + ".1", atomically: false, encoding: .utf8)
        chmod(path + ".1", 0o640)
        let (a, ledger) = status(path, Self.victim)
        #expect(a.status == .accounted, "\(ledger.summary)")
        #expect(ledger.horizon == .earlierBoot)
        #expect(ledger.read.count == 2 && ledger.read[0].hasPrefix(path + ".1 "), "\(ledger.read)")
        // The newer file's denial is the last word.
        try (Self.record("createRuntime", Self.victim, "denied") + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        #expect(status(path, Self.victim).0.status == .denied)
        // A .1 anyone could write is not read: its record does not count, and the log alone starts too late.
        chmod(path + ".1", 0o666)
        try (Self.record("createRuntime", "newer", "compliant", uptime: ProcFS.startUptime(getpid())! + 1) + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        let (u, l2) = status(path, Self.victim)
        #expect(l2.problem == nil)
        #expect(u.status == .unverified, "\(u.evidence)")
        #expect(l2.notes.contains { $0.contains("\(path).1 is writable by everyone") }, "\(l2.notes)")
    }

    @Test("the size bound: the newest bytes are read, and what lies beyond is said")
    func sizeBound() throws {
        let dir = try tempDir("ledger-limit")
        defer { cleanup(dir) }
        var lines = [Self.history, Self.record("createRuntime", Self.victim, "compliant")]
        for i in 0..<2000 { lines.append(Self.record("createRuntime", "filler-\(i)", "compliant", uptime: 2)) }
        let path = try log(lines, dir)
        let size = Int(try FileManager.default.attributesOfItem(atPath: path)[.size] as! UInt64)
        let whole = status(path, Self.victim, limit: size)
        #expect(whole.0.status == .accounted)
        #expect(!whole.1.cut && whole.1.bytesRead == size)
        let part = status(path, Self.victim, limit: size / 2)
        #expect(part.1.cut)
        #expect(part.1.bytesRead == size / 2)
        #expect(part.1.summary.contains("older records over the \(size / 2)-byte limit not read"), "\(part.1.summary)")
        #expect(part.0.status == .unaccounted)  // the part read goes back to uptime 2, long before this process
    }

    struct TrustRow: CustomTestStringConvertible, Sendable {
        var name: String
        var setup: @Sendable (_ folder: String, _ path: String) throws -> Void
        var problem: String?
        var testDescription: String { name }
    }

    static let trustRows: [TrustRow] = [
        TrustRow(name: "root's 0640 in a root 0755 folder", setup: { _, _ in }, problem: nil),
        TrustRow(name: "world-writable log", setup: { _, p in chmod(p, 0o646) }, problem: "is writable by everyone (mode 646)"),
        TrustRow(name: "group-writable log", setup: { _, p in chmod(p, 0o660) }, problem: "is writable by its group (mode 660)"),
        TrustRow(name: "log owned by nobody", setup: { _, p in chown(p, 65534, 65534) }, problem: "is owned by uid 65534, not root"),
        TrustRow(name: "log is a symlink to a trusted log", setup: { f, p in
            try FileManager.default.moveItem(atPath: p, toPath: f + "/real.log")
            try FileManager.default.createSymbolicLink(atPath: p, withDestinationPath: f + "/real.log")
        }, problem: "is a symlink"),
        TrustRow(name: "log is a FIFO (and nothing hangs)", setup: { _, p in
            unlink(p)
            mkfifo(p, 0o600)
        }, problem: "is not a regular file"),
        TrustRow(name: "log is a folder", setup: { _, p in
            unlink(p)
            mkdir(p, 0o700)
        }, problem: "is not a regular file"),
        TrustRow(name: "world-writable folder (not sticky)", setup: { f, _ in chmod(f, 0o777) }, problem: "is writable by everyone (mode 777)"),
        TrustRow(name: "folder owned by nobody", setup: { f, _ in chown(f, 65534, 65534) }, problem: "is owned by uid 65534, not root"),
        TrustRow(name: "sticky world-writable folder with root's log (like /tmp)", setup: { f, _ in chmod(f, 0o1777) }, problem: nil),
    ]

    @Test("trust: only a root-owned regular file no one else can write, in a folder no one else can swap it in", arguments: trustRows)
    func trust(row: TrustRow) throws {
        let dir = try tempDir("ledger-trust")
        defer { cleanup(dir) }
        let path = try log([Self.history, Self.record("createRuntime", Self.victim, "compliant")], dir)
        try row.setup(dir + "/log", path)
        let (a, ledger) = status(path, Self.victim)
        if let problem = row.problem {
            #expect(ledger.problem?.contains(problem) == true, "\(ledger.problem ?? "trusted")")
            #expect(a.status == .unverified, "\(a.evidence)")
            #expect(a.evidence.hasPrefix("cannot account: "), "\(a.evidence)")
            #expect(ledger.summary.hasPrefix("CANNOT ACCOUNT"), "\(ledger.summary)")
        } else {
            #expect(ledger.problem == nil, "\(ledger.problem ?? "")")
            #expect(a.status == .accounted, "\(a.evidence)")
        }
    }

    @Test("one id running under two runtime roots: a record cannot say which it covers (unverified); with no record both are unaccounted")
    func sharedID() throws {
        let dir = try tempDir("ledger-shared")
        defer { cleanup(dir) }
        let path = try log([Self.history, Self.record("createRuntime", Self.victim, "compliant")], dir)
        let ledger = AuditLedger.read(path: path, ids: [Self.victim], boot: Self.boot)
        var twin = me(Self.victim)
        twin.root = "/run/crun"
        let a = ledger.account(me(Self.victim), sharing: [twin])
        #expect(a.status == .unverified, "\(a.evidence)")
        #expect(a.evidence.contains("2 running containers have this id (/run/test, /run/crun)"), "\(a.evidence)")
        #expect(ledger.account(me(Self.victim)).status == .accounted)  // control: alone, it is covered
        let none = AuditLedger.read(path: try log([Self.history], dir), ids: [Self.victim], boot: Self.boot)
        #expect(none.account(me(Self.victim), sharing: [twin]).status == .unaccounted)
    }

    @Test("a creator's string with a newline and a forged record in it stays inside its record (the writer escapes it)")
    func newlineInjection() throws {
        let dir = try tempDir("ledger-inject")
        defer { cleanup(dir) }
        let path = try log([Self.history], dir)
        let forged = "\n" + Self.record("createRuntime", Self.victim, "compliant") + "\n"
        // The policy names the log (no setenv: other suites run alongside in this process).
        var policy = try builtinPolicy()
        policy.auditLog = path
        #expect(AuditLog.path(policy: policy) == path)
        AuditLog.record(policy: policy, stage: "createRuntime", id: "other" + forged, bundle: forged, decision: "compliant",
                        summary: [forged], reason: forged)
        #expect(readText(path).split(separator: "\n").count == 2, "\(readText(path))")
        #expect(status(path, Self.victim).0.status == .unaccounted)
        // Control: the same record on a line of its own counts.
        try (readText(path) + Self.record("createRuntime", Self.victim, "compliant") + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        #expect(status(path, Self.victim).0.status == .accounted)
    }

    @Test("the records a hook writes carry this boot's id and its uptime, and the ledger reads them back")
    func roundTrip() throws {
        let dir = try tempDir("ledger-roundtrip")
        defer { cleanup(dir) }
        let path = try log([Self.history], dir)
        let state = "{\"ociVersion\":\"1.0.2\",\"id\":\"\(Self.victim)\",\"pid\":1,\"bundle\":\"\(dir)/nobundle\"}"
        let r = try warden(["hook", "createRuntime"], input: Data(state.utf8), env: ["SECCOMP_WARDEN_AUDIT_LOG": path])
        #expect(r.status != 0)  // no bundle: denied, and logged
        let last = try #require(readText(path).split(separator: "\n").last)
        let rec = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        let boot = try #require(AuditLog.bootID())
        #expect(rec["boot"] as? String == boot)
        #expect((rec["uptime"] as? Double ?? 0) > 0)
        let ledger = AuditLedger.read(path: path, ids: [Self.victim])
        // A process started now stands for the container: the record is matched within 2 minutes of its
        // start, and the test process itself may have started longer ago than that (a long suite run).
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["30"]
        try sleeper.run()
        defer { sleeper.terminate(); kill(sleeper.processIdentifier, SIGKILL); sleeper.waitUntilExit() }
        let fresh = ContainerRecord(id: Self.victim, format: .runc, root: "/run/test", pid: sleeper.processIdentifier,
                                    startTime: nil, bundle: nil, configPath: nil)
        #expect(ledger.account(fresh).status == .denied)
    }
}
