#if os(Linux)
import WardenCore
import Glibc
import WardenSeccomp
import WardenSpec

/// One seccomp record (audit type 1326, SECCOMP) as the kernel wrote it: to the kernel log when no
/// audit daemon listens, else to auditd's log.
public struct SeccompRecord: Equatable, Sendable {
    /// Seconds since the epoch, from the record's own `audit(SECONDS.MILLIS:SERIAL)` stamp.
    public var time: Double
    public var serial: UInt64
    public var pid: Int32
    public var comm: String?
    public var exe: String?
    /// AUDIT_ARCH of the call (x32 calls carry x86_64's, with bit 30 set in the number).
    public var arch: UInt32
    public var syscall: Int64
    /// The filter's return value: SCMP_ACT_LOG is 0x7ffc0000.
    public var code: UInt32

    /// The call was logged and let through (SECCOMP_RET_LOG): one the policy observes.
    public var isLog: Bool { code & 0xffff_0000 == 0x7ffc_0000 }

    /// The ABI of the call, as libseccomp names architectures.
    public var abi: SeccompArch? {
        if arch == Syscalls.token(.x86_64) && syscall & 0x4000_0000 != 0 { return .x32 }
        return SeccompArch.allCases.first { Syscalls.token($0) == arch }
    }

    /// The syscall's name on its ABI (libseccomp's tables); nil for a number they do not know.
    public var syscallName: String? {
        guard let abi, let nr = Int32(exactly: syscall) else { return nil }
        return Syscalls.name(nr, arch: abi)
    }
}

/// One line of a log that matters to `report`.
public enum SeccompLogEntry: Equatable, Sendable {
    case record(SeccompRecord)
    /// `kauditd_printk_skb: N callbacks suppressed`: the kernel dropped N audit messages from its log
    /// (printk rate limiting); some may have been seccomp records. `time`: seconds since the epoch,
    /// from the kernel log's own stamp when the caller gave the boot time, else nil.
    case suppressed(count: Int, time: Double?)
}

/// Parses the lines `report` reads: /dev/kmsg records (`PRI,SEQ,USEC,FLAGS;MESSAGE`), dmesg's
/// `[SECONDS] MESSAGE`, and auditd's `type=SECCOMP msg=audit(…): …`.
public enum SeccompLog {
    public static func parse(_ line: Substring, bootTime: Double? = nil) -> SeccompLogEntry? {
        var message = line
        var usec: Double? = nil
        // /dev/kmsg: "PRI,SEQ,USEC,FLAGS;MESSAGE" (continuation lines start with a space).
        if let semi = line.firstIndex(of: ";"), line.first?.isNumber == true {
            let head = line[..<semi].split(separator: ",")
            // The kernel's own lines have facility 0 (PRI below 8); whatever a process writes to
            // /dev/kmsg gets at least LOG_USER, so it cannot pass for a seccomp record.
            guard let pri = head.first.flatMap({ Int($0) }), pri < 8 else { return nil }
            if head.count >= 3 { usec = Double(head[2]) }
            message = line[line.index(after: semi)...]
        }
        if let r = find("callbacks suppressed", in: message), find("kauditd_printk_skb", in: message) != nil {
            let before = message[..<r.lowerBound].split(separator: " ")
            guard let n = before.last.flatMap({ Int($0) }) else { return nil }
            return .suppressed(count: n, time: usec.flatMap { u in bootTime.map { $0 + u / 1e6 } })
        }
        guard find("type=1326", in: message) != nil || find("type=SECCOMP", in: message) != nil else { return nil }
        guard let stamp = find("audit(", in: message) else { return nil }
        let afterStamp = message[stamp.upperBound...]
        guard let close = afterStamp.firstIndex(of: ")") else { return nil }
        let parts = afterStamp[..<close].split(separator: ":")
        guard parts.count == 2, let time = Double(parts[0]), let serial = UInt64(parts[1]) else { return nil }
        let fields = Self.fields(afterStamp[afterStamp.index(after: close)...])
        guard let pid = fields["pid"].flatMap({ Int32($0) }),
              let arch = fields["arch"].flatMap({ UInt32($0, radix: 16) }),
              let nr = fields["syscall"].flatMap({ Int64($0) }),
              let codeText = fields["code"], codeText.hasPrefix("0x"),
              let code = UInt32(codeText.dropFirst(2), radix: 16) else { return nil }
        return .record(SeccompRecord(time: time, serial: serial, pid: pid, comm: fields["comm"], exe: fields["exe"],
                                     arch: arch, syscall: nr, code: code))
    }

    /// The first occurrence of `needle` in `text` (no Foundation).
    static func find(_ needle: String, in text: Substring) -> Range<Substring.Index>? {
        let n = Array(needle.utf8)
        let u = text.utf8
        guard !n.isEmpty, u.count >= n.count else { return nil }
        var i = u.startIndex
        while let start = u[i...].firstIndex(of: n[0]) {
            var a = start, k = 0
            while k < n.count, a < u.endIndex, u[a] == n[k] { a = u.index(after: a); k += 1 }
            if k == n.count { return start..<a }
            i = u.index(after: start)
        }
        return nil
    }

    /// `key=value` pairs: a quoted value as written, an unquoted one as written unless it is the
    /// audit subsystem's hex encoding of a string it would not quote (comm and exe with spaces).
    static func fields(_ text: Substring) -> [String: String] {
        var out = [String: String]()
        var i = text.startIndex
        while i < text.endIndex {
            while i < text.endIndex && (text[i] == " " || text[i] == "\u{1d}") { i = text.index(after: i) }
            guard let eq = text[i...].firstIndex(of: "=") else { break }
            let key = String(text[i..<eq])
            var j = text.index(after: eq)
            var value: String
            if j < text.endIndex && text[j] == "\"" {
                j = text.index(after: j)
                let end = text[j...].firstIndex(of: "\"") ?? text.endIndex
                value = String(text[j..<end])
                i = end < text.endIndex ? text.index(after: end) : end
            } else {
                let end = text[j...].firstIndex { $0 == " " || $0 == "\u{1d}" } ?? text.endIndex
                value = String(text[j..<end])
                if key == "comm" || key == "exe", let decoded = hexDecoded(value) { value = decoded }
                i = end
            }
            if out[key] == nil { out[key] = value }
        }
        return out
    }

    static func hexDecoded(_ s: String) -> String? {
        let u = Array(s.utf8)
        guard !u.isEmpty, u.count % 2 == 0, s.allSatisfy(\.isHexDigit) else { return nil }
        var bytes = [UInt8]()
        var k = 0
        while k < u.count {
            guard let b = UInt8(String(decoding: u[k..<k + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(b)
            k += 2
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Every record of the kernel's log buffer, oldest first, read from /dev/kmsg without blocking.
    /// `overwritten`: records the kernel overwrote while we read (EPIPE), which are lost.
    public static func readKmsg(path: String = "/dev/kmsg") -> (lines: [String], overwritten: Int, error: Int32?) {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 { return ([], 0, errno) }
        defer { close(fd) }
        var lines = [String]()
        var lost = 0
        var buf = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = read(fd, &buf, buf.count)
            if n > 0 {
                // One record per read; only its first line (the rest are KEY=VALUE continuations).
                let end = buf[0..<n].firstIndex(of: 10) ?? n
                lines.append(String(decoding: buf[0..<end], as: UTF8.self))
            } else if n < 0 && errno == EPIPE {
                lost += 1
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                break  // EAGAIN: the end of the buffer
            }
        }
        return (lines, lost, nil)
    }
}
#endif

#if os(Linux)
/// The calls an observe policy logged, per container: what enforce would deny.
public struct WouldDeny: Sendable {
    public struct Row: Equatable, Sendable {
        /// libseccomp's name of the ABI, or the AUDIT_ARCH value in hex.
        public var arch: String
        /// The syscall's name on that ABI, or `nr N` where libseccomp does not know the number.
        public var syscall: String
        public var nr: Int64
        public var count: Int
        public var first: Double
        public var last: Double
    }

    public struct Group: Sendable {
        public var attribution: Attribution
        /// The executables that made the calls (from the records).
        public var exes: [String]
        public var rows: [Row]
    }

    public var groups: [Group] = []
    /// `callbacks suppressed` lines in the window, and the audit messages they say the kernel dropped.
    public var suppressedLines = 0
    public var suppressedMessages = 0
    /// Seccomp records in the window with another action than LOG (denials, kills): not counted here.
    public var otherActions = 0
    /// The oldest seccomp record the log still held (any window): earlier ones are gone.
    public var oldest: Double?

    /// Groups the LOG records at or after `since` (seconds since the epoch) by `attribute`'s answer,
    /// then by ABI and syscall. A record read twice (kmsg and auditd's log) counts once.
    public static func summarize(_ entries: [SeccompLogEntry], since: Double?,
                                 attribute: (Int32, Double) -> Attribution) -> WouldDeny {
        var out = WouldDeny()
        var seen = Set<String>()
        var groups = [Attribution: (exes: Set<String>, rows: [String: Row])]()
        var order = [Attribution]()
        for entry in entries {
            switch entry {
            case .suppressed(let n, let time):
                if let since, let time, time < since { continue }
                out.suppressedLines += 1
                out.suppressedMessages += n
            case .record(let r):
                out.oldest = min(out.oldest ?? r.time, r.time)
                if let since, r.time < since { continue }
                guard seen.insert("\(r.time):\(r.serial)").inserted else { continue }
                guard r.isLog else { out.otherActions += 1; continue }
                let who = attribute(r.pid, r.time)
                if groups[who] == nil { groups[who] = ([], [:]); order.append(who) }
                if let exe = r.exe { groups[who]!.exes.insert(exe) }
                let arch = r.abi?.libseccompName ?? "0x" + String(r.arch, radix: 16)
                let name = r.syscallName ?? "nr \(r.syscall & 0x3fff_ffff)"
                let key = arch + " " + name
                if var row = groups[who]!.rows[key] {
                    row.count += 1
                    row.first = min(row.first, r.time)
                    row.last = max(row.last, r.time)
                    groups[who]!.rows[key] = row
                } else {
                    groups[who]!.rows[key] = Row(arch: arch, syscall: name, nr: r.syscall & 0x3fff_ffff, count: 1, first: r.time, last: r.time)
                }
            }
        }
        out.groups = order.map { who in
            Group(attribution: who, exes: groups[who]!.exes.sorted(),
                  rows: groups[who]!.rows.values.sorted { ($0.syscall, $0.arch) < ($1.syscall, $1.arch) })
        }
        return out
    }
}
#endif
