import WardenCore
import ArgumentParser
import WardenHook
import WardenJSON
import WardenPolicy
import WardenHost
import WardenVerify
import WardenSpec
#if canImport(Glibc)
import Glibc
#endif

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prove from the kernel's side that running containers carry the policy.",
        discussion: """
            Holds every thread of every process of the container (its PID namespace and those nested in \
            it, and any process in its own cgroup) in a ptrace stop, listing again until no new thread \
            appears; then reads each thread's /proc status (Seccomp mode, filters, NoNewPrivs) and its \
            loaded BPF with PTRACE_SECCOMP_GET_FILTER, detaches them all, and emulates each distinct \
            filter chain for every architecture the policy names and every syscall its deny rules name. \
            A thread that could not be stopped or read (traced by another process, stuck, not \
            permitted) makes the container UNVERIFIED. Needs root: CAP_SYS_PTRACE and CAP_SYS_ADMIN in \
            the host's user namespace, and no seccomp filter of its own.
            Container roots searched: /run/runc, /run/docker/runtime-runc/moby, /run/crun, \
            /run/containerd/runc/<namespace> (those that exist; at least one must for --all); --root DIR \
            (repeatable, must exist) replaces them. A root that cannot be read is an error.
            Backstop (--all): every running container must be covered by a decision in the audit log \
            ($SECCOMP_WARDEN_AUDIT_LOG, the policy's auditLog, else /var/log/seccomp-warden/audit.log): a \
            record with its id from podman's precreate, the runtime wrapper or a gate, in this boot and \
            within 2 minutes of its start, whose last word let it start (injected, tightened, compliant, \
            exempt, audit-only). None is UNACCOUNTED; a last word of denied is UNACCOUNTED too (it should \
            not be running). Both are findings (exit 1). The log must be root's and writable by no one else \
            (and its folder), else nothing is accounted (UNVERIFIED, exit 1). At most --audit-log-limit MiB \
            are read, newest first (the log, then <log>.1); a container that started before the first \
            record read (plus 2 minutes) is UNVERIFIED, not unaccounted. --kill-unaccounted SIGKILLs \
            containers no decision names, when the policy is in enforce mode (never in audit mode; a denied \
            one is reported, not killed). --no-accounting leaves the backstop out.
            Exit: 0 every check holds, 1 a container falls short, is unverified or unaccounted, 2 error \
            (nothing verified; --format prometheus then still prints seccomp_warden_scrape_error 1).
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, json, prometheus
    }

    @Option(help: "Verify one process (and the rest of its container).") var pid: Int32?
    @Option(help: "Verify a container by its runtime id.") var container: String?
    @Flag(help: "Verify every running container the roots know.") var all = false
    @Option(help: "A runtime state root (runc or crun format); repeatable. Default: the known roots.") var root: [String] = []
    @Flag(help: "Print JSON (same as --format json).") var json = false
    @Option(help: "Output: table, json, or prometheus (a node-exporter textfile).") var format: Format = .table
    @Flag(help: "Check /proc only; the loaded filters are not read, so no container can be more than unverified.") var noDeep = false
    @Flag(help: "With --all, in enforce mode: SIGKILL every unaccounted container.") var killUnaccounted = false
    @Flag(help: "With --all: leave out the backstop (no audit log is read, nothing is unaccounted).") var noAccounting = false
    @Option(help: "With --all: read at most this many MiB of the audit log, the newest.") var auditLogLimit = AuditLedger.defaultLimit >> 20
    @OptionGroup var policyOptions: PolicyOptions

    func validate() throws {
        let targets = [pid != nil, container != nil, all].filter { $0 }.count
        if targets != 1 { throw ValidationError("give exactly one of --pid PID, --container ID, --all") }
        if killUnaccounted && !all { throw ValidationError("--kill-unaccounted needs --all") }
        if killUnaccounted && noAccounting { throw ValidationError("--kill-unaccounted and --no-accounting exclude each other") }
        if auditLogLimit < 1 || auditLogLimit > 1 << 20 { throw ValidationError("--audit-log-limit takes 1 to 1048576 (MiB)") }
    }

    func run() throws {
        let code = VerifyRun(pid: pid, container: container, all: all, root: root, format: json ? .json : format,
                             noDeep: noDeep, killUnaccounted: killUnaccounted, noAccounting: noAccounting,
                             auditLogLimit: auditLogLimit, policyFile: policyOptions.policy).run()
        if code != 0 { throw ExitCode(code) }
    }
}

/// What `verify` does, however its command line was read: by ArgumentParser (`Verify`), or, for
/// `--pid` and `--container`, by `VerifyFastPath` without it.
struct VerifyRun {
    typealias Format = Verify.Format
    var pid: Int32?
    var container: String?
    var all = false
    var root: [String] = []
    var format: Format = .table
    var noDeep = false
    var killUnaccounted = false
    var noAccounting = false
    var auditLogLimit = AuditLedger.defaultLimit >> 20
    var policyFile: String?

    var accounting: Bool { all && !noAccounting }

    var effectiveFormat: Format { format }

    /// Exit: 0 holds, 1 falls short / unverified / unaccounted, 2 error (its one line on stderr).
    func run() -> Int32 {
        do throws(WardenError) {
            return try verify()
        } catch {
            reportError(error, json: effectiveFormat == .json, command: "verify", exit: 2)
            if effectiveFormat == .prometheus {
                // A textfile collector keeps the last file it read: say the scrape failed rather than leave it stale.
                try? FileIO.writeAll(fd: 1, Array(Self.prometheusError().utf8), name: "<stdout>")
            }
            return 2
        }
    }

    func verify() throws(WardenError) -> Int32 {
        let policy = try Policy.load(explicit: policyFile)
        let verifier = try Verifier(policy: policy, deep: !noDeep)
        // Privileges first: without them nothing can be seen, and an empty answer must not read as "ok".
        try Verifier.requirePrivileges(deep: !noDeep)
        if pid == nil, let ns = ProcFS.readLink("/proc/self/ns/pid"), ns != "pid:[4026531836]" {
            // The runtimes' records name host pids: from another PID namespace every container would look stopped.
            throw .system("--container and --all must run in the host's PID namespace (this is \(ns)): the runtimes' records name host pids")
        }
        let roots = try RuntimeState.usableRoots(root.isEmpty ? RuntimeState.defaultRoots : root, explicit: !root.isEmpty)
        var reports = [VerifyReport]()
        var skipped = [(ContainerRecord, String)]()
        if let pid {
            let record = RuntimeState.find(pid: pid, roots: roots)
            reports.append(try verifier.verify(pid: pid, config: .init(path: record?.configPath), container: record))
        } else if let container {
            guard let record = try RuntimeState.find(id: container, roots: roots) else {
                throw .input("no container \"\(container)\" under \(roots.isEmpty ? "(no runtime state root exists)" : roots.joined(separator: ", "))")
            }
            guard record.isRunning else { throw .input("container \(container) is not running (pid \(record.pid) is gone)") }
            reports.append(try verifier.verify(record))
        } else {
            if roots.isEmpty {
                throw .system("no runtime state root exists (\(RuntimeState.defaultRoots.joined(separator: ", "))): name one with --root")
            }
            for record in try RuntimeState.all(roots: roots) {
                guard record.isRunning && ContainerProcesses.isLive(record.pid) else { skipped.append((record, "not running")); continue }
                do {
                    reports.append(try verifier.verify(record))
                } catch {
                    // It stopped between the listing and the read: not a finding.
                    if record.isRunning && ContainerProcesses.isLive(record.pid) { throw error }
                    skipped.append((record, "exited during verify"))
                }
            }
        }
        // The backstop. The log is read after the containers were listed: a decision is logged before
        // the runtime records its container (the wrapper and precreate before the runtime runs, a gate
        // before runc or crun writes its state), so every container listed has its decision in it.
        var ledger: AuditLedger? = nil
        var killNote: String? = nil
        if accounting {
            let l = AuditLedger.read(path: AuditLog.path(policy: policy), ids: Set(reports.compactMap { $0.container?.id }),
                                     limit: auditLogLimit << 20)
            let running = reports.compactMap(\.container)
            for i in reports.indices {
                guard let c = reports[i].container else { continue }
                reports[i].accounting = l.account(c, sharing: running.filter { $0.id == c.id && $0.root != c.root })
            }
            if killUnaccounted {
                if !policy.mode.refuses {
                    killNote = "--kill-unaccounted: the policy (\(policy.source)) is in \(policy.mode.rawValue) mode: nothing was killed"
                } else if let problem = l.problem {
                    killNote = "--kill-unaccounted: cannot account (\(problem)): nothing was killed"
                } else {
                    // Unaccounted only: a container running though denied is reported, not killed (the denial
                    // may be of another attempt that used its id).
                    for i in reports.indices where reports[i].accounting?.status == .unaccounted {
                        guard let c = reports[i].container else { continue }
                        let (gone, said) = ContainerKill.kill(c)
                        reports[i].accounting?.kill = said
                        reports[i].accounting?.killed = gone && said.hasPrefix("KILLED")
                    }
                }
                if let killNote { printErr("seccomp-warden verify: \(killNote)") }
            }
            for i in reports.indices {
                if let a = reports[i].accounting { reports[i].checks.append(a.check) }
            }
            ledger = l
        }
        let ok = reports.allSatisfy(\.holds) && ledger?.problem == nil
        let overall = reports.contains { $0.outcome == .unaccounted } ? "unaccounted"
            : reports.contains { $0.outcome == .fallsShort } ? "falls_short" : ok ? "holds" : "unverified"
        switch effectiveFormat {
        case .table: printTable(reports, skipped: skipped, roots: roots, ledger: ledger, killNote: killNote)
        case .json:
            var fields: [(String, JSON)] = [
                ("schema", .int(Int64(jsonSchema))),
                ("status", .string(overall)),
                ("holds", .bool(ok)),
                ("policy", .string(policy.source)),
                ("policyDigest", .string(policy.digest)),
                ("roots", .array(roots.map { .string($0) })),
                ("targets", .array(reports.map(\.json))),
                ("skipped", .array(skipped.map { r, why in .object([("container", .string(r.id)), ("root", .string(r.root)), ("reason", .string(why))]) })),
            ]
            if let ledger {
                let unaccounted = reports.filter { $0.outcome == .unaccounted }
                var a = ledger.json
                if case .object(var f) = a {
                    f.append(("unaccounted", .array(unaccounted.compactMap { $0.container.map { .string($0.id) } })))
                    f.append(("killRequested", .bool(killUnaccounted)))
                    f.append(("killed", .array(unaccounted.filter { $0.accounting?.killed == true }.compactMap { $0.container.map { .string($0.id) } })))
                    f.append(("killNote", killNote.map { .string($0) } ?? .null))
                    a = .object(f)
                }
                fields.append(("accounting", a))
            }
            try FileIO.writeAll(fd: 1, JSON.object(fields).serialized(.indented), name: "<stdout>")
        case .prometheus:
            try FileIO.writeAll(fd: 1, Array(prometheus(reports, skipped: skipped, ledger: ledger).utf8), name: "<stdout>")
        }
        return ok ? 0 : 1
    }

    func printTable(_ reports: [VerifyReport], skipped: [(ContainerRecord, String)], roots: [String], ledger: AuditLedger?, killNote: String?) {
        if reports.isEmpty && all {
            print("no running containers under \(roots.joined(separator: ", "))")
        }
        for r in reports {
            var head = r.container.map { "container \($0.id) (\($0.format.rawValue), \($0.root)), pid \(r.pid)" } ?? "pid \(r.pid)"
            if let b = r.container?.bundle { head += ", bundle \(b)" }
            let verdict: String
            switch r.outcome {
            case .holds: verdict = "HOLDS"
            case .exempt: verdict = "EXEMPT"
            case .fallsShort: verdict = "FALLS SHORT" + (r.unverified.isEmpty ? "" : " (and partly UNVERIFIED)")
            case .unverified: verdict = "UNVERIFIED (not everything could be inspected: see the unverified checks)"
            case .unaccounted:
                verdict = (r.accounting?.status == .denied ? "UNACCOUNTED (its last decision DENIED it: it should not be running)"
                    : "UNACCOUNTED (no seccomp-warden decision covers it)")
                    + (r.accounting?.killed == true ? ", KILLED" : "")
                    + (r.findings.count > 1 ? ", and FALLS SHORT" : "")
            }
            print("\(head): \(verdict)")
            if let ex = r.exemptReason { print("  \(ex)") }
            let width = max(14, r.checks.map(\.check.count).max() ?? 0)
            print("  " + pad("CHECK", width) + "  " + pad("STATUS", 10) + "  EVIDENCE")
            for c in r.checks {
                print("  " + pad(c.check, width) + "  " + pad(c.status.rawValue, 10) + "  " + c.evidence)
            }
        }
        for (r, why) in skipped { print("container \(r.id) (\(r.format.rawValue), \(r.root)): skipped, \(why)") }
        if all {
            let short = reports.filter { $0.outcome == .fallsShort }.count
            let unverified = reports.filter { $0.outcome == .unverified }.count
            let unaccounted = reports.filter { $0.outcome == .unaccounted }.count
            print("\(reports.count) container\(reports.count == 1 ? "" : "s") verified: \(reports.count - short - unverified - unaccounted) hold, \(short) fall short, \(unverified) unverified"
                  + (ledger == nil ? "" : ", \(unaccounted) unaccounted"))
        }
        if let ledger {
            print("accounting: \(ledger.summary)")
            for r in reports where r.outcome == .unaccounted {
                guard let c = r.container, let a = r.accounting else { continue }
                print("UNACCOUNTED container \(c.id) (\(c.format.rawValue), \(c.root)), pid \(r.pid): \(a.evidence)" + (a.kill.map { "; \($0)" } ?? ""))
            }
            if let killNote { print(killNote) }
        }
    }

    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }

    static func gauge(_ name: String, _ help: String, _ rows: [(String, Int)]) -> String {
        var out = "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
        for (l, v) in rows { out += "\(name)\(l.isEmpty ? "" : "{\(l)}") \(v)\n" }
        return out
    }

    static func timestamp() -> String {
        "# HELP seccomp_warden_verify_timestamp_seconds When this verify ran.\n# TYPE seccomp_warden_verify_timestamp_seconds gauge\n"
            + "seccomp_warden_verify_timestamp_seconds \(time(nil))\n"
    }

    /// The textfile for a run that verified nothing (exit 2).
    static func prometheusError() -> String {
        gauge("seccomp_warden_scrape_error", "1 when verify could not run (privileges, runtime roots, policy): nothing was verified.", [("", 1)])
            + gauge("seccomp_warden_verify_ok", "1 when every verified container holds and nothing was left unverified.", [("", 0)])
            + timestamp()
    }

    func prometheus(_ reports: [VerifyReport], skipped: [(ContainerRecord, String)], ledger: AuditLedger?) -> String {
        func labels(_ r: VerifyReport) -> String {
            "container=\"\(prometheusLabel(r.container?.id ?? ""))\",runtime=\"\(prometheusLabel(r.container?.format.rawValue ?? ""))\",pid=\"\(r.pid)\""
        }
        var out = ""
        func metric(_ name: String, _ help: String, _ rows: [(String, Int)]) { out += Self.gauge(name, help, rows) }
        metric("seccomp_warden_container_seccomp_mode", "Seccomp mode of the container's init thread (0 disabled, 1 strict, 2 filter).",
               reports.map { (labels($0), $0.mode?.rawValue ?? -1) })
        metric("seccomp_warden_container_filters", "Seccomp filters attached to the container's init (Seccomp_filters).",
               reports.map { (labels($0), $0.loadedFilters?.count ?? $0.filters ?? -1) })
        metric("seccomp_warden_container_findings", "Checks that fall short of the site policy.",
               reports.map { (labels($0), $0.findings.count) })
        metric("seccomp_warden_container_denied_syscalls_allowed", "Site-denied syscalls the loaded filters let through.",
               reports.map { (labels($0), $0.syscallFindings.count) })
        metric("seccomp_warden_container_holds", "1 when every check holds for the container.",
               reports.map { (labels($0), $0.holds ? 1 : 0) })
        metric("seccomp_warden_unverified", "1 when something the guarantee needs could not be inspected in the container (a failure, like a finding).",
               reports.map { (labels($0), $0.unverified.isEmpty ? 0 : 1) })
        if let ledger {
            metric("seccomp_warden_unaccounted", "1 when no seccomp-warden decision in the audit log lets the running container run (none names it, or the last denied it): a finding.",
                   reports.map { (labels($0), $0.accounting?.isFinding == true ? 1 : 0) })
            metric("seccomp_warden_unaccounted_killed", "1 when --kill-unaccounted killed the container in this run.",
                   reports.filter { $0.accounting?.status == .unaccounted }.map { (labels($0), $0.accounting?.killed == true ? 1 : 0) })
            metric("seccomp_warden_accounting_error", "1 when the audit log could not be trusted or read: no container is accounted.",
                   [("", ledger.problem == nil ? 0 : 1)])
        }
        let short = reports.filter { $0.outcome == .fallsShort }.count
        let unverified = reports.filter { $0.outcome == .unverified }.count
        let unaccounted = reports.filter { $0.outcome == .unaccounted }.count
        var results = [("result=\"holds\"", reports.count - short - unverified - unaccounted), ("result=\"falls_short\"", short),
                       ("result=\"unverified\"", unverified)]
        if ledger != nil { results.append(("result=\"unaccounted\"", unaccounted)) }
        results.append(("result=\"skipped\"", skipped.count))
        metric("seccomp_warden_containers", "Running containers verified, by result.", results)
        metric("seccomp_warden_scrape_error", "1 when verify could not run (privileges, runtime roots, policy): nothing was verified.", [("", 0)])
        metric("seccomp_warden_verify_ok", "1 when every verified container holds, is accounted for, and nothing was left unverified.",
               [("", reports.allSatisfy(\.holds) && ledger?.problem == nil ? 1 : 0)])
        out += Self.timestamp()
        return out
    }
}
