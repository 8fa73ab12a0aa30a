#if os(Linux)
import WardenCore
import WardenHost
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
        /// The guarantee needs it and it could not be inspected (a task that could not be stopped or
        /// read, a filter that could not be judged); says why. A failure, like a finding.
        case unverified
        /// Not part of the guarantee and nothing to compare with (NoNewPrivs without a config).
        case skipped
        /// Falls short or unverified, but the container is exempt by policy.
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
    public enum Outcome: String, Sendable {
        case holds
        case fallsShort = "falls_short"
        /// Nothing found short, but something the guarantee needs was not inspected.
        case unverified
        case exempt
        /// `verify --all`'s backstop: no seccomp-warden decision lets it run (none names it, or the
        /// last one denied it). Comes before every other outcome: it went around the product.
        case unaccounted
    }

    public var pid: Int32
    public var container: ContainerRecord?
    public var scope: ContainerProcesses.Scope
    public var processes: [Int32]
    /// Live tasks (threads) of the container.
    public var threads: Int
    /// The init's main thread (or, when it exited, its first live thread): seccomp mode and filter count.
    public var mode: TaskStatus.Mode?
    public var filters: Int?
    /// Instruction counts of the init's loaded filters, oldest first; nil when not read.
    public var loadedFilters: [Int]?
    /// Distinct filter chains read, over `tasksRead` tasks.
    public var chains: Int = 0
    public var tasksRead: Int = 0
    public var syscallFindings: [SyscallFinding]
    public var checks: [VerifyCheck]
    public var exemptReason: String?
    /// Whether a decision in the audit log covers it (`verify --all` only); its check is in `checks`.
    public var accounting: Accounting? = nil

    public var findings: [VerifyCheck] { checks.filter { $0.status == .finding } }
    public var unverified: [VerifyCheck] { checks.filter { $0.status == .unverified } }
    /// Findings and unverified checks: what fails the container.
    public var failures: [VerifyCheck] { checks.filter { $0.status == .finding || $0.status == .unverified } }
    public var holds: Bool { failures.isEmpty }
    public var outcome: Outcome {
        if accounting?.isFinding == true { return .unaccounted }
        if !findings.isEmpty { return .fallsShort }
        if !unverified.isEmpty { return .unverified }
        return exemptReason != nil ? .exempt : .holds
    }
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
            ("tasksRead", .int(Int64(tasksRead))),
            ("chains", .int(Int64(chains))),
            ("seccompMode", mode.map { .int(Int64($0.rawValue)) } ?? .null),
            ("filters", filters.map { .int(Int64($0)) } ?? .null),
            ("loadedFilters", loadedFilters.map { .array($0.map { .int(Int64($0)) }) } ?? .null),
            ("status", .string(outcome.rawValue)),
            ("holds", .bool(holds)),
        ]
        fields.append(("exempt", exemptReason.map { .string($0) } ?? .null))
        if let accounting { fields.append(("accounting", accounting.json)) }
        fields.append(("checks", .array(checks.map(\.json))))
        fields.append(("syscallFindings", .array(syscallFindings.map { f in
            .object([
                ("syscall", .string(f.name)),
                ("architectures", .array(f.architectures.map { .string($0.rawValue) })),
                ("nr", .int(Int64(f.nr))),
                ("args", .array(f.args.map { .string("0x" + String($0, radix: 16)) })),
                ("instructionPointer", .string("0x" + String(f.instructionPointer, radix: 16))),
                ("loaded", .string(f.got.description)),
                ("required", .string(f.required.description)),
                ("cases", .int(Int64(f.cases))),
            ])
        })))
        return .object(fields)
    }
}

/// One task of the container as the verifier saw it.
struct InspectedTask {
    enum State {
        /// Held in a ptrace stop (until the filters are read).
        case held
        /// Zombie or gone: it makes no more system calls.
        case exited
        /// Could not be stopped or read.
        case notRead(String)
        /// Read while stopped.
        case read([BPFProgram])
    }

    var pid: Int32
    var tid: Int32
    var status: TaskStatus
    var state: State
    var nested: Bool
    var outside: Bool

    var label: String {
        "pid \(pid) tid \(tid) (\(status.name))" + (nested ? " [nested PID namespace]" : "") + (outside ? " [in the container's cgroup, outside its PID namespace]" : "")
    }
}

/// Proves from the kernel's side that a container carries the baseline. Every task (thread) of every
/// process of the container is held in a ptrace stop, round after round until a listing finds no new
/// task, so none of them can create a task or load a filter meanwhile; then each task's /proc status is
/// read and its filters are fetched with PTRACE_SECCOMP_GET_FILTER, and each distinct chain is proven
/// (path walk, every input symbolic) to deny every route of the site's deny rules. Anything that
/// could not be inspected or decided is `unverified`.
public final class Verifier {
    public let policy: Policy
    /// Whether to read the loaded filters (false: /proc only, and the filters are `unverified`).
    public var deep: Bool
    /// Judge only each process's main thread (runc 1.1 runs poststart while the init's other
    /// threads have no filter yet); a zombie main thread is replaced by its live threads.
    /// `verify` of a running container checks every thread.
    public var mainThreadsOnly = false
    /// How long one task may take to stop, and all of a container's tasks together.
    public var taskStopMillis = 3000
    public var containerStopMillis = 15000
    /// How long a task another tracer holds is tried again (`TaskStopper.seize(…tracerWait:)`): 3 s (a
    /// loaded node is slow to let a tracer go: 1 s was seen to fall short under CI's load).
    static let tracerWait: UInt64 = 3_000_000_000
    /// Listings of the container's tasks before giving up on a stable set.
    public var maxRounds = 32
    /// Where judgements of loaded filter chains that hold are kept (root only; nil: prove every time).
    public var cache: VerdictCache? = .standard()
    private var privilegesChecked = false
    /// Tests only: called after each listing of the container's tasks, before they are stopped.
    var afterListing: ((_ round: Int) -> Void)? = nil

    /// The routes of the policy's deny rules when they do not depend on the container (no Docker-format
    /// deny set): built once, here, not again for every container (0.4 M instructions each).
    private let fixedRoutes: [Route]?

    public init(policy: Policy, deep: Bool = true) throws(WardenError) {
        self.policy = policy
        let judge = try ChainJudge(policy: policy, config: nil)  // a policy whose deny rules cannot be read fails here
        fixedRoutes = policy.denySources.isEmpty ? judge.routes : nil
        self.deep = deep
    }

    /// The hook's entry (poststart): one process, the config when the bundle is known.
    public static func verify(pid: Int32, policy: Policy, config: OCIConfig?) throws(WardenError) -> VerifyReport {
        try Verifier(policy: policy).verify(pid: pid, config: config, container: nil)
    }

    /// Verifies a container from its runtime record (its config read from where the runtime keeps it,
    /// only if the verdict needs it: `ConfigSource`).
    public func verify(_ record: ContainerRecord) throws(WardenError) -> VerifyReport {
        try verify(pid: record.pid, config: ConfigSource(path: record.configPath), container: record)
    }

    public func verify(pid: Int32, config: OCIConfig?, container: ContainerRecord?) throws(WardenError) -> VerifyReport {
        try verify(pid: pid, config: ConfigSource(parsed: config), container: container)
    }

    /// A container's config.json, parsed when first asked for. The verdict comes from the kernel; the
    /// config only adds to it for a Docker-format deny set (its capabilities, when the kernel's bounding
    /// set cannot be read), an exemption (its
    /// annotations) or a thread without NoNewPrivs (whether the config asked for it). A node's usual
    /// container needs none of them, and jansson's parse of a tightened config is a third of a verify.
    public final class ConfigSource {
        private let load: (() throws(WardenError) -> OCIConfig)?
        private var parsed: OCIConfig?
        private var tried: Bool
        /// Why it could not be read or parsed, once it was tried.
        public private(set) var error: WardenError?

        /// `path`: where the runtime keeps it (nil: no record, nothing to read).
        public convenience init(path: String?) {
            guard let path else { self.init(parsed: nil); return }
            self.init { () throws(WardenError) in try Bundle.loadConfig(path) }
        }
        public init(parsed: OCIConfig?) { load = nil; self.parsed = parsed; tried = true }
        /// `load` runs at most once, when the config is first asked for.
        public init(load: @escaping () throws(WardenError) -> OCIConfig) { self.load = load; tried = false }

        /// Whether there is a config at all (read or to be read).
        var known: Bool { load != nil || parsed != nil }
        /// Whether it has been read (and what was read is in `value`).
        var isRead: Bool { tried }

        /// The config, read and parsed on first use; nil when there is none or it cannot be read.
        var value: OCIConfig? {
            if !tried, let load {
                tried = true
                do { parsed = try load() } catch { self.error = error }
            }
            return parsed
        }
    }

    /// What the verifier needs to see everything: CAP_SYS_PTRACE (every task's /proc, hidepid, any
    /// task's ptrace), for the filters CAP_SYS_ADMIN in the host's user namespace and no seccomp filter
    /// of its own (the kernel's conditions for PTRACE_SECCOMP_GET_FILTER), and a /proc of its own PID
    /// namespace. Missing any is an error, never a partial result.
    public static func requirePrivileges(deep: Bool) throws(WardenError) {
        guard let bytes = ProcFS.read("/proc/self/status") else { throw .system("cannot read /proc/self/status: is /proc mounted?") }
        if ProcFS.readLink("/proc/self") != String(getpid()) {
            throw .system("the /proc mounted here is not of the verifier's PID namespace (/proc/self is not pid \(getpid())): it would not see the containers' tasks")
        }
        let capEff = statusField(bytes, "CapEff:").flatMap { UInt64($0, radix: 16) } ?? 0
        let seccomp = statusField(bytes, "Seccomp:") ?? ""
        var missing = [String]()
        if capEff & (1 << 19) == 0 { missing.append("CAP_SYS_PTRACE") }
        if deep {
            if capEff & (1 << 21) == 0 { missing.append("CAP_SYS_ADMIN") }
            if let user = ProcFS.readLink("/proc/self/ns/user"), user != "user:[4026531837]" {
                missing.append("the host's user namespace (runs in \(user))")
            }
            if seccomp != "0" && !seccomp.isEmpty { missing.append("no seccomp filter on the verifier itself (Seccomp: \(seccomp))") }
        }
        if !missing.isEmpty {
            throw .system("verify needs root privileges it does not have: \(missing.joined(separator: ", "))"
                + (getuid() != 0 ? " (running as uid \(getuid()))" : "") + "; nothing was verified")
        }
    }

    /// The process's bounding capability set, from the kernel (`CapBnd:` in /proc/PID/status); nil when unreadable.
    static func boundingSet(_ pid: Int32) -> [String]? {
        guard let bytes = ProcFS.read("/proc/\(pid)/status") else { return nil }
        return statusField(bytes, "CapBnd:").flatMap { UInt64($0, radix: 16) }.map { ConversionContext.capabilities(mask: $0) }
    }

    /// The value on the line of a /proc status file that starts with `key`, blanks trimmed. By bytes:
    /// splitting the text into lines of Characters was 0.6 M instructions of a warm verify.
    static func statusField(_ bytes: [UInt8], _ key: StaticString) -> String? {
        let k = UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount)
        var start = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: 10) ?? bytes.count
            if end - start >= k.count && bytes[start..<(start + k.count)].elementsEqual(k) {
                var a = start + k.count, b = end
                while a < b && (bytes[a] == 0x20 || bytes[a] == 0x09) { a += 1 }
                while b > a && (bytes[b - 1] == 0x20 || bytes[b - 1] == 0x09) { b -= 1 }
                return String(decoding: bytes[a..<b], as: UTF8.self)
            }
            start = end + 1
        }
        return nil
    }

    /// Whether a file and its folder are root's alone (owned by root, writable by no one else).
    static func rootOnly(_ path: String?) -> Bool {
        guard let path else { return false }
        var st = stat(), dt = stat()
        guard lstat(path, &st) == 0, stat(FileIO.dirname(of: path), &dt) == 0 else { return false }
        return st.st_uid == 0 && st.st_mode & 0o022 == 0 && dt.st_uid == 0 && dt.st_mode & 0o022 == 0
    }

    public func verify(pid: Int32, config: ConfigSource, container: ContainerRecord?) throws(WardenError) -> VerifyReport {
        if !privilegesChecked {
            try Self.requirePrivileges(deep: deep)
            privilegesChecked = true
        }
        guard pid > 0, ProcFS.exists(pid), TaskStatus.read(pid: pid, tid: pid) != nil else {
            throw .input("no such process: \(pid)")
        }
        guard ContainerProcesses.isLive(pid) else { throw .input("process \(pid) has exited (zombie)") }

        let stopper = TaskStopper()
        defer { stopper.releaseAll() }
        let (tasks, members, stable, rounds) = collect(pid: pid, ownCgroup: container?.ownCgroup ?? false, stopper: stopper)
        stopper.releaseAll()

        let live = tasks.filter { if case .exited = $0.state { return false } else { return true } }
        let exited = tasks.count - live.count
        let initTask = live.first { $0.pid == pid && $0.tid == pid } ?? live.first { $0.pid == pid }
        var report = VerifyReport(pid: pid, container: container, scope: members.scope, processes: members.pids,
                                  threads: live.count, mode: initTask?.status.seccomp, filters: initTask?.status.filters,
                                  loadedFilters: nil, syscallFindings: [], checks: [], exemptReason: nil)

        // 1. Every live task in filter mode with at least one filter.
        let statuses = live.map(\.status)
        let weak = live.filter { $0.status.seccomp != .filter || ($0.status.filters ?? 1) < 1 }
        var summary = "\(members.pids.count) process\(members.pids.count == 1 ? "" : "es") (\(members.scope.rawValue)"
        if !members.nested.isEmpty { summary += ", \(members.nested.count) in nested PID namespaces" }
        if !members.outside.isEmpty { summary += ", \(members.outside.count) in its cgroup outside it" }
        summary += "), \(live.count) thread\(live.count == 1 ? "" : "s")"
        if exited > 0 { summary += " (and \(exited) exited, not counted: they make no system calls)" }
        if live.isEmpty {
            throw .input("process \(pid) has exited (no live task)")
        } else if statuses.contains(where: { $0.seccomp == nil }) {
            report.checks.append(.init("seccomp mode", .finding, "the kernel reports no Seccomp line in /proc/\(pid)/status (no CONFIG_SECCOMP)"))
        } else if weak.isEmpty {
            let counts = statuses.compactMap(\.filters).uniqueSorted().map(String.init).joined(separator: "/")
            report.checks.append(.init("seccomp mode", .ok, "\(summary): Seccomp 2 (filter), Seccomp_filters \(counts.isEmpty ? "?" : counts)"))
        } else {
            let shown = weak.prefix(4).map { t in
                t.label + ": Seccomp \(t.status.seccomp.map { "\($0.rawValue) (\($0))" } ?? "?")"
                    + (t.status.seccomp == .disabled ? ": no seccomp filter" : t.status.seccomp == .strict ? ": strict mode, not a filter" : ", Seccomp_filters \(t.status.filters ?? 0)")
            }.joined(separator: "; ")
            report.checks.append(.init("seccomp mode", .finding,
                                       "\(summary): \(weak.count) of \(live.count) threads not in filter mode: \(shown)" + (weak.count > 4 ? "; and \(weak.count - 4) more" : "")))
        }

        // 2. NoNewPrivs as config.json asks.
        let nnpOff = statuses.filter { $0.noNewPrivs == false }
        if nnpOff.isEmpty && config.known && !config.isRead {
            // NoNewPrivs set everywhere is as strict as any config.json can ask: no need to read it.
            report.checks.append(.init("no_new_privs", .ok, "NoNewPrivs 1 on every thread (the most config.json can ask)"))
        } else if let config = config.value {
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
                                       "config.json \(config.known ? "unreadable" : "unknown (no container record)"): NoNewPrivs \(nnpOff.isEmpty ? 1 : 0); the filters do not depend on it"))
        }

        // 3. Every task's loaded filters, judged by the proof against the routes of the site's deny rules.
        // Without a Docker-format deny set the routes are the same for every container (built once).
        var judge: ChainJudge
        if let fixedRoutes {
            judge = ChainJudge(routes: fixedRoutes)
        } else {
            let capabilities = Self.boundingSet(pid)
            judge = try ChainJudge(policy: policy, config: capabilities == nil ? config.value : nil, capabilities: capabilities)
        }
        judge.cache = cache
        loadedFilterChecks(&report, live: live, initPid: pid, judge: judge)

        // 4. The set of tasks itself.
        if !stable {
            report.checks.append(.init("tasks", .unverified,
                                       "new threads or processes kept appearing after \(rounds) listings (some task could not be stopped): the set checked may not be complete"))
        }
        if !members.unresolved.isEmpty {
            let shown = members.unresolved.prefix(6).map(String.init).joined(separator: ", ")
            report.checks.append(.init("processes", .unverified,
                                       "cannot tell whether pid\(members.unresolved.count == 1 ? "" : "s") \(shown)\(members.unresolved.count > 6 ? ", …" : "") belong\(members.unresolved.count == 1 ? "s" : "") to the container, or list \(members.unresolved.count == 1 ? "its" : "their") threads: /proc/PID/ns/pid, /proc/PID/cgroup or /proc/PID/task unreadable"))
        }

        // An exemption read from a config.json someone other than root can edit is no exemption.
        if !policy.exemptions.isEmpty, let config = config.value, Self.rootOnly(container?.configPath),
           let ex = policy.exemption(for: (try? config.annotations()) ?? []) {
            report.exemptReason = "exempt by \(ex.reason)"
            for i in report.checks.indices where report.checks[i].status == .finding || report.checks[i].status == .unverified {
                report.checks[i].status = .exempt
            }
        }
        return report
    }

    /// Lists the container's tasks and holds each new one in a ptrace stop, until a listing finds none
    /// new (every task listed is then stopped, exited, or could not be stopped and is reported), then
    /// reads the /proc status and the filters of every held task.
    func collect(pid: Int32, ownCgroup: Bool, stopper: TaskStopper)
        -> (tasks: [InspectedTask], members: ContainerProcesses.Members, stable: Bool, rounds: Int) {
        var tasks = [InspectedTask]()
        var known = PidMap<Bool>()  // tids already taken in (a PidMap: no Int32 hashing)
        var members = ContainerProcesses.Members(pids: [pid], scope: .descendants)
        var stable = false
        var rounds = 0
        let deadline = TaskStopper.now() + UInt64(containerStopMillis) * 1_000_000
        while rounds < maxRounds {
            rounds += 1
            members = ContainerProcesses.find(init: pid, ownCgroup: ownCgroup)
            var listed = [(pid: Int32, tid: Int32)]()
            for p in members.pids {
                let all = tids(of: p)
                // A live process whose threads cannot be listed cannot be checked: never skip it quietly.
                if all.isEmpty && ContainerProcesses.isLive(p) && !members.unresolved.contains(p) { members.unresolved.append(p) }
                for t in all where known[t] == nil { listed.append((p, t)) }
            }
            afterListing?(rounds)
            var seen = 0
            var fresh = [Int]()
            for (p, t) in listed {
                guard let status = TaskStatus.read(pid: p, tid: t) else { continue }  // gone already
                var task = InspectedTask(pid: p, tid: t, status: status, state: .held,
                                         nested: members.nested.contains(p), outside: members.outside.contains(p))
                if status.isExited {
                    task.state = .exited
                } else if !deep {
                    task.state = .notRead("the filters were not read (--no-deep)")
                } else if TaskStopper.now() >= deadline {
                    task.state = .notRead(DumpError.outOfTime.description)
                } else if let e = stopper.seize(pid: p, tid: t, tracerWait: min(Self.tracerWait, deadline &- min(deadline, TaskStopper.now()))) {
                    task.state = e == .gone ? .exited : .notRead(e.description)
                }
                known[t] = true
                tasks.append(task)
                seen += 1
                if case .held = task.state { fresh.append(tasks.count - 1) }
            }
            // --no-deep holds nothing, so no listing is final; its filters are reported unverified anyway.
            if seen == 0 || !deep {
                stable = true
                break
            }
            let wait = min(TaskStopper.now() + UInt64(taskStopMillis) * 1_000_000, deadline)
            let failed = stopper.waitForStops(deadline: wait)
            for i in fresh {
                if let e = failed[tasks[i].tid] { tasks[i].state = e == .gone ? .exited : .notRead(e.description) }
            }
        }
        // Everything listed is stopped (or reported): read each held task's status and filters now.
        for i in tasks.indices {
            guard case .held = tasks[i].state else { continue }
            let t = tasks[i]
            guard stopper.isHeld(t.tid), let status = TaskStatus.read(pid: t.pid, tid: t.tid) else {
                tasks[i].state = .exited
                continue
            }
            tasks[i].status = status
            if status.isExited { tasks[i].state = .exited; continue }
            if status.seccomp != .filter { tasks[i].state = .read([]); continue }
            switch stopper.filters(of: t.tid) {
            case .success(let programs): tasks[i].state = programs.isEmpty ? .notRead("the kernel returned no filter for a task in filter mode") : .read(programs)
            case .failure(.gone): tasks[i].state = .exited
            case .failure(let e): tasks[i].state = .notRead(e.description)
            }
        }
        return (tasks, members, stable, rounds)
    }

    /// The tasks of `p` to inspect: every thread, or with `mainThreadsOnly` the main one (its live
    /// threads when the main thread exited).
    func tids(of p: Int32) -> [Int32] {
        let all = ProcFS.threads(of: p)
        guard mainThreadsOnly else { return all }
        if let leader = TaskStatus.read(pid: p, tid: p), !leader.isExited { return [p] }
        return all
    }

    private func loadedFilterChecks(_ report: inout VerifyReport, live: [InspectedTask], initPid: Int32, judge: ChainJudge) {
        // Tasks not in filter mode are findings of the mode check already: only filter-mode tasks need a chain.
        let inFilterMode = live.filter { $0.status.seccomp == .filter }
        var unread = [(InspectedTask, String)]()
        // Distinct chains in the order first seen, each with its tasks.
        var chains = [(programs: [BPFProgram], tasks: [InspectedTask])]()
        // Tasks grouped by their exact chain: found by one seeded hash of its bytes (a Dictionary keyed
        // by the words hashes them one by one, and copies the entry on every append: issue 14), then
        // compared whole. The hashes are scanned, not kept in a [Int: [Int]]: a node's containers have
        // one or two chains, and that Dictionary's first use costs a run-time conformance lookup (0.25 M
        // instructions); thousands of distinct chains are thousands of integer compares per task.
        var words = [[UInt64]]()
        var hashes = [Int]()
        for t in inFilterMode {
            switch t.state {
            case .read(let programs):
                let key = programs.flatMap { $0.instructions.map { UInt64($0.code) << 48 | UInt64($0.jt) << 40 | UInt64($0.jf) << 32 | UInt64($0.k) } + [UInt64.max] }
                var hasher = Hasher()
                key.withUnsafeBytes { hasher.combine(bytes: $0) }
                let h = hasher.finalize()
                let index: Int
                if let same = hashes.indices.first(where: { hashes[$0] == h && words[$0] == key }) {
                    index = same
                } else {
                    index = chains.count
                    hashes.append(h)
                    words.append(key)
                    chains.append((programs, []))
                }
                chains[index].tasks.append(t)
            case .notRead(let why): unread.append((t, why))
            case .held: unread.append((t, "not read"))
            case .exited: break
            }
        }
        report.chains = chains.count
        let chainOrder = Array(chains.indices)
        report.tasksRead = chains.reduce(0) { $0 + $1.tasks.count }
        if let first = chainOrder.first(where: { chains[$0].tasks.contains { $0.tid == initPid } }) ?? chainOrder.first {
            report.loadedFilters = chains[first].programs.map(\.instructions.count)
        }
        if !unread.isEmpty {
            let shown = unread.prefix(4).map { "\($0.0.label): \($0.1)" }.joined(separator: "; ")
            report.checks.append(.init("loaded filters", .unverified,
                                       "\(unread.count) of \(inFilterMode.count) threads in filter mode could not be read: \(shown)" + (unread.count > 4 ? "; and \(unread.count - 4) more" : "")))
        }
        guard !chains.isEmpty else {
            if inFilterMode.isEmpty {
                report.checks.append(.init("loaded filters", .finding, "no process of the container is in filter mode: no filter to read"))
            }
            return
        }
        var byName = [String: SyscallFinding]()
        var whereFound = [String: [InspectedTask]]()
        var order = [String]()
        var proofs = 0
        var undecided = [String]()
        for key in chainOrder {
            // One judgement per distinct chain of this container (threads mostly share theirs).
            let c = chains[key]
            let result = judge.judge(c.programs)
            proofs += result.proofs
            undecided += result.undecided.map { "\(c.tasks[0].label): \($0)" }
            for f in result.findings {
                if byName[f.name] == nil { byName[f.name] = f; order.append(f.name) }
                whereFound[f.name, default: []] += c.tasks
            }
        }
        let sizes = chainOrder.map { key -> String in
            let c = chains[key]
            let who = c.tasks.count == 1 ? c.tasks[0].label : "\(c.tasks.count) threads (first: \(c.tasks[0].label))"
            return "\(who): \(c.programs.count) filter\(c.programs.count == 1 ? "" : "s") (\(c.programs.map { String($0.instructions.count) }.joined(separator: "+")) instructions)"
        }
        let shownSizes = "\(report.tasksRead) thread\(report.tasksRead == 1 ? "" : "s") read while stopped, \(chains.count) distinct chain\(chains.count == 1 ? "" : "s"): "
            + Array(sizes.prefix(3)).joined(separator: "; ") + (sizes.count > 3 ? "; and \(sizes.count - 3) more" : "")
        let arches = judge.architectures.map(\.libseccompName).joined(separator: ", ")
        let scope = "\(judge.routes.count) routes to \(judge.names.count) site-denied syscalls and every syscall newer than libseccomp, on \(arches), \(proofs) proofs over every argument value and instruction pointer"
        if !undecided.isEmpty {
            report.checks.append(.init("loaded filters", .unverified,
                                       "\(shownSizes): \(undecided.count) route\(undecided.count == 1 ? "" : "s") the proof could not decide: \(Array(undecided.prefix(3)).joined(separator: "; "))" + (undecided.count > 3 ? "; and \(undecided.count - 3) more" : "")))
        }
        if order.isEmpty {
            if undecided.isEmpty {
                report.checks.append(.init("loaded filters", .ok, "\(shownSizes); \(scope): every one denied at least as strictly as the policy"))
            }
        } else {
            report.checks.append(.init("loaded filters", .finding, "\(shownSizes); \(scope): \(order.count) denied syscall\(order.count == 1 ? "" : "s") let through: \(Array(order.prefix(8)).joined(separator: ", "))\(order.count > 8 ? ", and \(order.count - 8) more" : "")"))
        }
        report.syscallFindings = order.map { byName[$0]! }
        for f in report.syscallFindings {
            let tasks = whereFound[f.name] ?? []
            let whom = tasks.count == 1 ? "in \(tasks[0].label)" : "in \(tasks.count) threads (first: \(tasks[0].label))"
            report.checks.append(.init(f.name.hasPrefix("syscalls ") ? f.name : "syscall \(f.name)", .finding, f.description + " " + whom))
        }
    }
}
#endif
