#if os(Linux)
import Glibc
import WardenJSON
import WardenPolicy
import WardenSeccomp
import WardenSpec

/// One line of a verify report.
public struct VerifyCheck: Sendable {
    public enum Status: String, Sendable {
        case ok
        case finding
        /// Could not be checked (ptrace not permitted, config unknown); says why.
        case skipped
        /// Falls short, but the container is exempt by policy.
        case exempt
    }

    public var check: String
    public var status: Status
    public var evidence: String

    public init(_ check: String, _ status: Status, _ evidence: String) {
        self.check = check
        self.status = status
        self.evidence = evidence
    }

    public var json: JSON {
        .object([("check", .string(check)), ("status", .string(status.rawValue)), ("evidence", .string(evidence))])
    }
}

/// What the kernel says about one container (or process), judged against the policy.
public struct VerifyReport: Sendable {
    public var pid: Int32
    public var container: ContainerRecord?
    public var scope: ContainerProcesses.Scope
    public var processes: [Int32]
    public var threads: Int
    /// The init's main thread: its seccomp mode and filter count as /proc says.
    public var mode: TaskStatus.Mode?
    public var filters: Int?
    /// Instruction counts of the init's loaded filters, oldest first; nil when not read.
    public var loadedFilters: [Int]?
    public var syscallFindings: [SyscallFinding]
    public var checks: [VerifyCheck]
    public var exemptReason: String?

    public var findings: [VerifyCheck] { checks.filter { $0.status == .finding } }
    public var holds: Bool { findings.isEmpty }
    public var name: String { container?.id ?? "pid \(pid)" }

    public var json: JSON {
        var fields: [(String, JSON)] = [
            ("pid", .int(Int64(pid))),
            ("container", container.map { .string($0.id) } ?? .null),
            ("runtime", container.map { .string($0.format.rawValue) } ?? .null),
            ("root", container.map { .string($0.root) } ?? .null),
            ("bundle", container?.bundle.map { .string($0) } ?? .null),
            ("scope", .string(scope.rawValue)),
            ("processes", .array(processes.map { .int(Int64($0)) })),
            ("threads", .int(Int64(threads))),
            ("seccompMode", mode.map { .int(Int64($0.rawValue)) } ?? .null),
            ("filters", filters.map { .int(Int64($0)) } ?? .null),
            ("loadedFilters", loadedFilters.map { .array($0.map { .int(Int64($0)) }) } ?? .null),
            ("holds", .bool(holds)),
        ]
        fields.append(("exempt", exemptReason.map { .string($0) } ?? .null))
        fields.append(("checks", .array(checks.map(\.json))))
        fields.append(("syscallFindings", .array(syscallFindings.map { f in
            .object([
                ("syscall", .string(f.name)),
                ("architectures", .array(f.architectures.map { .string($0.rawValue) })),
                ("nr", .int(Int64(f.nr))),
                ("args", .array(f.args.map { .string("0x" + String($0, radix: 16)) })),
                ("loaded", .string(f.got.description)),
                ("required", .string(f.required.description)),
                ("cases", .int(Int64(f.cases))),
            ])
        })))
        return .object(fields)
    }
}

/// Proves from the kernel's side that a container carries the baseline: /proc for every thread,
/// the loaded BPF read with ptrace and emulated for every syscall the site denies.
public final class Verifier {
    public let policy: Policy
    public let probes: PolicyProbes
    /// Whether to read the loaded filters (false: /proc checks only).
    public var deep: Bool
    /// Judge only each process's main thread (runc 1.1 runs poststart while the init's other
    /// threads have no filter yet); `verify` of a running container checks every thread.
    public var mainThreadsOnly = false
    /// Host pids with their PID namespace, read once for `--all` (set by `prepareForMany()`).
    private var snapshot: [(pid: Int32, ns: String?)]? = nil

    /// Reads the host's process list once, for verifying many containers in a row.
    public func prepareForMany() { snapshot = ContainerProcesses.snapshot() }
    /// Chains already judged, by their bytes: a host's containers often share one profile.
    private var judged = [[UInt64]: (findings: [SyscallFinding], cases: Int, errors: [String])]()
    /// Set once ptrace has been refused, so later targets do not try again.
    private var ptraceRefusal: DumpError?

    public init(policy: Policy, deep: Bool = true) throws(WardenError) {
        self.policy = policy
        self.probes = try PolicyProbes(policy: policy)
        self.deep = deep
    }

    /// The hook's entry (poststart): one process, the config when the bundle is known.
    public static func verify(pid: Int32, policy: Policy, config: OCIConfig?) throws(WardenError) -> VerifyReport {
        try Verifier(policy: policy).verify(pid: pid, config: config, container: nil)
    }

    /// Verifies a container from its runtime record (its config read from where the runtime keeps it).
    public func verify(_ record: ContainerRecord) throws(WardenError) -> VerifyReport {
        var config: OCIConfig? = nil
        if let path = record.configPath { config = try? Bundle.loadConfig(path) }
        return try verify(pid: record.pid, config: config, container: record)
    }

    public func verify(pid: Int32, config: OCIConfig?, container: ContainerRecord?) throws(WardenError) -> VerifyReport {
        guard pid > 0, ProcFS.exists(pid), let main = TaskStatus.read(pid: pid, tid: pid) else {
            throw .input("no such process: \(pid)")
        }
        let (pids, scope) = ContainerProcesses.find(init: pid, snapshot: snapshot)
        var report = VerifyReport(pid: pid, container: container, scope: scope, processes: pids, threads: 0,
                                  mode: main.seccomp, filters: main.filters, loadedFilters: nil,
                                  syscallFindings: [], checks: [], exemptReason: nil)
        var statuses = [Int32: [TaskStatus]]()
        for p in pids {
            statuses[p] = mainThreadsOnly ? TaskStatus.read(pid: p, tid: p).map { [$0] } ?? [] : TaskStatus.threads(of: p)
        }
        let all = pids.flatMap { statuses[$0] ?? [] }
        report.threads = all.count

        // 1. Every thread in filter mode with at least one filter.
        let weak = all.filter { $0.seccomp != .filter || ($0.filters ?? 1) < 1 }
        let summary = "\(pids.count) process\(pids.count == 1 ? "" : "es") (\(scope.rawValue)), \(all.count) thread\(all.count == 1 ? "" : "s")"
        if main.seccomp == nil {
            report.checks.append(.init("seccomp mode", .finding, "the kernel reports no Seccomp line in /proc/\(pid)/status (no CONFIG_SECCOMP)"))
        } else if weak.isEmpty {
            let counts = Set(all.compactMap(\.filters)).sorted().map(String.init).joined(separator: "/")
            report.checks.append(.init("seccomp mode", .ok, "\(summary): Seccomp 2 (filter), Seccomp_filters \(counts.isEmpty ? "?" : counts)"))
        } else {
            let shown = weak.prefix(4).map { t in
                "pid \(t.pid) tid \(t.tid) (\(t.name)): Seccomp \(t.seccomp.map { "\($0.rawValue) (\($0))" } ?? "?")"
                    + (t.seccomp == .disabled ? ": no seccomp filter" : t.seccomp == .strict ? ": strict mode, not a filter" : ", Seccomp_filters \(t.filters ?? 0)")
            }.joined(separator: "; ")
            report.checks.append(.init("seccomp mode", .finding,
                                       "\(weak.count) of \(all.count) threads not in filter mode: \(shown)" + (weak.count > 4 ? "; and \(weak.count - 4) more" : "")))
        }

        // 2. NoNewPrivs as config.json asks.
        let nnpOff = all.filter { $0.noNewPrivs == false }
        if let config {
            let want = config.noNewPrivileges
            if want && !nnpOff.isEmpty {
                report.checks.append(.init("no_new_privs", .finding,
                                           "config.json process.noNewPrivileges is true, but \(nnpOff.count) thread\(nnpOff.count == 1 ? "" : "s") show NoNewPrivs 0 (first: pid \(nnpOff[0].pid) tid \(nnpOff[0].tid))"))
            } else {
                report.checks.append(.init("no_new_privs", .ok,
                                           "NoNewPrivs \(nnpOff.isEmpty ? 1 : 0) on \(nnpOff.isEmpty ? "every" : "some") thread; config.json process.noNewPrivileges \(want)"))
            }
        } else {
            report.checks.append(.init("no_new_privs", .skipped,
                                       "config.json unknown (no container record): NoNewPrivs \(nnpOff.isEmpty ? 1 : 0)"))
        }

        // 3. The loaded filters, emulated for every syscall the site denies.
        if deep {
            loadedFilterChecks(&report, pids: pids, statuses: statuses)
        } else {
            report.checks.append(.init("loaded filters", .skipped, "not read (--no-deep)"))
        }

        if let config, let ex = policy.exemption(for: (try? config.annotations()) ?? []) {
            report.exemptReason = "exempt by \(ex.reason)"
            for i in report.checks.indices where report.checks[i].status == .finding { report.checks[i].status = .exempt }
        }
        return report
    }

    private func loadedFilterChecks(_ report: inout VerifyReport, pids: [Int32], statuses: [Int32: [TaskStatus]]) {
        if let refusal = ptraceRefusal {
            report.checks.append(.init("loaded filters", .skipped, "\(refusal); /proc checks only"))
            return
        }
        var chains = [(pid: Int32, programs: [BPFProgram])]()
        var notes = [String]()
        for p in pids {
            guard let leader = statuses[p]?.first(where: { $0.tid == p }) ?? statuses[p]?.first,
                  leader.seccomp == .filter else { continue }
            if leader.tracerPid != 0 {
                notes.append("pid \(p) is already traced by pid \(leader.tracerPid): its filters cannot be read")
                continue
            }
            switch FilterDump.filters(of: leader.tid) {
            case .success(let programs):
                chains.append((p, programs))
            case .failure(let e) where e.isNotPermitted:
                ptraceRefusal = e
                report.checks.append(.init("loaded filters", .skipped, "\(e); /proc checks only"))
                return
            case .failure(.gone):
                continue
            case .failure(let e):
                notes.append("pid \(p): \(e)")
            }
        }
        guard !chains.isEmpty else {
            let why = notes.isEmpty ? "no process of the container is in filter mode: no filter to read" : notes.joined(separator: "; ")
            report.checks.append(.init("loaded filters", notes.isEmpty ? .finding : .skipped, why))
            return
        }
        if let first = chains.first(where: { $0.pid == report.pid }) ?? chains.first {
            report.loadedFilters = first.programs.map(\.instructions.count)
        }
        var byName = [String: SyscallFinding]()
        var order = [String]()
        var totalCases = 0
        var errors = [String]()
        for c in chains {
            // The kernel runs the newest filter first; ties go to the first one run.
            let chain = FilterChain(c.programs.reversed())
            let key = chain.programs.flatMap { $0.instructions.map { UInt64($0.code) << 48 | UInt64($0.jt) << 40 | UInt64($0.jf) << 32 | UInt64($0.k) } + [UInt64.max] }
            let result: (findings: [SyscallFinding], cases: Int, errors: [String])
            if let cached = judged[key] {
                result = cached
            } else {
                result = probes.check(chain)
                judged[key] = result
            }
            totalCases += result.cases
            errors += result.errors
            for f in result.findings where byName[f.name] == nil {
                byName[f.name] = f
                order.append(f.name)
            }
        }
        let sizes = chains.map { c in "pid \(c.pid): \(c.programs.count) filter\(c.programs.count == 1 ? "" : "s") (\(c.programs.map { String($0.instructions.count) }.joined(separator: "+")) instructions)" }
        let shownSizes = sizes.prefix(3).joined(separator: "; ") + (sizes.count > 3 ? "; and \(sizes.count - 3) more" : "")
        let arches = probes.architectures.map(\.libseccompName).joined(separator: ", ")
        let scope = "\(probes.names.count) site-denied syscalls on \(arches), \(totalCases) cases emulated"
        if !errors.isEmpty {
            report.checks.append(.init("loaded filters", .finding, "\(shownSizes): cannot be emulated: \(errors.joined(separator: "; "))"))
        } else if order.isEmpty {
            report.checks.append(.init("loaded filters", .ok, "\(shownSizes); \(scope): every one denied at least as strictly as the policy"))
        } else {
            report.checks.append(.init("loaded filters", .finding, "\(shownSizes); \(scope): \(order.count) denied syscall\(order.count == 1 ? "" : "s") let through: \(order.prefix(8).joined(separator: ", "))\(order.count > 8 ? ", and \(order.count - 8) more" : "")"))
        }
        if !notes.isEmpty { report.checks.append(.init("loaded filters (other processes)", .skipped, notes.joined(separator: "; "))) }
        report.syscallFindings = order.map { byName[$0]! }
        for f in report.syscallFindings {
            report.checks.append(.init("syscall \(f.name)", .finding, f.description))
        }
    }
}
#endif
