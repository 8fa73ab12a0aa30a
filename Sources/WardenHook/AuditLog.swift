import WardenJSON
import WardenPolicy
#if canImport(Glibc)
import Glibc
#endif

/// One JSON line per decision, appended with a single write(2) on an O_APPEND file, so
/// concurrent hooks never interleave. A log that cannot be written never changes the decision.
public enum AuditLog {
    public static let defaultPath = "/var/log/seccomp-warden/audit.log"

    public static func path(policy: Policy?) -> String {
        if let env = getenv("SECCOMP_WARDEN_AUDIT_LOG"), env.pointee != 0 { return String(cString: env) }
        return policy?.auditLog ?? defaultPath
    }

    public static func record(policy: Policy?, stage: String, id: String?, bundle: String?, decision: String,
                              summary: [String], reason: String?) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let line: JSON = .object([
            ("time", .real(Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9)),
            ("stage", .string(stage)),
            ("id", id.map { .string($0) } ?? .null),
            ("bundle", bundle.map { .string($0) } ?? .null),
            ("decision", .string(decision)),
            ("changes", .array(summary.map { .string($0) })),
            ("reason", reason.map { .string($0) } ?? .null),
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
        let fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o640)
        guard fd >= 0 else {
            printErr("seccomp-warden: audit log \(file): \(errnoText(errno)); the decision stands")
            return
        }
        defer { close(fd) }
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n != bytes.count { printErr("seccomp-warden: audit log \(file): short write; the decision stands") }
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
