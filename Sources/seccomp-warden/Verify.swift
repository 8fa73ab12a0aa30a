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
            Reads /proc/PID/task/*/status of every process in the container (Seccomp mode, filters, \
            NoNewPrivs), reads the loaded BPF with PTRACE_SECCOMP_GET_FILTER (the process is interrupted for \
            the read and always detached), and emulates it for every architecture the policy names and every \
            syscall its deny rules name. Without ptrace permission it says so and checks /proc only.
            Container roots searched: /run/runc, /run/docker/runtime-runc/moby, /run/crun, \
            /run/containerd/runc/<namespace>; --root DIR (repeatable) replaces them.
            Exit: 0 every check holds, 1 findings, 2 error.
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
    @Flag(help: "Check /proc only; do not read the loaded filters.") var noDeep = false
    @OptionGroup var policyOptions: PolicyOptions

    func validate() throws {
        let targets = [pid != nil, container != nil, all].filter { $0 }.count
        if targets != 1 { throw ValidationError("give exactly one of --pid PID, --container ID, --all") }
    }

    func run() throws {
        let code: Int32
        do throws(WardenError) {
            code = try verify()
        } catch {
            printErr("seccomp-warden verify: \(error)")
            throw ExitCode(2)
        }
        if code != 0 { throw ExitCode(code) }
    }

    func verify() throws(WardenError) -> Int32 {
        let policy = try Policy.load(explicit: policyOptions.policy)
        let verifier = try Verifier(policy: policy, deep: !noDeep)
        let roots = root.isEmpty ? RuntimeState.defaultRoots : root
        var reports = [VerifyReport]()
        var skipped = [(ContainerRecord, String)]()
        if let pid {
            let record = RuntimeState.find(pid: pid, roots: roots)
            var config: OCIConfig? = nil
            if let path = record?.configPath { config = try? Bundle.loadConfig(path) }
            reports.append(try verifier.verify(pid: pid, config: config, container: record))
        } else if let container {
            guard let record = try RuntimeState.find(id: container, roots: roots) else {
                throw .input("no container \"\(container)\" under \(roots.joined(separator: ", "))")
            }
            guard record.isRunning else { throw .input("container \(container) is not running (pid \(record.pid) is gone)") }
            reports.append(try verifier.verify(record))
        } else {
            let records = try RuntimeState.all(roots: roots)
            if records.count > 1 { verifier.prepareForMany() }
            for record in records {
                guard record.isRunning else { skipped.append((record, "not running")); continue }
                do {
                    reports.append(try verifier.verify(record))
                } catch {
                    // It stopped between the listing and the read: not a finding.
                    if record.isRunning { throw error }
                    skipped.append((record, "exited during verify"))
                }
            }
        }
        let effective: Format = json ? .json : format
        switch effective {
        case .table: printTable(reports, skipped: skipped, roots: roots)
        case .json:
            let out: JSON = .object([
                ("holds", .bool(reports.allSatisfy(\.holds))),
                ("policy", .string(policy.source)),
                ("policyDigest", .string(policy.digest)),
                ("targets", .array(reports.map(\.json))),
                ("skipped", .array(skipped.map { r, why in .object([("container", .string(r.id)), ("root", .string(r.root)), ("reason", .string(why))]) })),
            ])
            try FileIO.writeAll(fd: 1, out.serialized(.indented), name: "<stdout>")
        case .prometheus:
            try FileIO.writeAll(fd: 1, Array(prometheus(reports, skipped: skipped).utf8), name: "<stdout>")
        }
        return reports.allSatisfy(\.holds) ? 0 : 1
    }

    func printTable(_ reports: [VerifyReport], skipped: [(ContainerRecord, String)], roots: [String]) {
        if reports.isEmpty && all {
            print("no running containers under \(roots.joined(separator: ", "))")
        }
        for r in reports {
            var head = r.container.map { "container \($0.id) (\($0.format.rawValue), \($0.root)), pid \(r.pid)" } ?? "pid \(r.pid)"
            if let b = r.container?.bundle { head += ", bundle \(b)" }
            let partial = r.checks.contains { $0.status == .skipped } ? " (partly checked: see skipped)" : ""
            print("\(head): \(r.holds ? (r.exemptReason != nil ? "EXEMPT" : "HOLDS" + partial) : "FALLS SHORT")")
            if let ex = r.exemptReason { print("  \(ex)") }
            let width = max(14, r.checks.map(\.check.count).max() ?? 0)
            print("  " + pad("CHECK", width) + "  " + pad("STATUS", 8) + "  EVIDENCE")
            for c in r.checks {
                print("  " + pad(c.check, width) + "  " + pad(c.status.rawValue, 8) + "  " + c.evidence)
            }
        }
        for (r, why) in skipped { print("container \(r.id) (\(r.format.rawValue), \(r.root)): skipped, \(why)") }
        if all {
            let failing = reports.filter { !$0.holds }.count
            print("\(reports.count) container\(reports.count == 1 ? "" : "s") verified: \(reports.count - failing) hold, \(failing) fall short")
        }
    }

    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }

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
        func metric(_ name: String, _ help: String, _ rows: [(String, Int)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
            for (l, v) in rows { out += "\(name)\(l.isEmpty ? "" : "{\(l)}") \(v)\n" }
        }
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
        let failing = reports.filter { !$0.holds }.count
        metric("seccomp_warden_containers", "Running containers verified, by result.",
               [("result=\"holds\"", reports.count - failing), ("result=\"falls_short\"", failing), ("result=\"skipped\"", skipped.count)])
        metric("seccomp_warden_verify_ok", "1 when every verified container holds.", [("", failing == 0 ? 1 : 0)])
        out += "# HELP seccomp_warden_verify_timestamp_seconds When this verify ran.\n# TYPE seccomp_warden_verify_timestamp_seconds gauge\n"
        out += "seccomp_warden_verify_timestamp_seconds \(time(nil))\n"
        return out
    }
}
