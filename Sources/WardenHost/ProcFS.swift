#if os(Linux)
import WardenCore
import Glibc
import SystemPackage
import WardenJSON

/// Foundation-free reads of /proc: small files read whole, folders listed, links read.
public enum ProcFS {
    /// The whole of a (small, pseudo) file, or nil when it cannot be opened (the task is gone).
    public static func read(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
        var fd: Int32
        repeat { fd = open(path, O_RDONLY | O_CLOEXEC) } while fd < 0 && errno == EINTR
        if fd < 0 { return nil }
        defer { close(fd) }
        // Read into one uninitialized buffer on the stack and keep what came (no zeroed chunk per read:
        // the verifier reads several /proc files per task, issue 14).
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16384) { chunk -> [UInt8]? in
            var out = [UInt8]()
            var size = 4096
            while true {
                let n = Glibc.read(fd, chunk.baseAddress!, size)
                if n < 0 {
                    if errno == EINTR { continue }
                    // Another error ends the read with what came so far.
                    return out.isEmpty ? nil : out
                }
                if n == 0 { break }
                out.append(contentsOf: UnsafeBufferPointer(start: chunk.baseAddress!, count: n))
                if out.count >= limit { break }
                size = 16384
            }
            return out
        }
    }

    public static func readText(_ path: String) -> String? {
        read(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The names in a folder (without "." and ".."), or nil when it cannot be opened.
    public static func list(_ path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var out = [String]()
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }

    /// The target of a symbolic link (for /proc/PID/ns/pid: "pid:[4026531836]").
    public static func readLink(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: 512)
        let n = buf.withUnsafeMutableBufferPointer { readlink(path, $0.baseAddress!, $0.count - 1) }
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Every numeric entry of /proc: the pids (thread-group leaders) this pid namespace shows.
    public static func pids() -> [Int32] {
        numericEntries("/proc")
    }

    /// The names of a folder that are positive decimal numbers (pids, tids), ascending, read as bytes.
    static func numericEntries(_ path: String) -> [Int32] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var out = [Int32]()
        while let entry = readdir(dir) {
            let value: Int32? = withUnsafeBytes(of: &entry.pointee.d_name) { name in
                var v: Int64 = 0, i = 0
                while i < name.count, name[i] != 0 {
                    let d = name[i] &- 0x30
                    if d > 9 || v > Int64(Int32.max) { return nil }
                    v = v * 10 + Int64(d)
                    i += 1
                }
                return i > 0 && v > 0 && v <= Int64(Int32.max) ? Int32(v) : nil
            }
            if let value { out.append(value) }
        }
        return out.sortedFew()  // procfs lists pids in order: checked, not sorted again
    }

    /// The threads of a process (its /proc/PID/task entries).
    public static func threads(of pid: Int32) -> [Int32] {
        numericEntries("/proc/\(pid)/task")
    }

    /// Fields 4 (ppid) and 22 (starttime, clock ticks after boot) of /proc/PID/stat.
    public static func stat(_ pid: Int32) -> (ppid: Int32, startTime: UInt64)? {
        guard let bytes = read("/proc/\(pid)/stat") else { return nil }
        // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let rest = bytes[(close + 1)...].split(separator: UInt8(ascii: " "))
        // rest[0] is field 3 (state); field N is rest[N - 3].
        guard rest.count > 19,
              let ppid = Int32(String(decoding: rest[1], as: UTF8.self)),
              let start = UInt64(String(decoding: rest[19], as: UTF8.self)) else { return nil }
        return (ppid, start)
    }

    /// When the process started, in seconds after boot (CLOCK_BOOTTIME, as /proc/PID/stat counts it).
    public static func startUptime(_ pid: Int32) -> Double? {
        guard let s = stat(pid) else { return nil }
        let hz = sysconf(Int32(_SC_CLK_TCK))
        return Double(s.startTime) / Double(hz > 0 ? hz : 100)
    }

    /// The wall-clock time of boot (`btime` of /proc/stat, whole seconds).
    public static func bootWallClock() -> Double? {
        guard let text = readText("/proc/stat") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6))
        }
        return nil
    }

    public static func exists(_ pid: Int32) -> Bool {
        access("/proc/\(pid)", F_OK) == 0
    }
}

/// A task's seccomp state as `/proc/PID/task/TID/status` tells it.
public struct TaskStatus: Equatable, Sendable {
    public enum Mode: Int, Sendable, CustomStringConvertible {
        case disabled = 0, strict = 1, filter = 2

        public var description: String {
            switch self {
            case .disabled: "disabled"
            case .strict: "strict"
            case .filter: "filter"
            }
        }
    }

    public var pid: Int32
    public var tid: Int32
    public var name: String
    /// nil when the kernel has no Seccomp line (built without CONFIG_SECCOMP).
    public var seccomp: Mode?
    /// nil before Linux 5.9 (no Seccomp_filters line).
    public var filters: Int?
    public var noNewPrivs: Bool?
    public var tracerPid: Int32
    /// The first letter of `State:` (R, S, D, T, t, Z, X, ...); nil when absent.
    public var state: Character?
    /// The thread group (process) the task belongs to (`Tgid:`); 0 when absent.
    public var tgid: Int32
    /// How many PID namespaces, from the one /proc belongs to down to the task's own, give it a pid
    /// (`NSpid:` entries); 1 means the task is in /proc's own PID namespace. nil when absent.
    public var pidNamespaceDepth: Int?

    /// A zombie or dead task: it makes no more system calls, and cannot be ptraced.
    public var isExited: Bool { state == "Z" || state == "X" }

    static let keys: [StaticString] = ["Name", "Seccomp", "Seccomp_filters", "NoNewPrivs", "TracerPid", "State", "Tgid", "NSpid"]

    /// The index in `keys` of the key these bytes spell exactly, or nil.
    static func key(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        for (i, k) in keys.enumerated() where k.utf8CodeUnitCount == bytes.count {
            if memcmp(k.utf8Start, bytes.baseAddress!, bytes.count) == 0 { return i }
        }
        return nil
    }

    /// A decimal integer as `Int(String)` reads one (an optional sign, then digits only); nil when it is not one or overflows.
    static func integer(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
        var i = 0, negative = false
        if i < b.count && (b[i] == 0x2b || b[i] == 0x2d) { negative = b[i] == 0x2d; i += 1 }
        guard i < b.count else { return nil }
        var v = 0
        while i < b.count {
            let d = Int(b[i]) - 0x30
            guard d >= 0 && d <= 9 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (n, o2) = negative ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
            if o1 || o2 { return nil }
            v = n
            i += 1
        }
        return v
    }

    /// Parses the text of a status file.
    public init?(pid: Int32, tid: Int32, text bytes: [UInt8]) {
        self.pid = pid
        self.tid = tid
        name = ""
        seccomp = nil
        filters = nil
        noNewPrivs = nil
        tracerPid = 0
        state = nil
        tgid = 0
        pidNamespaceDepth = nil
        var sawAny = false
        // One pass over the bytes: lines at newline bytes (empty ones skipped), the key before the first
        // colon, the value after it with blanks trimmed; numbers are read from the bytes, and only the
        // name becomes a String (a status file has some 55 lines, read per task: issue 14).
        bytes.withUnsafeBufferPointer { b in
            var start = 0
            while start < b.count {
                var end = start
                while end < b.count && b[end] != 10 { end += 1 }
                defer { start = end + 1 }
                var colon = start
                while colon < end && b[colon] != 0x3a { colon += 1 }
                if colon == end { continue }
                guard let key = Self.key(UnsafeBufferPointer(rebasing: b[start..<colon])) else { continue }
                var a = colon + 1, z = end
                while a < z && (b[a] == 0x20 || b[a] == 0x09) { a += 1 }
                while z > a && (b[z - 1] == 0x20 || b[z - 1] == 0x09 || b[z - 1] == 0x0d) { z -= 1 }
                let value = UnsafeBufferPointer(rebasing: b[a..<z])
                switch key {
                case 0: name = String(decoding: value, as: UTF8.self); sawAny = true
                case 1: seccomp = Self.integer(value).flatMap(Mode.init(rawValue:))
                case 2: filters = Self.integer(value)
                case 3: noNewPrivs = value.count == 1 && value[0] == 0x31
                case 4: tracerPid = Self.integer(value).flatMap { Int32(exactly: $0) } ?? 0
                case 5: state = value.isEmpty ? nil : value[0] < 0x80 ? Character(Unicode.Scalar(value[0])) : String(decoding: value, as: UTF8.self).first
                case 6: tgid = Self.integer(value).flatMap { Int32(exactly: $0) } ?? 0
                case 7:
                    var fields = 0, inField = false
                    for c in value {
                        let blank = c == 0x20 || c == 0x09
                        if !blank && !inField { fields += 1 }
                        inField = !blank
                    }
                    pidNamespaceDepth = fields
                default: break
                }
            }
        }
        if !sawAny { return nil }
    }

    /// Reads `/proc/PID/task/TID/status`; nil when the task is gone.
    public static func read(pid: Int32, tid: Int32) -> TaskStatus? {
        ProcFS.read("/proc/\(pid)/task/\(tid)/status").flatMap { TaskStatus(pid: pid, tid: tid, text: $0) }
    }

    /// Every thread of a process.
    public static func threads(of pid: Int32) -> [TaskStatus] {
        ProcFS.threads(of: pid).compactMap { read(pid: pid, tid: $0) }
    }

    /// The process a task id belongs to (its `Tgid:`), or nil when no such task exists.
    public static func threadGroup(of tid: Int32) -> Int32? {
        guard let bytes = ProcFS.read("/proc/\(tid)/status"), let s = TaskStatus(pid: tid, tid: tid, text: bytes), s.tgid > 0 else { return nil }
        return s.tgid
    }
}

extension String {
    /// Without leading and trailing blanks (/proc's `Name:\tvalue` lines).
    public var trimmingBlanks: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
#endif
