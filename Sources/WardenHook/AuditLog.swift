import WardenCore
import WardenJSON
import WardenPolicy
#if canImport(Glibc)
import Glibc
#endif

/// One JSON line per decision, appended with a single write(2) on an O_APPEND file, so
/// concurrent hooks never interleave. A log that cannot be written never changes the decision.
public enum AuditLog {
    public static let defaultPath = "/var/log/seccomp-warden/audit.log"
    /// The record's layout; raised when a field changes meaning or goes away (adding one does not).
    public static let schema = 1

    public static func path(policy: Policy?) -> String {
        if let env = getenv("SECCOMP_WARDEN_AUDIT_LOG"), env.pointee != 0 { return String(cString: env) }
        return policy?.auditLog ?? defaultPath
    }

    /// Appends the record of one `Enforcement` decision (see the next function for the fields).
    public static func record(policy: Policy?, stage: String, id: String?, bundle: String?, _ entry: Enforcement.AuditEntry,
                              idFrom: String? = nil, configDigest: String? = nil) {
        record(policy: policy, stage: stage, id: id, bundle: bundle, decision: entry.decision.rawValue, summary: entry.changes,
               reason: entry.reason, idFrom: idFrom, configDigest: configDigest)
    }

    /// Appends one record. `id` is the container's id and `idFrom` where it was read (`state`: the
    /// runtime's state on stdin; `argv`: the runtime's command line; for precreate the field of podman's
    /// config it came from); `configDigest` is the FNV-1a of the config.json judged or written.
    public static func record(policy: Policy?, stage: String, id: String?, bundle: String?, decision: String,
                              summary: [String], reason: String?, idFrom: String? = nil, configDigest: String? = nil) {
        func text(_ s: String?) -> JSON { s.map { .string($0) } ?? .null }
        // jansson escapes every value for JSON (quotes, backslashes, control characters): a value can
        // never end the line or the string it is in.
        let line: JSON = .object([
            ("schema", .int(Int64(schema))),
            ("time", .string(rfc3339(now(), fractionDigits: 6))),
            ("version", .string(WardenVersion.string)),
            ("stage", .string(stage)),
            ("id", text(id)),
            ("bundle", text(bundle)),
            ("idFrom", text(id == nil ? nil : idFrom ?? (stage.hasPrefix("wrapper-") ? "argv" : stage == "precreate" ? nil : "state"))),
            ("decision", .string(decision)),
            ("changes", .array(summary.map { .string($0) })),
            ("reason", text(reason)),
            ("configDigest", text(configDigest)),
            ("policy", .string(policy?.source ?? "unavailable")),
            ("policyDigest", .string(policy?.digest ?? "")),
            // Which boot, and when in it (CLOCK_BOOTTIME, the clock of a process's start time): `verify`
            // matches records to running containers by id within this boot, wall-clock steps aside.
            ("boot", bootID().map { .string($0) } ?? .null),
            ("uptime", .real(uptime())),
        ])
        var bytes = line.serialized(.compact)
        bytes.append(10)
        let file = path(policy: policy)
        mkdir(FileIO.dirname(of: file), 0o750)
        if let problem = LogFile.append(file, bytes) {
            printErr("seccomp-warden: audit log \(file): \(problem); the decision stands")
        }
    }

    static func now() -> timespec {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return ts
    }

    /// RFC 3339 in UTC: `2026-11-29T17:46:43.953957Z` (`fractionDigits` 0 drops the fraction).
    static func rfc3339(_ ts: timespec, fractionDigits: Int) -> String {
        var tm = tm()
        var secs = ts.tv_sec
        gmtime_r(&secs, &tm)
        var s = pad(Int(tm.tm_year) + 1900, 4) + "-" + pad(Int(tm.tm_mon) + 1, 2) + "-" + pad(Int(tm.tm_mday), 2)
            + "T" + pad(Int(tm.tm_hour), 2) + ":" + pad(Int(tm.tm_min), 2) + ":" + pad(Int(tm.tm_sec), 2)
        if fractionDigits > 0 {
            var frac = Int(ts.tv_nsec)
            for _ in fractionDigits..<9 { frac /= 10 }
            s += "." + pad(frac, fractionDigits)
        }
        return s + "Z"
    }

    /// This boot's random id (/proc/sys/kernel/random/boot_id, 36 characters), or nil when unreadable.
    public static func bootID() -> String? {
        let fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 64)
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n >= 36 else { return nil }
        let id = buf[0..<36]
        guard id.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) || $0 == 0x2d }) else { return nil }
        return String(decoding: id, as: UTF8.self)
    }

    /// Seconds since boot, suspend included (CLOCK_BOOTTIME).
    public static func uptime() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_BOOTTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// Appending a line to a log someone else named (the audit log, the runtime's `--log`).
enum LogFile {
    /// Opens `path` with O_APPEND|O_CREAT|O_NOFOLLOW|O_NONBLOCK and writes `bytes` in one write(2), if
    /// and only if it is a regular file: a FIFO, a device or a socket is never written (nor, where it
    /// can be seen first, opened), a symlink never followed, and nothing can block. Nor is a file with
    /// a second hard link (another name for, say, /etc/passwd, made in a folder others can write) or
    /// one another user owns (they could rewrite the records). Returns why it was not written, or nil.
    static func append(_ path: String, _ bytes: [UInt8]) -> String? {
        var st = stat()
        if lstat(path, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFLNK { return "is a symlink; not followed, not written" }
            if (st.st_mode & S_IFMT) != S_IFREG { return "is \(FileIO.fileTypeName(st.st_mode)), not a regular file; not written" }
        }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0o640)
        guard fd >= 0 else {
            let e = errno
            return e == ELOOP ? "is a symlink; not followed, not written" : "cannot open: \(errnoText(e))"
        }
        defer { close(fd) }
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            return "is \(FileIO.fileTypeName(st.st_mode)), not a regular file; not written"
        }
        if st.st_nlink != 1 { return "has \(st.st_nlink) hard links; not written (a log is written under its one name only)" }
        if st.st_uid != 0 && st.st_uid != geteuid() { return "is owned by uid \(st.st_uid); not written (they could rewrite it)" }
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n != bytes.count { return n < 0 ? "cannot write: \(errnoText(errno))" : "short write" }
        return nil
    }

}
