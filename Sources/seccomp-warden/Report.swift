import WardenCore
import ArgumentParser
import Glibc
import WardenHook
import WardenJSON
import WardenHost
import WardenVerify

/// `report`: which containers called what an observe policy logs, i.e. what enforce would deny.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per container, the syscalls an observe policy logged (SCMP_ACT_LOG): what enforce would deny.",
        discussion: """
            Reads the kernel's seccomp records (audit type 1326) from /dev/kmsg and, when auditd runs, \
            /var/log/audit/audit.log, keeps those with the LOG action, and names each caller's container \
            through its pid while the process lives (the runtimes' state roots and /proc); a record whose \
            process exited, or whose pid is another process's now, is unattributed. The kernel rate-limits \
            what it prints: each "callbacks suppressed" line is counted and shown, and the counts are then \
            lower bounds. Exit: 0 done, 3 the logs cannot be read.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json, prometheus }

    @Option(help: "Only records of the last DURATION (e.g. 90s, 30m, 12h, 7d).") var since: String?
    @Flag(help: "Print JSON (same as --format json).") var json = false
    @Option(help: "Output: table, json, or prometheus (a node-exporter textfile).") var format: Format = .table
    @Option(help: "A runtime state root (runc or crun format); repeatable. Default: the known roots.") var root: [String] = []
    @Option(help: "Read these log files instead of /dev/kmsg and auditd's log (kmsg, dmesg or audit.log lines); repeatable.")
    var log: [String] = []

    func validate() throws {
        if let since, Self.seconds(since) == nil { throw ValidationError("--since takes a number with s, m, h or d (e.g. 30m), not \"\(since)\"") }
    }

    /// `90s`, `30m`, `12h`, `7d` in seconds.
    static func seconds(_ s: String) -> Double? {
        guard let unit = s.last, let n = Double(s.dropLast()), n >= 0 else { return nil }
        switch unit {
        case "s": return n
        case "m": return n * 60
        case "h": return n * 3600
        case "d": return n * 86400
        default: return nil
        }
    }

    func run() throws {
        try runReportingErrors {
            let boot = ProcFS.bootWallClock()
            var lines = [String]()
            var sources = [String]()
            var lost = 0
            if log.isEmpty {
                let k = SeccompLog.readKmsg()
                if let e = k.error { throw WardenError.system("cannot read /dev/kmsg: \(String(cString: strerror(e)))" + (e == EPERM || e == EACCES ? " (run report as root)" : "")) }
                lines += k.lines
                lost = k.overwritten
                sources.append("/dev/kmsg")
                if FileIO.exists("/var/log/audit/audit.log") { log_(&lines, "/var/log/audit/audit.log"); sources.append("/var/log/audit/audit.log") }
            } else {
                for file in log { log_(&lines, file); sources.append(file) }
            }
            // SCMP_ACT_LOG is written only while the kernel logs that action (the default).
            if let logged = ProcFS.readText("/proc/sys/kernel/seccomp/actions_logged"),
               !logged.split(whereSeparator: { $0 == " " || $0 == "\n" }).contains("log") {
                printErr("seccomp-warden report: warning: /proc/sys/kernel/seccomp/actions_logged lacks \"log\": the kernel records no SCMP_ACT_LOG call, so no count here can grow")
            }
            let entries = lines.compactMap { SeccompLog.parse($0[...], bootTime: boot) }
            let now = Double(time(nil))
            let from = since.flatMap(Self.seconds).map { now - $0 }
            let roots = try RuntimeState.usableRoots(root.isEmpty ? RuntimeState.defaultRoots : root, explicit: !root.isEmpty)
            let attributor = Attributor(roots: roots)
            let summary = WouldDeny.summarize(entries, since: from, attribute: attributor.attribute)
            let out: String
            switch json ? .json : format {
            case .table: out = table(summary, from: from, sources: sources, lost: lost)
            case .json:
                out = String(decoding: Self.json(summary, from: from, sources: sources, lost: lost).serialized(.indented), as: UTF8.self) + "\n"
            case .prometheus: out = Self.prometheus(summary)
            }
            try FileIO.writeAll(fd: 1, Array(out.utf8), name: "<stdout>")
        }
    }

    func log_(_ lines: inout [String], _ file: String) {
        guard let bytes = ProcFS.read(file, limit: 256 << 20) else {
            printErr("seccomp-warden report: cannot read \(file): \(String(cString: strerror(errno)))")
            return
        }
        lines += bytes.split(separator: 10).map { String(decoding: $0, as: UTF8.self) }
    }

    static func stamp(_ t: Double) -> String {
        var secs = time_t(t)
        var tm = tm()
        gmtime_r(&secs, &tm)
        func p(_ v: Int32, _ w: Int) -> String { let d = "\(v)"; return String(repeating: "0", count: max(0, w - d.count)) + d }
        return "\(p(tm.tm_year + 1900, 4))-\(p(tm.tm_mon + 1, 2))-\(p(tm.tm_mday, 2))T\(p(tm.tm_hour, 2)):\(p(tm.tm_min, 2)):\(p(tm.tm_sec, 2))Z"
    }

    static func title(_ a: Attribution) -> String {
        switch a {
        case .container(let c):
            var s = "container \(c.id) (\(c.root))"
            if let ns = c.namespace { s += " namespace \(ns)" }
            if let pod = c.pod { s += " pod \(pod)" }
            if let name = c.container { s += " container \(name)" }
            if let image = c.image { s += " image \(image)" }
            return s
        case .unattributed(let why): return "unattributed (\(why))"
        }
    }

    /// What the numbers cannot say: rate limiting, lost records, records older than the log holds.
    static func caveats(_ s: WouldDeny, from: Double?, lost: Int) -> [String] {
        var out = [String]()
        if s.suppressedLines > 0 {
            out.append("the kernel suppressed \(s.suppressedMessages) audit messages (\(s.suppressedLines) \"callbacks suppressed\" lines): some may have been these records; every count is a lower bound")
        }
        if lost > 0 { out.append("\(lost) kernel log records were overwritten while being read") }
        if let from, let oldest = s.oldest, oldest > from {
            out.append("the kernel log's oldest seccomp record is from \(stamp(oldest)): earlier ones are gone")
        }
        return out
    }

    func table(_ s: WouldDeny, from: Double?, sources: [String], lost: Int) -> String {
        var out = "seccomp-warden report: calls logged by SCMP_ACT_LOG (what enforce would deny), from \(sources.joined(separator: ", "))"
            + (from.map { " since \(Self.stamp($0))" } ?? "") + "\n"
        if s.groups.isEmpty { out += "no logged calls\n" }
        for g in s.groups {
            out += "\n\(Self.title(g.attribution))\n"
            if !g.exes.isEmpty { out += "  exe: \(g.exes.joined(separator: ", "))\n" }
            let width = max(8, g.rows.map(\.syscall.count).max() ?? 0)
            func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(1, w - s.count + 1)) }
            out += "  " + pad("SYSCALL", width) + pad("ARCH", 7) + pad("COUNT", 6) + pad("FIRST", 20) + "LAST\n"
            for r in g.rows {
                out += "  " + pad(r.syscall, width) + pad(r.arch, 7) + pad("\(r.count)", 6) + pad(Self.stamp(r.first), 20) + Self.stamp(r.last) + "\n"
            }
        }
        for c in Self.caveats(s, from: from, lost: lost) { out += "note: \(c)\n" }
        return out
    }

    static func json(_ s: WouldDeny, from: Double?, sources: [String], lost: Int) -> JSON {
        func opt(_ v: String?) -> JSON { v.map { .string($0) } ?? .null }
        let groups: [JSON] = s.groups.map { g in
            var fields: [(String, JSON)]
            switch g.attribution {
            case .container(let c):
                fields = [("container", .string(c.id)), ("root", .string(c.root)), ("namespace", opt(c.namespace)),
                          ("pod", opt(c.pod)), ("name", opt(c.container)), ("image", opt(c.image)), ("unattributed", .null)]
            case .unattributed(let why):
                fields = [("container", .null), ("unattributed", .string(why))]
            }
            fields.append(("exes", .array(g.exes.map { .string($0) })))
            fields.append(("syscalls", .array(g.rows.map { r in
                .object([("syscall", .string(r.syscall)), ("nr", .int(r.nr)), ("arch", .string(r.arch)), ("count", .int(Int64(r.count))),
                         ("first", .string(stamp(r.first))), ("last", .string(stamp(r.last)))])
            })))
            return .object(fields)
        }
        return .object([
            ("schema", .int(1)),
            ("sources", .array(sources.map { .string($0) })),
            ("since", from.map { .string(stamp($0)) } ?? .null),
            ("oldestRecord", s.oldest.map { .string(stamp($0)) } ?? .null),
            ("suppressed", .object([("lines", .int(Int64(s.suppressedLines))), ("messages", .int(Int64(s.suppressedMessages)))])),
            ("overwritten", .int(Int64(lost))),
            ("otherActions", .int(Int64(s.otherActions))),
            ("groups", .array(groups)),
            ("notes", .array(caveats(s, from: from, lost: lost).map { .string($0) })),
        ])
    }

    static func prometheus(_ s: WouldDeny) -> String {
        var out = "# HELP seccomp_warden_would_deny_total Calls an observe policy logged (SCMP_ACT_LOG) in the kernel log's records, per container and syscall: what enforce would deny. A lower bound when the kernel suppressed messages.\n"
            + "# TYPE seccomp_warden_would_deny_total counter\n"
        var series = [(String, Int)]()
        for g in s.groups {
            var labels: String
            switch g.attribution {
            case .container(let c):
                labels = "container=\"\(prometheusLabel(c.id))\",namespace=\"\(prometheusLabel(c.namespace ?? ""))\",pod=\"\(prometheusLabel(c.pod ?? ""))\""
            case .unattributed:
                labels = "container=\"\",namespace=\"\",pod=\"\""
            }
            for r in g.rows {
                // Unattributed groups share one series per syscall: summed.
                let key = "\(labels),syscall=\"\(prometheusLabel(r.syscall))\",arch=\"\(r.arch)\""
                if let i = series.firstIndex(where: { $0.0 == key }) { series[i].1 += r.count } else { series.append((key, r.count)) }
            }
        }
        for (key, n) in series { out += "seccomp_warden_would_deny_total{\(key)} \(n)\n" }
        out += "# HELP seccomp_warden_audit_suppressed_total Audit messages the kernel said it suppressed (\"callbacks suppressed\") in the records read.\n"
            + "# TYPE seccomp_warden_audit_suppressed_total counter\n"
            + "seccomp_warden_audit_suppressed_total \(s.suppressedMessages)\n"
        return out
    }
}
