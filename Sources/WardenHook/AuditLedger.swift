import WardenCore
import WardenJSON
import WardenHost
import WardenVerify
#if canImport(Glibc)
import Glibc
import SystemPackage
#endif

/// The audit log read back for `verify --all`'s backstop: for each running container, the last decision
/// that podman's precreate, the runtime wrapper or a gate logged for its id around its start (within
/// `decisionLead` of its init's start time, in this boot).
///
/// Trust: the log (and its folder) must be root's and writable by no one else, opened without following
/// a symlink at the last step (O_NOFOLLOW), without blocking on a FIFO (O_NONBLOCK), and be a regular
/// file by fstat of the same descriptor. Otherwise `problem` says why and nothing is accounted.
/// Size: at most `limit` bytes are read, the newest first (`audit.log`, then `audit.log.1` as logrotate
/// leaves it with delaycompress); `horizon` says from when the part read covers decisions.
public struct AuditLedger: Sendable {
    /// A decision logged for a container id.
    public struct Entry: Sendable, Equatable {
        public var stage: String
        public var decision: String
        public var file: String
        /// When, in seconds after boot; nil in a record written before records had it.
        public var uptime: Double?
    }

    /// From when the part read holds every decision: its first record.
    public enum Horizon: Sendable, Equatable {
        /// No record was read.
        case none
        /// The first record read is from an earlier boot: every decision of this boot was read.
        case earlierBoot
        /// The first record read is from this boot, this many seconds after it (CLOCK_BOOTTIME).
        case uptime(Double)
        /// The first record read has no boot id (written before records had one): its wall-clock time.
        case wallClock(Double)
    }

    /// Default bound on the bytes read (both files together).
    public static let defaultLimit = 64 << 20
    /// A line longer than this is not a decision the product wrote: skipped.
    public static let maxLine = 4 << 20
    /// How far a decision about a start lies from its init's start time: the wrapper and podman's
    /// precreate decide before the runtime creates the init (well under a second, normally), a gate
    /// while the runtime creates it. A record further away is about another container that had the
    /// same id (an earlier one, or a later attempt). And a container that started less than this
    /// after the first record read may have its decision before it: `unverified`, never `unaccounted`.
    public static let decisionLead: Double = 120
    /// Records kept per id (the newest): a container restarted again and again under one id.
    public static let maxPerID = 64
    /// Decisions that let a container start.
    public static let starting: Set<String> = ["injected", "tightened", "compliant", "exempt", "audit-only"]

    /// Stages that decide whether a container starts: podman's precreate, the wrapper, the gates. The
    /// poststart check only looks (and kills on a finding); its records do not account for a start.
    public static func admits(stage: String) -> Bool {
        stage == "precreate" || stage == "createRuntime" || stage == "prestart" || stage == "createContainer"
            || stage.hasPrefix("wrapper-")
    }

    public let path: String
    public let limit: Int
    /// This boot's id; records of another boot are of containers long gone.
    public let boot: String?
    /// Set when the log cannot be trusted or read: nothing is accounted, nothing is killed.
    public var problem: String? = nil
    /// Every decision read for each running id, oldest first.
    public var decisions: [String: [Entry]] = [:]
    public var horizon: Horizon = .none
    /// What was read, oldest first ("FILE bytes A-B of N").
    public var read: [String] = []
    /// A rotated file not trusted, a part over the limit, a missing log.
    public var notes: [String] = []
    public var bytesRead = 0
    /// Older records exist that were not read (the size bound).
    public var cut = false
    /// Lines that are not JSON objects (or too long) among those looked at.
    public var malformed = 0
    private var sawRecord = false
    private var file = ""

    public init(path: String, limit: Int = defaultLimit, boot: String? = AuditLog.bootID()) {
        self.path = path
        self.limit = max(0, limit)
        self.boot = boot
    }

    /// Reads the log once, keeping only the decisions for `ids` (the running containers).
    public static func read(path: String, ids: Set<String>, limit: Int = defaultLimit, boot: String? = AuditLog.bootID()) -> AuditLedger {
        var ledger = AuditLedger(path: path, limit: limit, boot: boot)
        ledger.load(ids: ids)
        return ledger
    }

    // MARK: - Opening

    enum Opened {
        case opened(Int32, Int)
        case missing
        case untrusted(String)
    }

    /// Why a file (or its folder) cannot be trusted, or nil. Root's and writable by no one else; a
    /// sticky folder (like /tmp) is fine, since no one else can replace root's file in it.
    static func distrust(_ st: stat, folder: Bool) -> String? {
        let type = st.st_mode & S_IFMT
        if folder && type != S_IFDIR { return "is not a folder" }
        if !folder && type != S_IFREG { return "is not a regular file" }
        if st.st_uid != 0 { return "is owned by uid \(st.st_uid), not root" }
        let writable = st.st_mode & 0o022
        if writable != 0 && !(folder && (st.st_mode & mode_t(S_ISVTX)) != 0) {
            return "is writable by \(writable & 0o002 != 0 ? "everyone" : "its group") (mode \(String(st.st_mode & 0o7777, radix: 8)))"
        }
        return nil
    }

    static func open(in folder: Int32, _ name: String, display: String) -> Opened {
        let fd = openat(folder, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 {
            let e = errno
            if e == ENOENT { return .missing }
            if e == ELOOP { return .untrusted("\(display) is a symlink") }
            return .untrusted("cannot open \(display): \(errnoText(e))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            return .untrusted("cannot stat \(display): \(errnoText(e))")
        }
        if let why = distrust(st, folder: false) {
            close(fd)
            return .untrusted("\(display) \(why)")
        }
        return .opened(fd, Int(st.st_size))
    }

    mutating func load(ids: Set<String>) {
        guard path.hasPrefix("/"), let base = path.split(separator: "/").last.map(String.init) else {
            problem = "the audit log path \"\(path)\" is not an absolute file path"
            return
        }
        let dir = FileIO.dirname(of: path)
        let dfd = Glibc.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd < 0 {
            let e = errno
            if e == ENOENT { notes.append("no folder \(dir): no decision was ever logged there") }
            else { problem = "cannot open the audit log's folder \(dir): \(errnoText(e))" }
            return
        }
        defer { close(dfd) }
        var st = stat()
        guard fstat(dfd, &st) == 0 else {
            problem = "cannot stat the audit log's folder \(dir): \(errnoText(errno))"
            return
        }
        if let why = Self.distrust(st, folder: true) {
            problem = "the audit log's folder \(dir) \(why): whoever can write there can replace the log"
            return
        }
        var files = [(name: String, fd: Int32, size: Int)]()
        defer { for f in files { close(f.fd) } }
        switch Self.open(in: dfd, base, display: path) {
        case .missing: notes.append("\(path) does not exist")
        case .untrusted(let why):
            problem = why + ": its records could be anyone's"
            return
        case .opened(let fd, let size): files.append((path, fd, size))
        }
        // The previous file as logrotate leaves it (numbered, uncompressed with delaycompress). One
        // that cannot be trusted is left out: it would only have widened what the part read covers.
        switch Self.open(in: dfd, base + ".1", display: path + ".1") {
        case .missing: break
        case .untrusted(let why): notes.append(why + "; not read")
        case .opened(let fd, let size): files.append((path + ".1", fd, size))
        }
        // The newest bytes, up to the limit over both files; then read oldest first, so the last
        // decision for an id is the one that counts.
        var budget = limit
        var parts = [(name: String, fd: Int32, from: Int, to: Int)]()
        for f in files {
            guard budget > 0 || f.size == 0 else {
                cut = true
                notes.append("\(f.name) not read: over the \(limit)-byte limit")
                continue
            }
            let take = min(f.size, budget)
            if take < f.size { cut = true }
            parts.append((f.name, f.fd, f.size - take, f.size))
            budget -= take
        }
        for p in parts.reversed() {
            file = p.name
            read.append("\(p.name) bytes \(p.from)-\(p.to) of \(p.to)")
            scan(fd: p.fd, from: p.from, to: p.to, ids: ids)
            if problem != nil { return }
        }
    }

    // MARK: - Reading

    /// Reads [from, to) in chunks, line by line. A first line cut by the limit, an over-long line and
    /// the bytes after the last newline (a record being written right now) are not records.
    mutating func scan(fd: Int32, from: Int, to: Int, ids: Set<String>) {
        let chunk = 1 << 20
        var buf = [UInt8](repeating: 0, count: chunk)
        var pending = [UInt8]()
        var skipping = from > 0
        var overlong = false
        var offset = from
        while offset < to {
            let want = min(chunk, to - offset)
            let n: Int
            do {
                n = try buf.withUnsafeMutableBytes {
                    try FileDescriptor(rawValue: fd).read(fromAbsoluteOffset: Int64(offset), into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<want]))
                }
            } catch {
                problem = "cannot read \(file): \(errnoText((error as? Errno)?.rawValue ?? EIO))"
                return
            }
            if n == 0 { break }  // truncated while we read
            bytesRead += n
            offset += n
            buf.withUnsafeBytes { raw in
                var start = 0
                while start < n {
                    let rest = UnsafeRawBufferPointer(rebasing: raw[start..<n])
                    guard let hit = memchr(rest.baseAddress!, 10, rest.count) else {
                        if !skipping && !overlong {
                            pending.append(contentsOf: rest)
                            if pending.count > Self.maxLine { pending = []; overlong = true }
                        }
                        break
                    }
                    let end = start + (UnsafeRawPointer(hit) - UnsafeRawPointer(rest.baseAddress!))
                    if skipping {
                        skipping = false
                    } else if overlong {
                        overlong = false
                        malformed += 1
                    } else if pending.isEmpty {
                        line(UnsafeRawBufferPointer(rebasing: raw[start..<end]), ids: ids)
                    } else {
                        pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[start..<end]))
                        pending.withUnsafeBytes { line($0, ids: ids) }
                        pending = []
                    }
                    start = end + 1
                }
            }
        }
    }

    mutating func line(_ bytes: UnsafeRawBufferPointer, ids: Set<String>) {
        if bytes.isEmpty { return }
        // The first record read sets the horizon; after it only lines that may name a running id are parsed.
        guard !sawRecord || Self.mayName(bytes, ids) else { return }
        guard let doc = try? JSONDocument(bytes: Array(bytes), name: file) else {
            malformed += 1
            return
        }
        if !sawRecord {
            sawRecord = true
            horizon = horizon(of: doc.root)
        }
        consider(doc.root, ids: ids)
    }

    /// Whether the line has an `"id"` key whose string value is one of `ids` (or is escaped, so only
    /// the parser can tell). Fast and loose on purpose: a yes is parsed and checked at the top level.
    /// Unescaped `"id"` followed by `:` is a key: inside a string every quote is escaped.
    static func mayName(_ line: UnsafeRawBufferPointer, _ ids: Set<String>) -> Bool {
        let n = line.count
        guard let base = line.baseAddress else { return false }
        var i = 0
        while i + 4 <= n {
            guard let hit = memchr(base + i, 0x22, n - i) else { return false }
            let at = UnsafeRawPointer(hit) - base
            i = at + 1
            guard at + 4 <= n, line[at + 1] == UInt8(ascii: "i"), line[at + 2] == UInt8(ascii: "d"), line[at + 3] == 0x22 else { continue }
            var q = at + 4
            i = q
            func blanks() { while q < n && (line[q] == 32 || line[q] == 9 || line[q] == 13) { q += 1 } }
            blanks()
            guard q < n, line[q] == UInt8(ascii: ":") else { continue }
            q += 1
            blanks()
            guard q < n, line[q] == UInt8(ascii: "\"") else { continue }
            q += 1
            let s = q
            while q < n && line[q] != UInt8(ascii: "\"") && line[q] != UInt8(ascii: "\\") { q += 1 }
            guard q < n else { return false }
            if line[q] == UInt8(ascii: "\\") { return true }
            if ids.contains(String(decoding: UnsafeRawBufferPointer(rebasing: line[s..<q]), as: UTF8.self)) { return true }
        }
        return false
    }

    func horizon(of r: JSONNode) -> Horizon {
        if let b = r["boot"]?.string, let boot {
            if b != boot { return .earlierBoot }
            if let u = Self.number(r["uptime"]) { return .uptime(u) }
        }
        if let t = Self.number(r["time"]) { return .wallClock(t) }
        return .none
    }

    static func number(_ n: JSONNode?) -> Double? {
        switch n?.value {
        case .real(let d)?: d
        case .int(let i)?: Double(i)
        default: nil
        }
    }

    /// A decision for a running id, at the top level of the record, from a stage that decides starts,
    /// in this boot (a record without a boot id is from before records had one: it counts).
    mutating func consider(_ r: JSONNode, ids: Set<String>) {
        guard let id = r["id"]?.string, ids.contains(id),
              let stage = r["stage"]?.string, Self.admits(stage: stage),
              let decision = r["decision"]?.string, decision == "denied" || Self.starting.contains(decision) else { return }
        if let b = r["boot"]?.string, let boot, b != boot { return }
        decisions[id, default: []].append(Entry(stage: stage, decision: decision, file: file, uptime: Self.number(r["uptime"])))
        if decisions[id]!.count > Self.maxPerID { decisions[id]!.removeFirst() }
    }

    // MARK: - Judging

    /// Whether a decision covers the running container `c`; `sharing` other running containers have its
    /// id (under other runtime roots: ids are unique per root only).
    public func account(_ c: ContainerRecord, sharing: [ContainerRecord] = []) -> Accounting {
        if let problem { return Accounting(.unverified, "cannot account: \(problem)") }
        let started = ProcFS.startUptime(c.pid)
        let all = decisions[c.id] ?? []
        let around = all.filter { e in
            guard let u = e.uptime, let s = started else { return true }  // a record without uptime: by id alone
            return u >= s - Self.decisionLead && u <= s + Self.decisionLead
        }
        if !around.isEmpty && !sharing.isEmpty {
            return Accounting(.unverified, "\(sharing.count + 1) running containers have this id (" + ([c] + sharing).map(\.root).joined(separator: ", ")
                + "): a record names an id, not a runtime root, so which one it covers cannot be told")
        }
        if let e = around.last {
            if e.decision == "denied" {
                return Accounting(.denied, "DENIED by \(e.stage) (\(e.file)), yet running: it should not be running at all",
                                  stage: e.stage, decision: e.decision)
            }
            return Accounting(.accounted, "\(e.stage) logged \(e.decision) for this id (\(e.file))", stage: e.stage, decision: e.decision)
        }
        let covered: Bool
        switch horizon {
        case .none: covered = false
        case .earlierBoot: covered = true
        case .uptime(let u): covered = started.map { $0 >= u + Self.decisionLead } ?? false
        case .wallClock(let t):
            covered = started.flatMap { s in ProcFS.bootWallClock().map { $0 + s >= t + Self.decisionLead } } ?? false
        }
        if covered {
            let others = all.count - around.count
            return Accounting(.unaccounted, "no seccomp-warden decision (precreate, wrapper or gate) names this container id in \(path)"
                + (others == 0 ? "" : " within \(Int(Self.decisionLead)) s of its start (\(others) record\(others == 1 ? "" : "s") for the id \(others == 1 ? "is" : "are") about another start)"))
        }
        let why = horizon == .none ? "\(path) holds no record" + (notes.isEmpty ? "" : " (\(notes.joined(separator: "; ")))")
            : "the part of \(path) read begins after this container started" + (cut ? " (older records are over the \(limit)-byte limit)" : "")
        return Accounting(.unverified, "no decision names this id, but \(why): its decision may be in an older, rotated or unread part")
    }

    /// For the table: where the decisions came from and how far back.
    public var summary: String {
        if let problem { return "CANNOT ACCOUNT: \(problem); nothing is accounted and nothing is killed" }
        var s = "\(path), root's and writable by no one else; read \(bytesRead) bytes"
        switch horizon {
        case .none: s += ", no record"
        case .earlierBoot: s += ", back to before this boot"
        case .uptime(let u): s += ", back to \(Int(u)) s after boot"
        case .wallClock(let t): s += ", back to \(Int(t)) (Unix time)"
        }
        if cut { s += "; older records over the \(limit)-byte limit not read" }
        if malformed > 0 { s += "; \(malformed) line\(malformed == 1 ? "" : "s") not JSON" }
        if !notes.isEmpty { s += "; " + notes.joined(separator: "; ") }
        return s
    }

    public var json: JSON {
        var since: JSON = .null
        switch horizon {
        case .none: break
        case .earlierBoot: since = .string("before this boot")
        case .uptime(let u): since = .object([("uptime", .real(u))])
        case .wallClock(let t): since = .object([("time", .real(t))])
        }
        return .object([
            ("auditLog", .string(path)),
            ("trusted", .bool(problem == nil)),
            ("problem", problem.map { .string($0) } ?? .null),
            ("read", .array(read.map { .string($0) })),
            ("bytesRead", .int(Int64(bytesRead))),
            ("limit", .int(Int64(limit))),
            ("cut", .bool(cut)),
            ("since", since),
            ("malformedLines", .int(Int64(malformed))),
            ("notes", .array(notes.map { .string($0) })),
        ])
    }
}
