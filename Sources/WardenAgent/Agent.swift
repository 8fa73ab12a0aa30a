#if os(Linux)
import Glibc
import Prometheus
import Synchronization
import WardenCore
import WardenJSON
import WardenPolicy
import WardenHost
import WardenHook
import WardenVerify

/// The node agent's core: watches the runtimes' state roots with inotify, verifies each container
/// from the kernel's side as soon as its process runs the container's program (the verifier's deep
/// check; chains that hold are cached by their BPF), re-checks every `interval`, and keeps one
/// series per running container in `registry`. One thread runs it (`run`); the registry may be
/// read from any thread.
public final class Agent {
    public struct Options: Sendable {
        /// State roots named on the command line (each must exist); empty: the known roots.
        public var roots: [String] = []
        /// Seconds between two verifications of a running container.
        public var interval: Double = 300
        /// node-exporter's textfile folder: `seccomp_warden.prom` is replaced there (temp file + rename).
        public var textfile: String?
        /// A container whose program has not started this long after it appeared is reported unverified.
        public var startGrace: Double = 10
        /// Seconds between listings of the roots (events can be missed: a folder created before its watch).
        public var rescan: Double = 2

        public init() {}
    }

    /// What the agent knows of one state entry.
    struct Tracked {
        enum Phase { case pending, verified, stopped }
        let root: String
        let id: String
        var firstSeen: Double
        var phase: Phase = .pending
        var nextCheck: Double
        var attempts = 0
        var record: ContainerRecord? = nil
        var gauge: Gauge? = nil
        var labels: [(String, String)] = []
        var detected = false
        var exemptCounted = false
        var wd: Int32? = nil
    }

    public let registry = PrometheusCollectorRegistry()
    public let options: Options
    let verifier: Verifier
    let inotify: Inotify
    var tracked: [String: Tracked] = [:]
    var rootWatches: [Int32: String] = [:]
    var containerWatches: [Int32: String] = [:]
    /// The parent of containerd's per-namespace roots: a folder created there is a new root.
    var parentWatch: Int32? = nil
    var roots: [String] = []
    var dirty = true
    var lastWrite = 0.0
    var nextRescan = 0.0
    var nextLiveness = 0.0
    /// The loop's last turn, for /healthz.
    public let heartbeat = Heartbeat()

    let seen: Counter
    let refused: Counter
    let auditError: Gauge
    var audit: AuditTail
    var auditErrorValue: Int64 = -1
    let exempt: Counter
    let stateRefused: Counter
    let verifySeconds: DurationHistogram
    let detectionSeconds: ValueHistogram
    let up: Gauge

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "seccomp_warden", metricName: metric, unitName: unit, helpText: help)
    }

    static var series: MetricNameDescriptor { name("container", "", "1 for each running container, with what the agent last found from the kernel's side (status: holds, falls_short, unverified, exempt). id, runtime and status are the agent's facts; namespace, pod, container and image are the CRI annotations the container's creator wrote: claims.") }
    static let containerdParent = "/run/containerd/runc"

    public init(policy: Policy, options: Options) throws(WardenError) {
        self.options = options
        verifier = try Verifier(policy: policy)
        // One stuck container must not hold the others' verdicts for long.
        verifier.taskStopMillis = 1000
        verifier.containerStopMillis = 4000
        do { inotify = try Inotify() } catch { throw .system(error.description) }
        audit = AuditTail(path: AuditLog.path(policy: policy))
        refused = registry.makeCounter(descriptor: Self.name("containers_refused", "total", "Decisions \"denied\" (a container refused by the wrapper, precreate or a gate) appended to the audit log since the agent started."))
        auditError = registry.makeGauge(descriptor: Self.name("audit_log_error", "", "1 when the audit log cannot be read or is not root's alone: refusals are not counted."))
        seen = registry.makeCounter(descriptor: Self.name("containers_seen", "total", "Containers the agent found in the state roots since it started."))
        exempt = registry.makeCounter(descriptor: Self.name("containers_exempt", "total", "Containers the policy exempts (by engine facts), counted once each since the agent started."))
        stateRefused = registry.makeCounter(descriptor: Self.name("state_entries_refused", "total", "State-root entries not read because root does not own them alone, or they are symlinks or too large (reported unverified)."))
        verifySeconds = registry.makeDurationHistogram(
            descriptor: Self.name("verification", "seconds", "Time to verify one container (stop its tasks, read their filters, prove the chains)."),
            buckets: [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5)])
        detectionSeconds = registry.makeValueHistogram(
            descriptor: Self.name("detection", "seconds", "From a container's init process start (/proc/PID/stat) to its first verdict."),
            buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30])
        up = registry.makeGauge(descriptor: Self.name("agent_up", "", "1 while the agent watches and verifies; 0 in the textfile it leaves when it stops (its series are gone then)."))
        up.set(Int64(1))
    }

    // MARK: The loop

    /// Runs until `stopFD` becomes readable (a signalfd or a pipe), then leaves the textfile with no
    /// container series and `seccomp_warden_agent_up 0`.
    public func run(stopFD: Int32) throws(WardenError) {
        roots = try RuntimeState.usableRoots(options.roots.isEmpty ? RuntimeState.defaultRoots : options.roots, explicit: !options.roots.isEmpty)
        rescan(now: Self.now())
        while true {
            let now = Self.now()
            heartbeat.millis.store(Int64(now * 1000), ordering: .relaxed)
            var fds = [pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0), pollfd(fd: inotify.fd, events: Int16(POLLIN), revents: 0)]
            let wait = nextWake(now: now)
            let n = poll(&fds, 2, Int32(max(0, min(1000, (wait - now) * 1000))))
            if n < 0 && errno != EINTR { throw .system("poll: \(errnoText(errno))") }
            if fds[0].revents != 0 { break }
            if fds[1].revents != 0 { handle(inotify.drain()) }
            let t = Self.now()
            if t >= nextRescan { rescan(now: t) }
            for key in tracked.keys where (tracked[key]?.nextCheck ?? .infinity) <= t { step(key) }
            if dirty && Self.now() - lastWrite >= 0.5 { writeTextfile() }
        }
        for key in Array(tracked.keys) { clearSeries(key) }
        up.set(Int64(0))
        writeTextfile()
    }

    func nextWake(now: Double) -> Double {
        var wake = nextRescan
        for t in tracked.values where t.nextCheck < wake { wake = t.nextCheck }
        if dirty { wake = min(wake, lastWrite + 0.5) }
        return wake
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func key(_ root: String, _ id: String) -> String { root + "/" + id }

    // MARK: Roots and events

    func watchRoot(_ root: String) {
        guard !rootWatches.values.contains(root) else { return }
        if case .success(let wd) = inotify.watch(root, Inotify.create | Inotify.delete | Inotify.movedTo | Inotify.movedFrom | Inotify.deleteSelf | Inotify.moveSelf) {
            rootWatches[wd] = root
        }
    }

    /// Lists every root: new entries are tracked, entries gone are dropped; every 10 s the verified
    /// containers' processes are checked (a stopped container keeps its folder until deleted).
    func rescan(now: Double) {
        nextRescan = now + options.rescan
        let (denied, problem) = audit.poll()
        if denied > 0 { refused.increment(by: Int64(denied)); dirty = true }
        let error: Int64 = problem == nil ? 0 : 1
        if error != auditErrorValue {
            auditErrorValue = error
            auditError.set(error)
            if let problem { Self.warn("audit log: \(problem)") }
            dirty = true
        }
        if options.roots.isEmpty {
            if parentWatch == nil, case .success(let wd) = inotify.watch(Self.containerdParent, Inotify.create | Inotify.movedTo) { parentWatch = wd }
            for root in RuntimeState.defaultRoots where !roots.contains(root) && FileIO.isDirectory(root) { roots.append(root) }
        }
        var present = Set<String>()
        for root in roots {
            watchRoot(root)
            guard let ids = ProcFS.list(root) else {
                // Not listed (out of descriptors, memory): its containers are still there unless the
                // root is gone. Dropping them would hide them; each one's next step says unverified.
                var st = stat()
                if lstat(root, &st) == 0 || errno != ENOENT {
                    for (key, t) in tracked where t.root == root { present.insert(key) }
                }
                continue
            }
            for id in ids {
                let key = Self.key(root, id)
                present.insert(key)
                if tracked[key] == nil { discover(root: root, id: id, now: now) }
            }
        }
        for key in Array(tracked.keys) where !present.contains(key) { forget(key) }
        if now >= nextLiveness {
            nextLiveness = now + 10
            for (key, t) in tracked where t.phase == .verified {
                if let r = t.record, Self.gone(r) { stopped(key) }
            }
        }
    }

    func handle(_ events: [Inotify.Event]) {
        let now = Self.now()
        for e in events {
            if e.mask & Inotify.overflow != 0 { nextRescan = 0; continue }
            if let root = rootWatches[e.wd] {
                if e.mask & (Inotify.deleteSelf | Inotify.moveSelf | Inotify.ignored) != 0 {
                    rootWatches[e.wd] = nil
                    nextRescan = 0
                    continue
                }
                guard !e.name.isEmpty else { continue }
                let key = Self.key(root, e.name)
                if e.mask & (Inotify.create | Inotify.movedTo) != 0 {
                    if tracked[key] == nil { discover(root: root, id: e.name, now: now) }
                } else if e.mask & (Inotify.delete | Inotify.movedFrom) != 0 {
                    forget(key)
                }
            } else if e.wd == parentWatch, e.mask & Inotify.isDir != 0, !e.name.isEmpty {
                let root = Self.containerdParent + "/" + e.name
                if !roots.contains(root) { roots.append(root); watchRoot(root); nextRescan = 0 }
            } else if let key = containerWatches[e.wd] {
                if e.mask & Inotify.ignored != 0 { containerWatches[e.wd] = nil; tracked[key]?.wd = nil; continue }
                // state.json written, exec.fifo removed (runc start): look again now.
                if tracked[key]?.phase == .pending { tracked[key]?.nextCheck = now; tracked[key]?.attempts = 0 }
            }
        }
    }

    func discover(root: String, id: String, now: Double) {
        let key = Self.key(root, id)
        var t = Tracked(root: root, id: id, firstSeen: now, nextCheck: now)
        // Watched while pending only: a node with thousands of containers needs no watch per verified one.
        if case .success(let wd) = inotify.watch(key, Inotify.create | Inotify.movedTo | Inotify.closeWrite | Inotify.delete) {
            t.wd = wd
            containerWatches[wd] = key
        }
        tracked[key] = t
        seen.increment()
    }

    func unwatch(_ key: String) {
        guard let wd = tracked[key]?.wd else { return }
        inotify.unwatch(wd)
        containerWatches[wd] = nil
        tracked[key]?.wd = nil
    }

    func forget(_ key: String) {
        clearSeries(key)
        unwatch(key)
        tracked[key] = nil
    }

    /// The process is gone but the folder stays (a stopped container): no series until it is deleted.
    func stopped(_ key: String) {
        clearSeries(key)
        unwatch(key)
        tracked[key]?.phase = .stopped
        tracked[key]?.nextCheck = .infinity
    }

    // MARK: Verifying

    /// One look at a tracked entry: read its state, wait for its program to start, verify.
    func step(_ key: String) {
        guard var t = tracked[key] else { return }
        let now = Self.now()
        switch StateEntry.read(root: t.root, id: t.id) {
        case .gone:
            forget(key)
        case .refused(let why):
            if t.gauge == nil || t.phase == .pending { stateRefused.increment() }
            tracked[key]?.phase = .verified
            tracked[key]?.nextCheck = now + options.interval
            unwatch(key)
            publish(key, labels: ContainerLabels(), runtime: "unknown", status: "unverified", why: why)
        case .notYet:
            t.attempts += 1
            tracked[key]?.attempts = t.attempts
            if now - t.firstSeen > options.startGrace {
                publish(key, labels: ContainerLabels(), runtime: "unknown", status: "unverified", why: "no readable state")
                tracked[key]?.nextCheck = now + min(options.interval, 5)
            } else {
                tracked[key]?.nextCheck = now + Self.backoff(t.attempts)
            }
        case .record(let r):
            tracked[key]?.record = r
            guard !Self.gone(r) else {
                stopped(key)  // created and gone, or stopped: nothing runs
                return
            }
            if t.phase == .pending && !Self.programStarted(r) {
                t.attempts += 1
                tracked[key]?.attempts = t.attempts
                if now - t.firstSeen > options.startGrace {
                    publish(key, labels: labels(of: r), runtime: r.format.rawValue, status: "unverified", why: "created, its program not started")
                }
                tracked[key]?.nextCheck = now + Self.backoff(t.attempts)
                return
            }
            verify(key, r)
        }
    }

    /// Whether the container's init is known to be gone: its /proc/PID/stat names another start, or
    /// no such pid exists. A stat that cannot be read (out of descriptors) is not "gone": such a
    /// container stays, and its next verification says unverified, instead of vanishing for good.
    static func gone(_ r: ContainerRecord) -> Bool {
        if r.isRunning { return false }
        if ProcFS.stat(r.pid) != nil { return true }
        return kill(r.pid, 0) != 0 && errno == ESRCH
    }

    static func backoff(_ attempts: Int) -> Double { min(0.25, 0.005 * Double(1 << min(attempts, 6))) }

    /// Whether the container's init has executed the container's program: seccomp is loaded just
    /// before that execve by both runtimes, so until then `Seccomp: 0` says nothing. runc's init is
    /// `runc init` (its own binary or a memfd copy); crun's is a fork of crun.
    static func programStarted(_ r: ContainerRecord) -> Bool {
        guard let cmdline = ProcFS.read("/proc/\(r.pid)/cmdline", limit: 4096) else { return true }  // gone: verify says so
        let argv = cmdline.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        let exe = ProcFS.readLink("/proc/\(r.pid)/exe") ?? ""
        let comm = ProcFS.read("/proc/\(r.pid)/comm", limit: 64).map { String(decoding: $0, as: UTF8.self) } ?? ""
        switch r.format {
        case .runc:
            if comm.hasPrefix("runc:[") { return false }  // runc:[2:INIT]
            return !(argv.count >= 2 && argv[1] == "init" && (exe.contains("runc") || argv[0].contains("runc")))
        case .crun:
            // Its comm and argv stay crun's until the execve; its exe may read "/" (outside the new root).
            return !(comm.hasPrefix("crun") || exe.contains("crun") || (argv.first.map { $0 == "crun" || $0.hasSuffix("/crun") } ?? false))
        }
    }

    func labels(of r: ContainerRecord) -> ContainerLabels {
        let path = r.configPath ?? r.bundle.map { $0 + "/config.json" }
        guard let path, let bytes = StateEntry.readBounded(path), let doc = try? JSONDocument(bytes: bytes, name: path) else {
            return ContainerLabels()
        }
        let annotations = withExtendedLifetime(doc) { (doc.root["annotations"]?.entries ?? []).compactMap { e in e.value.string.map { (e.key, $0) } } }
        return ContainerLabels(annotations: annotations)
    }

    func verify(_ key: String, _ r: ContainerRecord) {
        let start = Self.now()
        let status: String
        var why = ""
        do {
            let report = try verifier.verify(r)
            switch report.outcome {
            case .holds: status = "holds"
            case .fallsShort, .unaccounted: status = "falls_short"
            case .unverified: status = "unverified"
            case .exempt: status = "exempt"
            }
            why = report.failures.first?.evidence ?? ""
        } catch {
            if Self.gone(r) { stopped(key); return }
            status = "unverified"
            why = error.message
        }
        let end = Self.now()
        verifySeconds.recordNanoseconds(Int64((end - start) * 1e9))
        if tracked[key]?.detected == false, let started = ProcFS.startUptime(r.pid) {
            var ts = timespec()
            clock_gettime(CLOCK_BOOTTIME, &ts)
            detectionSeconds.record(max(0, Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9 - started))
            tracked[key]?.detected = true
        }
        if status == "exempt", tracked[key]?.exemptCounted == false {
            exempt.increment()
            tracked[key]?.exemptCounted = true
        }
        tracked[key]?.phase = .verified
        tracked[key]?.nextCheck = end + options.interval
        unwatch(key)
        publish(key, labels: labels(of: r), runtime: r.format.rawValue, status: status, why: why)
    }

    // MARK: Series

    func publish(_ key: String, labels l: ContainerLabels, runtime: String, status: String, why: String) {
        guard let t = tracked[key] else { return }
        let labels = [("namespace", l.namespace), ("pod", l.pod), ("container", l.container), ("image", l.image),
                      ("runtime", runtime), ("id", t.id), ("status", status)]
        if t.gauge != nil, t.labels.elementsEqual(labels, by: { $0 == $1 }) { return }
        let was = t.labels.first { $0.0 == "status" }?.1
        if was != status {
            // One line per change of verdict: what an operator reads next to the alert.
            Self.warn("\(t.root)/\(t.id) (\(runtime)): \(status)" + (why.isEmpty ? "" : ": " + String(why.prefix(400))))
        }
        clearSeries(key)
        let gauge = registry.makeGauge(descriptor: Self.series, labels: labels)
        gauge.set(Int64(1))
        tracked[key]?.gauge = gauge
        tracked[key]?.labels = labels
        dirty = true
    }

    func clearSeries(_ key: String) {
        guard let gauge = tracked[key]?.gauge else { return }
        // The registry hands out one gauge per label set: the same id in two roots (containerd's
        // namespaces) with the same labels shares it, and the other entry's series must stay.
        if !tracked.contains(where: { $0.key != key && $0.value.gauge === gauge }) { registry.unregisterGauge(gauge) }
        tracked[key]?.gauge = nil
        tracked[key]?.labels = []
        dirty = true
    }

    /// Replaces DIR/seccomp_warden.prom: a temp file in the same folder (node-exporter reads only
    /// `*.prom`), synced, then renamed over it, so the collector never reads half a file.
    func writeTextfile() {
        dirty = false
        lastWrite = Self.now()
        guard let dir = options.textfile else { return }
        let bytes = registry.emitToBuffer()
        let dirFD = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0 else { Self.warn("cannot open the textfile folder \(dir): \(errnoText(errno))"); return }
        defer { close(dirFD) }
        let temp = ".seccomp_warden.prom.\(getpid()).tmp"
        let fd = openat(dirFD, temp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { Self.warn("cannot write \(dir)/\(temp): \(errnoText(errno))"); return }
        var ok = (try? FileIO.writeAll(fd: fd, bytes, name: temp)) != nil
        ok = ok && fsync(fd) == 0
        close(fd)
        if !ok || renameat(dirFD, temp, dirFD, "seccomp_warden.prom") != 0 {
            Self.warn("cannot replace \(dir)/seccomp_warden.prom: \(errnoText(errno))")
            unlinkat(dirFD, temp, 0)
        }
    }

    static func warn(_ line: String) {
        let text = "seccomp-warden-agent: \(line)\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
    }

    /// Tests and benchmarks: the number of state entries tracked, and of container series.
    public var trackedCount: Int { tracked.count }
    public var seriesCount: Int { tracked.values.filter { $0.gauge != nil }.count }
}
#endif

/// Monotonic milliseconds of the agent loop's last turn (0: not started); read by the HTTP threads.
public final class Heartbeat: Sendable {
    public let millis = Atomic<Int64>(0)
    public init() {}
}
