import ArgumentParser
import WardenHook
import WardenJSON
import WardenPolicy
import WardenProc
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
            Exit: 0 every check holds, 1 a container falls short or is unverified, 2 error (nothing \
            verified; --format prometheus then still prints seccomp_warden_scrape_error 1).
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
    @OptionGroup var policyOptions: PolicyOptions

    func validate() throws {
        let targets = [pid != nil, container != nil, all].filter { $0 }.count
        if targets != 1 { throw ValidationError("give exactly one of --pid PID, --container ID, --all") }
    }

    var effectiveFormat: Format { json ? .json : format }

    func run() throws {
        let code: Int32
        do throws(WardenError) {
            code = try verify()
        } catch {
            printErr("seccomp-warden verify: \(error)")
            if effectiveFormat == .prometheus {
                // A textfile collector keeps the last file it read: say the scrape failed rather than leave it stale.
                try? FileIO.writeAll(fd: 1, Array(Self.prometheusError().utf8), name: "<stdout>")
            }
            throw ExitCode(2)
        }
        if code != 0 { throw ExitCode(code) }
    }

    func verify() throws(WardenError) -> Int32 {
        let policy = try Policy.load(explicit: policyOptions.policy)
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
            var config: OCIConfig? = nil
            if let path = record?.configPath { config = try? Bundle.loadConfig(path) }
            reports.append(try verifier.verify(pid: pid, config: config, container: record))
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
        let ok = reports.allSatisfy(\.holds)
        let overall = reports.contains { $0.outcome == .fallsShort } ? "falls_short" : ok ? "holds" : "unverified"
        switch effectiveFormat {
        case .table: printTable(reports, skipped: skipped, roots: roots)
        case .json:
            let out: JSON = .object([
                ("status", .string(overall)),
                ("holds", .bool(ok)),
                ("policy", .string(policy.source)),
                ("policyDigest", .string(policy.digest)),
                ("roots", .array(roots.map { .string($0) })),
                ("targets", .array(reports.map(\.json))),
                ("skipped", .array(skipped.map { r, why in .object([("container", .string(r.id)), ("root", .string(r.root)), ("reason", .string(why))]) })),
            ])
            try FileIO.writeAll(fd: 1, out.serialized(.indented), name: "<stdout>")
        case .prometheus:
            try FileIO.writeAll(fd: 1, Array(prometheus(reports, skipped: skipped).utf8), name: "<stdout>")
        }
        return ok ? 0 : 1
    }

    func printTable(_ reports: [VerifyReport], skipped: [(ContainerRecord, String)], roots: [String]) {
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
            print("\(reports.count) container\(reports.count == 1 ? "" : "s") verified: \(reports.count - short - unverified) hold, \(short) fall short, \(unverified) unverified")
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

    func prometheus(_ reports: [VerifyReport], skipped: [(ContainerRecord, String)]) -> String {
        func esc(_ s: String) -> String {
            var o = ""
            for c in s {
                switch c {
                case "\\": o += "\\\\"
                case "\"": o += "\\\""
                case "\n": o += "\\n"
                default: o.append(c)
                }
            }
            return o
        }
        func labels(_ r: VerifyReport) -> String {
            "container=\"\(esc(r.container?.id ?? ""))\",runtime=\"\(esc(r.container?.format.rawValue ?? ""))\",pid=\"\(r.pid)\""
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
        let short = reports.filter { $0.outcome == .fallsShort }.count
        let unverified = reports.filter { $0.outcome == .unverified }.count
        metric("seccomp_warden_containers", "Running containers verified, by result.",
               [("result=\"holds\"", reports.count - short - unverified), ("result=\"falls_short\"", short),
                ("result=\"unverified\"", unverified), ("result=\"skipped\"", skipped.count)])
        metric("seccomp_warden_scrape_error", "1 when verify could not run (privileges, runtime roots, policy): nothing was verified.", [("", 0)])
        metric("seccomp_warden_verify_ok", "1 when every verified container holds and nothing was left unverified.",
               [("", reports.allSatisfy(\.holds) ? 1 : 0)])
        out += Self.timestamp()
        return out
    }
}
