import WardenCore
import Foundation
import Testing
@testable import WardenPolicy
@testable import WardenHost
@testable import WardenVerify
@testable import WardenSeccomp
@testable import WardenSpec

/// The verifier against containers that try to look compliant (Tests/support/evade.c), each with a
/// positive control: the same program in a properly filtered container verifies as holding.
/// Every container lives under a private state root and is killed and deleted on every exit path.
@Suite("Verify evasions", .serialized)
struct VerifyEvasionTests {
    static let runtimes = ["runc", "crun"]

    /// A detached container; `stop()` kills its processes from the host and deletes it.
    struct Box {
        var runtime: String
        var id: String
        var bundle: String
        var root: String
        var pid: Int32

        func stop() {
            // runc's delete -f leaves the threads of a container whose leader exited: kill from the host.
            if pid > 0 { kill(pid, SIGKILL) }
            // Until no task is left alive (a zombie leader's threads die after it): else the cgroup is busy for delete.
            for _ in 0..<60 where pid > 0 && ContainerProcesses.isLive(pid) { usleep(50_000) }
            let cmd = runtime == "runc" ? "runc --root \(root) delete -f \(id)" : "crun_ns --root \(root) delete -f \(id)"
            _ = try? VerifyEvasionTests.shell(cmd + " >/dev/null 2>&1; true")
        }
    }

    static func shell(_ script: String) throws -> Result {
        try sh("source \(Repo.root)/Tests/support/runtime.sh\nsource \(Repo.root)/Tests/support/evade.sh\n" + script,
               env: ["WARDEN": Repo.binary])
    }

    func shell(_ script: String) throws -> Result { try Self.shell(script) }

    /// A bundle running `evade MODE` from `sample`, tightened by `apply` when asked.
    func bundle(_ sample: String, mode: String, in dir: String, apply: Bool, caps: [String] = []) throws -> String {
        let b = dir + "/b-\(mode)-\(apply ? "applied" : "raw")"
        let r = try shell("make_evade_bundle \(Repo.sample(sample))/config.json \(b) \(mode) \(caps.joined(separator: " "))")
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        if apply {
            let a = try warden(["apply", b])
            #expect(a.status == 0, "\(a.stdout) \(a.stderr)")
        }
        return b
    }

    /// Starts the bundle detached under `root` and waits for `ready` in the container's output.
    func start(_ runtime: String, bundle: String, tag: String, root: String, ready: String?) throws -> Box {
        let id = "\(tag)-\(runtime)-\(UInt32.random(in: 0...UInt32.max))"
        // The pid from --pid-file: `state` reports a container whose leader exited as stopped, without its pid.
        let script = runtime == "runc"
            ? "cd \(bundle) && runc --root \(root) run -d --pid-file \(bundle)/pid \(id) </dev/null >\(bundle)/log 2>&1 && cat \(bundle)/pid"
            : "cd \(bundle) && crun_ns --cgroup-manager=disabled --root \(root) run -d --pid-file \(bundle)/pid \(id) </dev/null >\(bundle)/log 2>&1 && cat \(bundle)/pid"
        let r = try shell(script)
        let pid = Int32(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        let box = Box(runtime: runtime, id: id, bundle: bundle, root: root, pid: pid)
        if r.status != 0 || pid <= 0 {
            box.stop()
            Issue.record("\(runtime) run -d failed: \(r.stdout) \(r.stderr) \(readText(bundle + "/log"))")
            throw CancellationError()
        }
        if let ready {
            let w = try shell("wait_for_line \(bundle)/log '\(ready)' 15")
            if w.status != 0 {
                box.stop()
                Issue.record("\(id): no '\(ready)' in its output: \(readText(bundle + "/log"))")
                throw CancellationError()
            }
        }
        return box
    }

    func verify(_ box: Box, _ extra: [String] = []) throws -> Result {
        try warden(["verify", "--root", box.root, "--container", box.id] + extra)
    }

    func json(_ r: Result) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    func target(_ r: Result) -> [String: Any] {
        ((json(r)["targets"] as? [[String: Any]]) ?? []).first ?? [:]
    }

    func checks(_ t: [String: Any]) -> [[String: Any]] { (t["checks"] as? [[String: Any]]) ?? [] }

    /// No task of the process is traced or stopped after verify (every one was detached).
    func expectUntraced(_ box: Box) {
        for tid in ProcFS.threads(of: box.pid) {
            let status = readText("/proc/\(box.pid)/task/\(tid)/status")
            let state = status.split(separator: "\n").first { $0.hasPrefix("State:") } ?? ""
            if status.isEmpty || state.contains("Z (zombie)") { continue }  // exited meanwhile
            #expect(status.contains("TracerPid:\t0\n"), "tid \(tid): \(status)")
            #expect(!state.contains("(stopped)") && !state.contains("(tracing stop)"), "tid \(tid): \(state)")
        }
    }

    // MARK: - Threads

    @Test("a strict filter on the main thread only (no TSYNC) while a second thread keeps the weak one: exit 1, the thread named; control holds",
          arguments: runtimes)
    func mainThreadOnly(runtime: String) throws {
        let dir = try tempDir("evade-nosync-\(runtime)")
        defer { cleanup(dir) }
        let root = dir + "/root"
        let weak = try start(runtime, bundle: try bundle("weak-allow", mode: "nosync", in: dir, apply: false),
                             tag: "nosync", root: root, ready: "evade nosync ready")
        defer { weak.stop() }
        let r = try verify(weak)
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("FALLS SHORT"), "\(r.stdout)")
        #expect(r.stdout.contains("2 distinct chains"), "\(r.stdout)")
        let second = try #require(ProcFS.threads(of: weak.pid).first { $0 != weak.pid })
        #expect(r.stdout.contains("keyctl: the loaded filters give ALLOW"), "\(r.stdout)")
        #expect(r.stdout.contains("in pid \(weak.pid) tid \(second) (evade)"), "\(r.stdout)")
        let j = try verify(weak, ["--json"])
        #expect(target(j)["status"] as? String == "falls_short", "\(j.stdout)")
        #expect(target(j)["tasksRead"] as? Int == 2, "\(j.stdout)")
        expectUntraced(weak)

        // Control: under the tightened profile both threads carry the baseline.
        let good = try start(runtime, bundle: try bundle("weak-allow", mode: "nosync", in: dir, apply: true),
                             tag: "nosync-ok", root: root, ready: "evade nosync ready")
        defer { good.stop() }
        let c = try verify(good, ["--json"])
        #expect(c.status == 0, "\(c.stdout) \(c.stderr)")
        #expect(target(c)["status"] as? String == "holds", "\(c.stdout)")
        #expect(target(c)["tasksRead"] as? Int == 2, "\(c.stdout)")
        expectUntraced(good)
    }

    @Test("a leader that pthread_exit()s while a thread lives on is read through the live thread: weak falls short, tightened holds",
          arguments: runtimes)
    func zombieLeader(runtime: String) throws {
        let dir = try tempDir("evade-leader-\(runtime)")
        defer { cleanup(dir) }
        let root = dir + "/root"
        let weak = try start(runtime, bundle: try bundle("weak-allow", mode: "leader-exit", in: dir, apply: false),
                             tag: "leader", root: root, ready: "evade leader-exit ready")
        defer { weak.stop() }
        // The leader is a zombie before we look.
        for _ in 0..<200 where !readText("/proc/\(weak.pid)/task/\(weak.pid)/status").contains("Z (zombie)") { usleep(50_000) }
        #expect(readText("/proc/\(weak.pid)/task/\(weak.pid)/status").contains("Z (zombie)"))
        let r = try verify(weak)
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("FALLS SHORT"), "\(r.stdout)")
        #expect(r.stdout.contains("(and 1 exited, not counted"), "\(r.stdout)")
        #expect(r.stdout.contains("syscall keyctl"), "\(r.stdout)")
        expectUntraced(weak)

        let good = try start(runtime, bundle: try bundle("weak-allow", mode: "leader-exit", in: dir, apply: true),
                             tag: "leader-ok", root: root, ready: "evade leader-exit ready")
        defer { good.stop() }
        // tasksRead 1 below needs the leader gone: wait for it as for the weak one (a loaded machine can take seconds).
        for _ in 0..<200 where !readText("/proc/\(good.pid)/task/\(good.pid)/status").contains("Z (zombie)") { usleep(50_000) }
        #expect(readText("/proc/\(good.pid)/task/\(good.pid)/status").contains("Z (zombie)"))
        let c = try verify(good, ["--json"])
        #expect(c.status == 0, "\(c.stdout) \(c.stderr)")
        let t = target(c)
        #expect(t["status"] as? String == "holds", "\(c.stdout)")
        #expect(t["tasksRead"] as? Int == 1, "\(c.stdout)")
        #expect(((t["loadedFilters"] as? [Int]) ?? []).count >= 1, "\(c.stdout)")
        expectUntraced(good)
    }

    @Test("a child that already ptraces pid 1: pid 1 cannot be read, so the container is UNVERIFIED (exit 1); control holds",
          arguments: runtimes)
    func tracedInit(runtime: String) throws {
        let dir = try tempDir("evade-trace-\(runtime)")
        defer { cleanup(dir) }
        let root = dir + "/root"
        let weak = try start(runtime, bundle: try bundle("weak-allow", mode: "trace-init", in: dir, apply: false),
                             tag: "trace", root: root, ready: "evade trace-init ready")
        defer { weak.stop() }
        #expect(readText(weak.bundle + "/log").contains("attached to 1"), "\(readText(weak.bundle + "/log"))")
        let tracer = readText("/proc/\(weak.pid)/status").split(separator: "\n").first { $0.hasPrefix("TracerPid:") } ?? ""
        #expect(!tracer.hasSuffix("\t0"), "\(tracer)")
        let r = try verify(weak)
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("UNVERIFIED"), "\(r.stdout)")
        #expect(r.stdout.contains("pid \(weak.pid) tid \(weak.pid) (evade): already traced by pid"), "\(r.stdout)")
        let j = try verify(weak, ["--json"])
        #expect(j.status == 1)
        #expect(json(j)["status"] as? String == "unverified", "\(j.stdout)")
        #expect(json(j)["holds"] as? Bool == false)
        let t = target(j)
        #expect(t["status"] as? String == "unverified", "\(j.stdout)")
        #expect(checks(t).contains { $0["check"] as? String == "loaded filters" && $0["status"] as? String == "unverified" }, "\(j.stdout)")
        // What could be read was: the tracer's own (strict) chain.
        #expect(t["tasksRead"] as? Int == 1, "\(j.stdout)")
        let p = try verify(weak, ["--format", "prometheus"])
        #expect(p.status == 1)
        #expect(p.stdout.contains("seccomp_warden_unverified{container=\"\(weak.id)\",runtime=\"\(runtime)\",pid=\"\(weak.pid)\"} 1"), "\(p.stdout)")
        #expect(p.stdout.contains("seccomp_warden_verify_ok 0"), "\(p.stdout)")
        #expect(p.stdout.contains("seccomp_warden_scrape_error 0"), "\(p.stdout)")

        // Control: the tightened profile denies ptrace, so nothing is attached and everything is read.
        let good = try start(runtime, bundle: try bundle("weak-allow", mode: "trace-init", in: dir, apply: true),
                             tag: "trace-ok", root: root, ready: "evade trace-init ready")
        defer { good.stop() }
        #expect(readText(good.bundle + "/log").contains("PTRACE_ATTACH 1: Operation not permitted"), "\(readText(good.bundle + "/log"))")
        let c = try verify(good)
        #expect(c.status == 0, "\(c.stdout) \(c.stderr)")
        #expect(c.stdout.contains("HOLDS"), "\(c.stdout)")
        expectUntraced(good)
    }

    @Test("another tracer for a moment (another verifier, the agent's round, a poststart hook) is waited for: HOLDS; one that stays is UNVERIFIED")
    func tracerForAMoment() throws {
        let dir = try tempDir("evade-moment")
        defer { cleanup(dir) }
        let box = try strictBox(dir, tag: "moment")
        defer { box.stop() }
        func traced() -> Bool { !readText("/proc/\(box.pid)/status").contains("TracerPid:\t0\n") }
        // strace holds the init for 0.3 s, as a verifier holds a container's tasks while it reads them.
        for (hold, holds) in [(0.3, true), (12.0, false)] {
            let s = try shell("setsid strace -p \(box.pid) -o /dev/null </dev/null >/dev/null 2>&1 & echo $!")
            let tracer = try #require(Int32(s.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
            defer { kill(tracer, SIGKILL) }
            for _ in 0..<250 where !traced() { usleep(20_000) }
            #expect(traced(), "strace did not attach")
            // Cancelled once verify is done: a late kill could hit a reused pid.
            let release = DispatchWorkItem { kill(tracer, SIGKILL) }
            DispatchQueue.global().asyncAfter(deadline: .now() + hold, execute: release)
            let t0 = Date()
            let r = try verify(box)
            let took = Date().timeIntervalSince(t0)
            if holds {
                #expect(r.status == 0, "\(took) s, tracer \(readText("/proc/\(tracer)/status").prefix(40)) \(r.stdout) \(r.stderr)")
                #expect(r.stdout.contains("HOLDS") && !r.stdout.contains("already traced"), "\(r.stdout)")
            } else {
                #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
                #expect(r.stdout.contains("UNVERIFIED") && r.stdout.contains("already traced by pid"), "\(r.stdout)")
            }
            release.cancel()
            kill(tracer, SIGKILL)
            for _ in 0..<250 where traced() { usleep(20_000) }
        }
        expectUntraced(box)
    }

    @Test("a filter that denies only calls from instruction pointer 0 does not pass for a denying one; control holds", arguments: runtimes)
    func instructionPointerZero(runtime: String) throws {
        let dir = try tempDir("evade-ip-\(runtime)")
        defer { cleanup(dir) }
        let root = dir + "/root"
        let weak = try start(runtime, bundle: try bundle("weak-allow", mode: "ip-zero", in: dir, apply: false),
                             tag: "ipzero", root: root, ready: "evade ip-zero ready")
        defer { weak.stop() }
        let r = try verify(weak)
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("keyctl: the loaded filters give ALLOW"), "\(r.stdout)")
        #expect(r.stdout.contains("instruction pointer 0x"), "\(r.stdout)")
        expectUntraced(weak)

        let good = try start(runtime, bundle: try bundle("weak-allow", mode: "ip-zero", in: dir, apply: true),
                             tag: "ipzero-ok", root: root, ready: "evade ip-zero ready")
        defer { good.stop() }
        let c = try verify(good)
        #expect(c.status == 0, "\(c.stdout) \(c.stderr)")
        expectUntraced(good)
    }

    @Test("a filter whose answer is computed from the input cannot be proven: UNVERIFIED (exit 1), not HOLDS; control holds", arguments: runtimes)
    func undecidedFilter(runtime: String) throws {
        let dir = try tempDir("evade-computed-\(runtime)")
        defer { cleanup(dir) }
        let root = dir + "/root"
        let weak = try start(runtime, bundle: try bundle("weak-allow", mode: "computed", in: dir, apply: false),
                             tag: "computed", root: root, ready: "evade computed ready")
        defer { weak.stop() }
        let r = try verify(weak, ["--json"])
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
        let t = target(r)
        #expect(t["status"] as? String == "unverified", "\(r.stdout)")
        #expect(checks(t).contains { ($0["evidence"] as? String ?? "").contains("the proof could not decide") && $0["status"] as? String == "unverified" },
                "\(r.stdout)")
        expectUntraced(weak)

        // Control: the tightened profile (loaded first) denies every route before the computed filter matters.
        let good = try start(runtime, bundle: try bundle("weak-allow", mode: "computed", in: dir, apply: true),
                             tag: "computed-ok", root: root, ready: "evade computed ready")
        defer { good.stop() }
        let c = try verify(good)
        #expect(c.status == 0, "\(c.stdout) \(c.stderr)")
        expectUntraced(good)
    }

    // MARK: - Processes

    @Test("a process in a PID namespace nested inside the container's is the container's: its missing filter is found; control holds",
          arguments: runtimes)
    func nestedPidNamespace(runtime: String) throws {
        let dir = try tempDir("evade-nested-\(runtime)")
        defer { cleanup(dir) }
        let root = dir + "/root"
        let weak = try start(runtime, bundle: try bundle("no-seccomp", mode: "nested-pidns", in: dir, apply: false, caps: ["CAP_SYS_ADMIN"]),
                             tag: "nested", root: root, ready: "evade nested-pidns ready")
        defer { weak.stop() }
        let r = try verify(weak)
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("1 in nested PID namespaces"), "\(r.stdout)")
        #expect(r.stdout.contains("[nested PID namespace]: Seccomp 0 (disabled): no seccomp filter"), "\(r.stdout)")
        expectUntraced(weak)

        let good = try start(runtime, bundle: try bundle("no-seccomp", mode: "nested-pidns", in: dir, apply: true, caps: ["CAP_SYS_ADMIN"]),
                             tag: "nested-ok", root: root, ready: "evade nested-pidns ready")
        defer { good.stop() }
        let c = try verify(good)
        #expect(c.status == 0, "\(c.stdout) \(c.stderr) \(readText(good.bundle + "/log"))")
        expectUntraced(good)
    }

    @Test("a host process put into the container's cgroup (outside its PID namespace) is judged with it (runc: crun here has no cgroup)")
    func cgroupOutsidePidNamespace() throws {
        let dir = try tempDir("evade-cgroup")
        defer { cleanup(dir) }
        let root = dir + "/root"
        let box = try start("runc", bundle: try bundle("weak-allow", mode: "strict", in: dir, apply: true),
                            tag: "cgroup", root: root, ready: "evade strict ready")
        defer { box.stop() }
        let before = try verify(box)
        #expect(before.status == 0, "\(before.stdout) \(before.stderr)")

        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(root)/\(box.id)/state.json"))) as? [String: Any]
        let pidsCgroup = try #require((state?["cgroup_paths"] as? [String: String])?["pids"], "\(String(describing: state))")
        let s = try shell("setsid sleep 600 </dev/null >/dev/null 2>&1 & echo $!")
        let host = try #require(Int32(s.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        defer { kill(host, SIGKILL) }
        // The shell's fork is "bash", then "setsid", until it execs sleep: wait for the name the report must give.
        for _ in 0..<500 where readText("/proc/\(host)/comm") != "sleep\n" { usleep(20_000) }
        #expect(readText("/proc/\(host)/comm") == "sleep\n")
        try "\(host)\n".write(toFile: pidsCgroup + "/cgroup.procs", atomically: false, encoding: .utf8)
        let r = try verify(box)
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("1 in its cgroup outside it"), "\(r.stdout)")
        #expect(r.stdout.contains("pid \(host) tid \(host) (sleep) [in the container's cgroup, outside its PID namespace]: Seccomp 0"), "\(r.stdout)")
        expectUntraced(box)
        #expect(readText("/proc/\(host)/status").contains("TracerPid:\t0\n"))
    }

    @Test("a process in the container's PID namespace but in none of its cgroups (entered from the host, moved to every hierarchy's root) is found and judged")
    func pidNamespaceOutsideCgroup() throws {
        let dir = try tempDir("evade-uncgroup")
        defer { cleanup(dir) }
        let root = dir + "/root"
        let box = try start("runc", bundle: try bundle("weak-allow", mode: "strict", in: dir, apply: true),
                            tag: "uncgroup", root: root, ready: "evade strict ready")
        defer { box.stop() }
        let before = try verify(box)
        #expect(before.status == 0, "\(before.stdout) \(before.stderr)")

        // nsenter forks: its child is in the container's PID namespace, without a filter, in the host's cgroups.
        let s = try shell("setsid nsenter -t \(box.pid) -p sleep 600 </dev/null >/dev/null 2>&1 & echo $!")
        let outer = try #require(Int32(s.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        defer { kill(outer, SIGKILL) }
        var child: Int32? = nil
        for _ in 0..<100 where child == nil {
            child = Int32(readText("/proc/\(outer)/task/\(outer)/children").trimmingCharacters(in: .whitespacesAndNewlines))
            if child == nil { usleep(20_000) }
        }
        let inside = try #require(child)
        defer { kill(inside, SIGKILL) }
        // nsenter's child is "nsenter" until it execs sleep: wait for the name the report must give.
        for _ in 0..<250 where readText("/proc/\(inside)/comm") != "sleep\n" { usleep(20_000) }
        #expect(readText("/proc/\(inside)/comm") == "sleep\n")
        // Out of every cgroup the container has: each mounted hierarchy's root.
        let m = try shell("for f in /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/*/cgroup.procs; do [ -f \"$f\" ] && echo \(inside) >\"$f\" 2>/dev/null; done; cat /proc/\(inside)/cgroup")
        let boxCgroup = readText("/proc/\(box.pid)/cgroup")
        let shared = Set(m.stdout.split(separator: "\n")).intersection(boxCgroup.split(separator: "\n")).filter { !$0.hasSuffix(":/") }
        #expect(shared.isEmpty, "\(m.stdout) vs \(boxCgroup)")
        let r = try verify(box)
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("2 processes (pid namespace)"), "\(r.stdout)")
        #expect(r.stdout.contains("pid \(inside) tid \(inside) (sleep): Seccomp 0"), "\(r.stdout)")
        #expect(!r.stdout.contains("pid \(outer) "), "\(r.stdout)")
        expectUntraced(box)
    }

    // MARK: - Races

    @Test("a thread created after the first listing, by a thread that then loads a strict filter, is found by the next listing")
    func threadAfterListing() throws {
        let dir = try tempDir("evade-late")
        defer { cleanup(dir) }
        let root = dir + "/root"
        let policy = try Policy.builtin()
        for apply in [false, true] {
            let box = try start("runc", bundle: try bundle("weak-allow", mode: "late-thread", in: dir, apply: apply),
                                tag: "late\(apply ? "-ok" : "")", root: root, ready: "evade late-thread ready")
            defer { box.stop() }
            #expect(ProcFS.threads(of: box.pid).count == 1)
            let record = try #require(try RuntimeState.find(id: box.id, roots: [root]))
            let verifier = try Verifier(policy: policy)
            var fired = false
            verifier.afterListing = { round in
                guard round == 1 else { return }
                // The first listing saw one thread; now it makes a second and turns strict itself.
                kill(box.pid, SIGUSR1)
                for _ in 0..<750 where !readText(box.bundle + "/log").contains("evade late-thread done") { usleep(20_000) }
                fired = true
            }
            let report = try verifier.verify(record)
            #expect(fired)
            #expect(readText(box.bundle + "/log").contains("evade late-thread done"))
            #expect(report.tasksRead == 2, "\(report.checks.map(\.evidence))")
            if apply {
                #expect(report.outcome == .holds, "\(report.checks.map(\.evidence))")
            } else {
                #expect(report.outcome == .fallsShort, "\(report.checks.map(\.evidence))")
                let second = try #require(ProcFS.threads(of: box.pid).first { $0 != box.pid })
                let keyctl = report.checks.first { $0.check == "syscall keyctl" }
                #expect(keyctl?.evidence.contains("tid \(second)") == true, "\(String(describing: keyctl))")
            }
            expectUntraced(box)
        }
    }

    @Test("threads and processes that come and go all the time: verify ends, judges, and leaves every task untraced", arguments: runtimes)
    func churn(runtime: String) throws {
        let dir = try tempDir("evade-churn-\(runtime)")
        defer { cleanup(dir) }
        let root = dir + "/root"
        let good = try start(runtime, bundle: try bundle("weak-allow", mode: "churn", in: dir, apply: true),
                             tag: "churn-ok", root: root, ready: "evade churn ready")
        defer { good.stop() }
        for _ in 0..<3 {
            let began = Date()
            let c = try verify(good, ["--json"])
            #expect(c.status == 0, "\(c.stdout) \(c.stderr)")
            #expect(target(c)["status"] as? String == "holds", "\(c.stdout)")
            #expect(Date().timeIntervalSince(began) < 30)
            expectUntraced(good)
        }
        let weak = try start(runtime, bundle: try bundle("weak-allow", mode: "churn", in: dir, apply: false),
                             tag: "churn", root: root, ready: "evade churn ready")
        defer { weak.stop() }
        let r = try verify(weak)
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("syscall keyctl"), "\(r.stdout)")
        expectUntraced(weak)
    }

    // MARK: - Many containers

    @Test("--all: a container that refuses ptrace is unverified, and every other container is still fully read and judged")
    func allKeepsChecking() throws {
        let dir = try tempDir("evade-all")
        defer { cleanup(dir) }
        let root = dir + "/root"
        var boxes = [Box]()
        defer { for b in boxes { b.stop() } }
        // Sorted ids: the refusing one first, so a refusal remembered would skip all the others.
        boxes.append(try start("runc", bundle: try bundle("weak-allow", mode: "trace-init", in: dir, apply: false),
                               tag: "a-traced", root: root, ready: "evade trace-init ready"))
        boxes.append(try start("runc", bundle: try bundle("weak-allow", mode: "nosync", in: dir, apply: false),
                               tag: "b-weak", root: root, ready: "evade nosync ready"))
        boxes.append(try start("runc", bundle: try bundle("weak-allow", mode: "nosync", in: dir, apply: true),
                               tag: "c-tight", root: root, ready: "evade nosync ready"))
        boxes.append(try start("runc", bundle: try bundle("weak-allow", mode: "leader-exit", in: dir, apply: true),
                               tag: "d-leader", root: root, ready: "evade leader-exit ready"))
        // Plain runc, no decision covers them: the backstop (BackstopTests) is left out here.
        let r = try warden(["verify", "--all", "--no-accounting", "--root", root])
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("4 containers verified: 2 hold, 1 fall short, 1 unverified"), "\(r.stdout)")
        let j = try warden(["verify", "--all", "--no-accounting", "--root", root, "--json"])
        #expect(j.status == 1)
        #expect(json(j)["status"] as? String == "falls_short", "\(j.stdout)")
        let targets = (json(j)["targets"] as? [[String: Any]]) ?? []
        func t(_ prefix: String) -> [String: Any] { targets.first { ($0["container"] as? String)?.hasPrefix(prefix) == true } ?? [:] }
        #expect(t("a-traced")["status"] as? String == "unverified")
        // b looks strict on its main thread: only its second thread's filter, read, shows the shortfall.
        #expect(t("b-weak")["status"] as? String == "falls_short")
        #expect(t("b-weak")["tasksRead"] as? Int == 2, "\(j.stdout)")
        #expect(t("c-tight")["status"] as? String == "holds")
        #expect(t("d-leader")["status"] as? String == "holds")
        for name in ["b-weak", "c-tight", "d-leader"] {
            #expect((t(name)["tasksRead"] as? Int ?? 0) >= 1, "\(name): \(j.stdout)")
            #expect(((t(name)["loadedFilters"] as? [Int]) ?? []).count >= 1, "\(name): \(j.stdout)")
        }
        let p = try warden(["verify", "--all", "--no-accounting", "--root", root, "--format", "prometheus"])
        #expect(p.status == 1)
        #expect(p.stdout.contains("seccomp_warden_containers{result=\"unverified\"} 1"), "\(p.stdout)")
        #expect(p.stdout.contains("seccomp_warden_containers{result=\"holds\"} 2"), "\(p.stdout)")
        #expect(p.stdout.contains("seccomp_warden_verify_ok 0"), "\(p.stdout)")
        #expect(p.stdout.contains("seccomp_warden_scrape_error 0"), "\(p.stdout)")
        expectPrometheusText(p.stdout)
        for b in boxes where !b.id.hasPrefix("a-") { expectUntraced(b) }
    }

    // MARK: - Failing closed

    /// A tightened container running `evade strict` under a private root, for the tests below.
    func strictBox(_ dir: String, runtime: String = "runc", tag: String) throws -> Box {
        try start(runtime, bundle: try bundle("weak-allow", mode: "strict", in: dir, apply: true),
                  tag: tag, root: dir + "/root", ready: "evade strict ready")
    }

    @Test("as nobody (no CAP_SYS_PTRACE, no CAP_SYS_ADMIN): exit 2 and no '0 containers, ok'; Prometheus says scrape_error 1")
    func unprivileged() throws {
        let dir = try tempDir("failclosed-nobody")
        defer { cleanup(dir) }
        let box = try strictBox(dir, tag: "nobody")
        defer { box.stop() }
        chmod(dir, 0o755)
        // Positive control: as root the container is found and holds.
        let ok = try warden(["verify", "--all", "--no-accounting", "--root", box.root])
        #expect(ok.status == 0, "\(ok.stdout) \(ok.stderr)")
        #expect(ok.stdout.contains("1 container verified: 1 hold, 0 fall short, 0 unverified"), "\(ok.stdout)")
        let asNobody = "setpriv --reuid=65534 --regid=65534 --clear-groups \(Repo.binary) verify"
        for args in ["--all", "--all --root \(box.root)", "--container \(box.id) --root \(box.root)", "--pid \(box.pid)"] {
            let r = try sh("\(asNobody) \(args)", env: ["SECCOMP_WARDEN_POLICY": "builtin"])
            #expect(r.status == 2, "\(args): \(r.stdout) \(r.stderr)")
            #expect(r.stderr.contains("verify needs root privileges it does not have: CAP_SYS_PTRACE, CAP_SYS_ADMIN"), "\(args): \(r.stderr)")
            #expect(r.stdout.isEmpty, "\(args): \(r.stdout)")
        }
        let p = try sh("\(asNobody) --all --format prometheus", env: ["SECCOMP_WARDEN_POLICY": "builtin"])
        #expect(p.status == 2)
        #expect(p.stdout.contains("seccomp_warden_scrape_error 1"), "\(p.stdout)")
        #expect(p.stdout.contains("seccomp_warden_verify_ok 0"), "\(p.stdout)")
        expectPrometheusText(p.stdout)
        expectUntraced(box)
    }

    @Test("runtime roots: a --root that does not exist, or one that cannot be read, is exit 2; a readable empty one is 0 containers")
    func roots() throws {
        let dir = try tempDir("failclosed-roots")
        defer { cleanup(dir) }
        let missing = dir + "/nonexistent"
        for args in [["--all"], ["--container", "x"], ["--pid", String(getpid())]] {
            let r = try warden(["verify", "--root", missing] + args)
            #expect(r.status == 2, "\(args): \(r.stdout) \(r.stderr)")
            #expect(r.stderr.contains("cannot read the runtime state root \(missing): No such file or directory"), "\(r.stderr)")
        }
        let locked = dir + "/locked", empty = dir + "/empty"
        mkdir(locked, 0o000)
        mkdir(empty, 0o755)
        chmod(locked, 0o000)
        // Root without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH cannot list a mode-000 folder.
        let drop = "capsh --drop=cap_dac_override,cap_dac_read_search -- -c"
        let r = try sh("\(drop) '\(Repo.binary) verify --all --root \(locked)'", env: ["SECCOMP_WARDEN_POLICY": "builtin"])
        #expect(r.status == 2, "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("cannot read the runtime state root \(locked): Permission denied"), "\(r.stderr)")
        #expect(!r.stdout.contains("0 containers"), "\(r.stdout)")
        // Control: the same privileges on a readable, empty root: nothing runs there, and that is said.
        let c = try sh("\(drop) '\(Repo.binary) verify --all --no-accounting --root \(empty)'", env: ["SECCOMP_WARDEN_POLICY": "builtin"])
        #expect(c.status == 0, "\(c.stdout) \(c.stderr)")
        #expect(c.stdout.contains("no running containers under \(empty)"), "\(c.stdout)")
    }

    @Test("from another PID namespace, or with a /proc not of its own: exit 2, not 'every container stopped'")
    func foreignPidNamespace() throws {
        let dir = try tempDir("failclosed-pidns")
        defer { cleanup(dir) }
        let box = try strictBox(dir, tag: "pidns")
        defer { box.stop() }
        let own = try sh("unshare -p -f --mount-proc \(Repo.binary) verify --all --root \(box.root)", env: ["SECCOMP_WARDEN_POLICY": "builtin"])
        #expect(own.status == 2, "\(own.stdout) \(own.stderr)")
        #expect(own.stderr.contains("must run in the host's PID namespace"), "\(own.stderr)")
        let hostProc = try sh("unshare -p -f \(Repo.binary) verify --pid \(box.pid)", env: ["SECCOMP_WARDEN_POLICY": "builtin"])
        #expect(hostProc.status == 2, "\(hostProc.stdout) \(hostProc.stderr)")
        #expect(hostProc.stderr.contains("is not of the verifier's PID namespace"), "\(hostProc.stderr)")
        expectUntraced(box)
    }

    @Test("hidepid=2 on /proc hides nothing from root with CAP_SYS_PTRACE (holds); as nobody it is exit 2")
    func hidepid() throws {
        let dir = try tempDir("failclosed-hidepid")
        defer { cleanup(dir) }
        let box = try strictBox(dir, tag: "hidepid")
        defer { box.stop() }
        chmod(dir, 0o755)
        let mountHidden = "unshare -m sh -c 'mount -t proc -o hidepid=2 proc /proc && grep -q hidepid /proc/self/mountinfo && exec \"$@\"' sh"
        let root = try sh("\(mountHidden) \(Repo.binary) verify --container \(box.id) --root \(box.root)", env: ["SECCOMP_WARDEN_POLICY": "builtin"])
        #expect(root.status == 0, "\(root.stdout) \(root.stderr)")
        #expect(root.stdout.contains("HOLDS"), "\(root.stdout)")
        let nobody = try sh("\(mountHidden) setpriv --reuid=65534 --regid=65534 --clear-groups \(Repo.binary) verify --container \(box.id) --root \(box.root)",
                            env: ["SECCOMP_WARDEN_POLICY": "builtin"])
        #expect(nobody.status == 2, "\(nobody.stdout) \(nobody.stderr)")
        expectUntraced(box)
    }

    @Test("--no-deep reads no filter, so the container is UNVERIFIED (exit 1), never HOLDS")
    func noDeep() throws {
        let dir = try tempDir("failclosed-nodeep")
        defer { cleanup(dir) }
        let box = try strictBox(dir, tag: "nodeep")
        defer { box.stop() }
        let r = try verify(box, ["--no-deep"])
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("UNVERIFIED"), "\(r.stdout)")
        #expect(r.stdout.contains("the filters were not read (--no-deep)"), "\(r.stdout)")
        let j = try verify(box, ["--no-deep", "--json"])
        #expect(target(j)["status"] as? String == "unverified", "\(j.stdout)")
        let c = try verify(box)
        #expect(c.status == 0, "\(c.stdout) \(c.stderr)")
    }

    // MARK: - The poststart hook

    /// Runs `bundle` in the foreground with its poststart hook, killed after `seconds`; returns the output.
    func runWithHook(_ runtime: String, bundle: String, hook: [String: Any], seconds: Int = 20) throws -> Result {
        let path = bundle + "/config.json"
        var cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        cfg["hooks"] = ["poststart": [hook]]
        try JSONSerialization.data(withJSONObject: cfg).write(to: URL(fileURLWithPath: path))
        let id = "post-\(runtime)-\(UInt32.random(in: 0...UInt32.max))"
        let run = runtime == "runc"
            ? "timeout -s KILL \(seconds) runc --root \(bundle)/root run --pid-file \(bundle)/pid \(id)"
            : "timeout -s KILL \(seconds) unshare -m --propagation private sh -c 'umount -l /sys/fs/cgroup 2>/dev/null; mount -t cgroup2 none /sys/fs/cgroup && exec crun \"$@\"' crun --cgroup-manager=disabled --root \(bundle)/root run --pid-file \(bundle)/pid \(id)"
        let r = try shell("cd \(bundle) && \(run) </dev/null 2>&1; echo \"rc=$?\"")
        // Whatever happened, nothing of it is left running.
        if let pid = Int32(readText(bundle + "/pid").trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 {
            Box(runtime: runtime, id: id, bundle: bundle, root: bundle + "/root", pid: pid).stop()
        }
        return r
    }

    @Test("poststart in enforce: without CAP_SYS_ADMIN the filters cannot be read, so the container is killed; control survives",
          arguments: runtimes)
    func poststartUnprivileged(runtime: String) throws {
        let dir = try tempDir("post-noadmin-\(runtime)")
        defer { cleanup(dir) }
        for dropped in [true, false] {
            let b = dir + "/b-\(dropped)"
            // Killed, the container must not get to say "survived": give the hook (a debug build on a loaded
            // machine) ample time for that; the control, which survives anyway, stays short.
            let m = try shell("make_bundle \(Repo.sample("weak-allow"))/config.json \(b) /bin/sh -c 'sleep \(dropped ? 10 : 2); echo survived'")
            #expect(m.status == 0, "\(m.stderr)")
            #expect(try warden(["apply", b]).status == 0)
            let log = b + "/audit.log"
            let warden = "\(Repo.binary) hook poststart --policy builtin"
            let hook: [String: Any] = dropped
                ? ["path": "/usr/sbin/capsh", "args": ["capsh", "--drop=cap_sys_admin", "--", "-c", "exec \(warden)"],
                   "env": ["SECCOMP_WARDEN_AUDIT_LOG=\(log)"]]
                : ["path": Repo.binary, "args": ["seccomp-warden", "hook", "poststart", "--policy", "builtin"],
                   "env": ["SECCOMP_WARDEN_AUDIT_LOG=\(log)"]]
            let r = try runWithHook(runtime, bundle: b, hook: hook)
            let audit = readText(log)
            if dropped {
                #expect(!r.stdout.contains("survived"), "\(r.stdout)")
                #expect(audit.contains("verify needs root privileges it does not have: CAP_SYS_ADMIN"), "\(audit)")
                #expect(audit.contains("\"decision\":\"denied\""), "\(audit)")
            } else {
                #expect(r.stdout.contains("survived"), "\(r.stdout)")
                #expect(audit.contains("\"decision\":\"compliant\""), "\(audit)")
            }
        }
    }

    @Test("poststart (crun, enforce): a leader that exited while a weak thread lives on is judged through the thread and killed, not passed as exited")
    func poststartZombieLeader() throws {
        let dir = try tempDir("post-leader")
        defer { cleanup(dir) }
        let b = try bundle("weak-allow", mode: "leader-exit", in: dir, apply: false)
        let log = b + "/audit.log"
        let began = Date()
        // The hook starts once the leader has exited (it does ~50 ms after the exec; on a loaded machine a
        // fixed half second was not always enough): it reads the state, waits (10 s at most) for the
        // leader to be a zombie, then execs the real hook with the same state on stdin.
        let waitForLeader = """
            s=$(cat); p=$(printf '%s' "$s" | tr -d ' ' | grep -o '"pid":[0-9]*' | cut -d: -f2); i=0
            while [ $i -lt 200 ] && ! grep -q zombie /proc/$p/task/$p/status 2>/dev/null; do sleep 0.05; i=$((i + 1)); done
            exec \(Repo.binary) hook poststart --policy builtin <<EOF
            $s
            EOF
            """
        let r = try runWithHook("crun", bundle: b, hook: ["path": "/bin/sh", "args": ["sh", "-c", waitForLeader],
                                                          "env": ["SECCOMP_WARDEN_AUDIT_LOG=\(log)"]])
        // Killed by the hook (crun reports 137 at once), not by the 20 s timeout with the thread left running.
        #expect(Date().timeIntervalSince(began) < 15, "\(r.stdout)")
        let audit = readText(log)
        #expect(audit.contains("\"decision\":\"denied\""), "\(audit)")
        #expect(audit.contains("keyctl"), "\(audit)")
        // What was judged is the live thread (tid ≠ pid), read through after the leader exited.
        let readThrough = try Regex(#"pid (\d+) tid (\d+) \(evade\)"#)
        let pairs = audit.matches(of: readThrough).compactMap { m -> (String, String)? in
            guard let p = m.output[1].substring, let t = m.output[2].substring else { return nil }
            return (String(p), String(t))
        }
        #expect(!pairs.isEmpty && pairs.allSatisfy { $0.0 != $0.1 }, "\(audit)")
        #expect(!audit.contains("exited before poststart"), "\(audit)")
    }

    // MARK: - The emulator and the instruction pointer (no containers)

    @Test("a filter that compares the instruction pointer is judged for every instruction pointer, not at 0 alone")
    func instructionPointerOffline() throws {
        let policy = try Policy.builtin()
        let judge = try ChainJudge(policy: policy, config: nil)
        let weak = try Compiler.compile(try #require(try WardenSpec.Bundle.loadConfig(Repo.sample("weak-allow")).seccomp()))
        let tight = try Compiler.compile(try Tighten.tighten(nil, policy: policy).profile)
        // Denies (EPERM) only when both halves of the instruction pointer are 0 (evade.c's ip-zero).
        let ipZero = BPFProgram([
            .init(code: 0x20, jt: 0, jf: 0, k: 8), .init(code: 0x15, jt: 0, jf: 3, k: 0),
            .init(code: 0x20, jt: 0, jf: 0, k: 12), .init(code: 0x15, jt: 0, jf: 1, k: 0),
            .init(code: 0x06, jt: 0, jf: 0, k: 0x0005_0001), .init(code: 0x06, jt: 0, jf: 0, k: 0x7fff_0000),
        ])
        let found = judge.judge([ipZero, weak])
        let keyctl = try #require(found.findings.first { $0.name == "keyctl" })
        #expect(keyctl.instructionPointer != 0)
        #expect(judge.judge([ipZero, tight]).findings.isEmpty)
        // Allows only from one code address (high and low half compared): that address is tried.
        let address: UInt64 = 0x7f12_3456_789a
        let onlyThere = BPFProgram([
            .init(code: 0x20, jt: 0, jf: 0, k: 12), .init(code: 0x15, jt: 0, jf: 3, k: UInt32(address >> 32)),
            .init(code: 0x20, jt: 0, jf: 0, k: 8), .init(code: 0x15, jt: 0, jf: 1, k: UInt32(address & 0xffff_ffff)),
            .init(code: 0x06, jt: 0, jf: 0, k: 0x7fff_0000), .init(code: 0x06, jt: 0, jf: 0, k: 0x0005_0001),
        ])
        let there = judge.judge([onlyThere])
        #expect(there.findings.first { $0.name == "keyctl" }?.instructionPointer == address)
        // An answer computed from the input: no claim either way.
        let computed = BPFProgram([.init(code: 0x20, jt: 0, jf: 0, k: 4), .init(code: 0x04, jt: 0, jf: 0, k: 0xbffe_ffc2), .init(code: 0x16, jt: 0, jf: 0, k: 0)])
        let undecided = judge.judge([computed])
        #expect(undecided.findings.isEmpty)
        #expect(!undecided.undecided.isEmpty)
    }

    /// Every line is a comment or `name{labels} value`, and every metric has HELP and TYPE.
    func expectPrometheusText(_ text: String) {
        var typed = Set<String>()
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") { typed.insert(String(line.split(separator: " ")[2])); continue }
            if line.hasPrefix("# HELP ") { continue }
            let name = String(line.prefix { $0 != "{" && $0 != " " })
            #expect(typed.contains(name), "\(line)")
            #expect(Double(line.split(separator: " ").last ?? "") != nil, "\(line)")
        }
    }
}
