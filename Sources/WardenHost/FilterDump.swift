#if os(Linux)
import WardenCore
import CShim
import Glibc
import SystemPackage
import WardenSeccomp
import WardenSpec

/// Why a task's loaded filters could not be read.
public enum DumpError: Error, Equatable, Sendable, CustomStringConvertible {
    /// ptrace refused (EPERM/EACCES) a task that is neither traced nor exiting.
    case notPermitted(operation: String, errno: Int32)
    /// Another process already traces the task: a task has one tracer, so it cannot be seized.
    case traced(by: Int32)
    /// The task exited (or is exiting: a zombie cannot be seized, and cannot make system calls).
    case gone
    /// The task is one of our own threads: a process cannot ptrace itself.
    case ownProcess
    /// The task did not stop within the deadline (uninterruptible sleep, frozen, vfork parent).
    case noStop
    /// Not tried: the container's time budget for stopping tasks ran out.
    case outOfTime
    case failed(operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .notPermitted(let op, let e):
            "ptrace is not permitted (\(op): \(errnoName(e)))"
        case .traced(let by): "already traced by pid \(by): a task has one tracer"
        case .gone: "the task exited"
        case .ownProcess: "a thread of the verifier's own process cannot be ptraced"
        case .noStop: "the task did not stop for PTRACE_INTERRUPT in time"
        case .outOfTime: "not tried: the time for stopping this container's tasks ran out"
        case .failed(let op, let e): "\(op) failed: \(errnoName(e))"
        }
    }
}

/// "EPERM (Operation not permitted)": the name from the one errno table (podman's, WardenSpec), then its text.
func errnoName(_ e: Int32) -> String {
    let name = errnoNames.filter { $0.value == UInt32(bitPattern: e) }.map(\.key).min() ?? "errno \(e)"
    return name + " (" + Errno(rawValue: e).description + ")"
}

/// Holds tasks in a ptrace stop so their filters can be read while none of them runs: a stopped task
/// creates no thread or process and loads no filter. Every task seized is detached by `releaseAll()`
/// (also when the owner forgets: `deinit`), with any signal it stopped for handed back; a task that
/// never stopped stays seized (not stopped) until it stops or this process exits, when the kernel
/// detaches it.
public final class TaskStopper {
    static let PTRACE_SEIZE: Int32 = 0x4206
    static let PTRACE_INTERRUPT: Int32 = 0x4207
    static let PTRACE_DETACH: Int32 = 17
    static let WALL: Int32 = 0x4000_0000

    /// Seized and stopped: the signal to hand back on detach (0 for our own interrupt's stop).
    private var held = PidMap<Int32>()
    /// Seized and interrupted, not seen stopped yet.
    /// Seized, not yet seen stopped, in the order seized. An array: a Set<Int32>'s first insert
    /// instantiates its metadata at run time, 0.25 M instructions of a 4.6 M `verify` (issue 14).
    private var pending = [Int32]()
    private let ownPid = getpid()

    public init() {}
    deinit { releaseAll() }

    public func isHeld(_ tid: Int32) -> Bool { held[tid] != nil }
    public var heldCount: Int { held.count }

    /// Seizes and interrupts `tid` (a task of process `pid`); `waitForStops` then waits for the stop.
    /// `tracerWait` (nanoseconds): how long to try again while another tracer holds the task. Another
    /// verifier (the agent's round, a poststart hook, `verify --all`) holds a task for milliseconds;
    /// refused at once, a poststart hook would kill a container that holds, whenever they met. A tracer
    /// that stays (one inside the container) is still reported, only later.
    public func seize(pid: Int32, tid: Int32, tracerWait: UInt64) -> DumpError? {
        let until = Self.now() + tracerWait
        var e = seize(pid: pid, tid: tid)
        while case .traced? = e, Self.now() < until {
            usleep(2000)
            e = seize(pid: pid, tid: tid)
        }
        return e
    }

    public func seize(pid: Int32, tid: Int32) -> DumpError? {
        if held[tid] != nil || pending.contains(tid) { return nil }
        if pid == ownPid || tid == ownPid || ProcFS.read("/proc/self/task/\(tid)/stat") != nil {
            return .ownProcess
        }
        let seize = sw_ptrace(Self.PTRACE_SEIZE, tid, nil, nil)
        if seize < 0 { return Self.whyRefused(pid: pid, tid: tid, op: "PTRACE_SEIZE", errno: Int32(-seize)) }
        let interrupt = sw_ptrace(Self.PTRACE_INTERRUPT, tid, nil, nil)
        if interrupt < 0 {
            _ = sw_ptrace(Self.PTRACE_DETACH, tid, nil, nil)
            return Self.whyRefused(pid: pid, tid: tid, op: "PTRACE_INTERRUPT", errno: Int32(-interrupt))
        }
        pending.append(tid)
        return nil
    }

    /// Waits until every pending task stopped, or `deadline` (CLOCK_MONOTONIC nanoseconds) passed.
    /// Returns the tasks that did not stop, with why (exited, or still running).
    public func waitForStops(deadline: UInt64) -> PidMap<DumpError> {
        var failed = PidMap<DumpError>()
        var sleepMicros: UInt32 = 10
        // The kernel tells a tracer of each stop with SIGCHLD. Blocked here, it stays pending and ends the
        // wait at once (sigtimedwait), where a sleep ran on (the backoff doubled the time to see a stop:
        // issue 14). The wait's bound is still the backoff, so a SIGCHLD another thread of the process
        // takes costs no more than the poll did. A caller that blocks SIGCHLD itself keeps it: then sleep.
        var chld = sigset_t(), old = sigset_t()
        sigemptyset(&chld)
        sigaddset(&chld, SIGCHLD)
        pthread_sigmask(SIG_BLOCK, &chld, &old)
        let ours = sigismember(&old, SIGCHLD) == 0
        defer {
            if ours {
                var zero = timespec()
                while sigtimedwait(&chld, nil, &zero) > 0 {}  // one left pending would be ours, not the caller's
            }
            pthread_sigmask(SIG_SETMASK, &old, nil)
        }
        while !pending.isEmpty {
            var still = [Int32]()
            for tid in pending {
                var status: Int32 = 0
                let w = waitpid(tid, &status, WNOHANG | Self.WALL)
                if w == 0 { still.append(tid); continue }
                if w < 0 {
                    failed[tid] = errno == ECHILD ? .gone : .failed(operation: "waitpid", errno: errno)
                } else if (status & 0xff) == 0x7f {
                    // A signal-delivery stop (not our interrupt's event stop) hands its signal back on detach.
                    let sig = (status >> 8) & 0xff, event = (status >> 16) & 0xff
                    held[tid] = (event == 0 && sig != SIGTRAP) ? sig : 0
                } else {
                    failed[tid] = .gone  // exited or killed: the kernel released it from us
                }
            }
            pending = still
            if pending.isEmpty { break }
            if Self.now() >= deadline {
                for tid in pending { failed[tid] = .noStop }
                // PTRACE_DETACH needs a stopped tracee: try once, else the task stays seized (running).
                for tid in pending where sw_ptrace(Self.PTRACE_DETACH, tid, nil, nil) == 0 {}
                pending.removeAll()
                break
            }
            if ours {
                let now = Self.now()
                let left = deadline > now ? deadline - now : 0
                let ns = min(UInt64(sleepMicros) * 1000, left)
                var wait = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
                _ = sigtimedwait(&chld, nil, &wait)
            } else {
                usleep(sleepMicros)
            }
            sleepMicros = min(sleepMicros * 2, 2000)
        }
        return failed
    }

    /// The filters of a held task, oldest first (index 0 is the first filter installed).
    public func filters(of tid: Int32) -> Swift.Result<[BPFProgram], DumpError> {
        guard held[tid] != nil else { return .failure(.failed(operation: "PTRACE_SECCOMP_GET_FILTER", errno: ESRCH)) }
        var programs = [BPFProgram]()
        var index: UInt = 0
        while true {
            let count = sw_seccomp_get_filter(tid, index, nil)
            if count == -Int(ENOENT) { break }
            if count < 0 {
                if count == -Int(ESRCH) && !ProcFS.exists(tid) { return .failure(.gone) }
                return .failure(Self.classify("PTRACE_SECCOMP_GET_FILTER", Int32(-count)))
            }
            var bytes = [UInt8](repeating: 0, count: count * 8)
            let got = bytes.withUnsafeMutableBytes { sw_seccomp_get_filter(tid, index, $0.baseAddress) }
            if got < 0 { return .failure(Self.classify("PTRACE_SECCOMP_GET_FILTER", Int32(-got))) }
            programs.append(BPFProgram(bytes: Array(bytes.prefix(got * 8))))
            index += 1
        }
        return .success(programs)
    }

    /// Detaches every held task (handing back the signal it stopped for) and reaps any that died held.
    public func releaseAll() {
        for (tid, sig) in zip(held.keys, held.values) {
            if sw_ptrace(Self.PTRACE_DETACH, tid, nil, UnsafeMutableRawPointer(bitPattern: Int(sig))) < 0 {
                var status: Int32 = 0
                _ = waitpid(tid, &status, WNOHANG | Self.WALL)  // killed while held: reap our tracee's zombie
            }
        }
        held.removeAll()
        // Seized earlier but never seen stopped: detach any that stopped since.
        for tid in pending {
            var status: Int32 = 0
            if waitpid(tid, &status, WNOHANG | Self.WALL) == tid && (status & 0xff) == 0x7f {
                _ = sw_ptrace(Self.PTRACE_DETACH, tid, nil, nil)
            }
        }
        pending.removeAll()
    }

    /// CLOCK_MONOTONIC in nanoseconds.
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// EPERM from PTRACE_SEIZE means one of: the task is exiting (a zombie), it has a tracer already,
    /// or we may not trace it. /proc tells which.
    static func whyRefused(pid: Int32, tid: Int32, op: String, errno e: Int32) -> DumpError {
        guard let status = TaskStatus.read(pid: pid, tid: tid) else { return .gone }
        if status.isExited { return .gone }
        if e == ESRCH { return ProcFS.exists(tid) ? .failed(operation: op, errno: e) : .gone }
        if status.tracerPid != 0 && status.tracerPid != getpid() { return .traced(by: status.tracerPid) }
        return classify(op, e)
    }

    static func classify(_ op: String, _ e: Int32) -> DumpError {
        switch e {
        case EPERM, EACCES: .notPermitted(operation: op, errno: e)
        default: .failed(operation: op, errno: e)
        }
    }
}

/// Reads one task's filters (for `explain --pid`): seized, stopped, read, detached.
public enum FilterDump {
    public static func filters(of tid: Int32, timeoutMillis: Int = 3000) -> Swift.Result<[BPFProgram], DumpError> {
        guard let pid = TaskStatus.threadGroup(of: tid) else { return .failure(.gone) }
        let stopper = TaskStopper()
        defer { stopper.releaseAll() }
        if let e = stopper.seize(pid: pid, tid: tid) { return .failure(e) }
        let deadline = TaskStopper.now() + UInt64(timeoutMillis) * 1_000_000
        if let e = stopper.waitForStops(deadline: deadline)[tid] { return .failure(e) }
        return stopper.filters(of: tid)
    }
}
#endif
