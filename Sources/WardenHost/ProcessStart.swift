#if os(Linux)
import WardenCore
import CShim
import Glibc
import WardenJSON

/// Waits for a container's process to become its own program before poststart judges it.
///
/// crun 1.8.1 runs poststart as soon as its init has said it is ready, while that init may still be
/// crun's own code, before it loads the filter and execs (`Name: crun`, `Seccomp: 0`, `/proc/PID/exe`
/// the runtime's file). runc 1.1.5 runs poststart inside `create` (state `created`): its init has its
/// filter already and will not exec until the hook returns, so it is never waited for.
public enum ProcessStart {
    public enum Outcome: Equatable {
        /// It runs a program other than the runtime (or the runtime's file could not be read: nothing to
        /// wait for); `waited`: what it was at the first look and how long it took to exec, nil if it had already.
        case execd(waited: String?)
        /// It exited (or turned zombie) before it exec'd.
        case exited
        /// Still the runtime's file when the time was up; what /proc says of it.
        case stillRuntime(String)
    }

    /// Default bound (well inside the 10 s `timeout` `register` and the hook files give the hook), and
    /// the most `$SECCOMP_WARDEN_POSTSTART_WAIT_MS` may ask for.
    public static let defaultMillis = 3000
    public static let maxMillis = 60000

    /// The bound from `$SECCOMP_WARDEN_POSTSTART_WAIT_MS` (whole milliseconds, 0 to 60000), else the default.
    public static func budgetMillis() throws(WardenError) -> Int {
        guard let env = getenv("SECCOMP_WARDEN_POSTSTART_WAIT_MS") else { return defaultMillis }
        let text = String(cString: env)
        guard let n = Int(text), (0...maxMillis).contains(n) else {
            throw .input("SECCOMP_WARDEN_POSTSTART_WAIT_MS: \"\(text)\" is not a whole number of milliseconds from 0 to \(maxMillis)")
        }
        return n
    }

    /// The file behind a /proc/PID/exe link (device and inode; the link's text may be "/" after pivot_root).
    static func identity(_ path: String) -> (UInt64, UInt64)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (UInt64(st.st_dev), UInt64(st.st_ino))
    }

    /// Waits, at most `millis`, until `pid` (held by `pidfd`) no longer runs the file `runtime` runs
    /// (the hook's parent: the runtime that started the container and runs its hooks). Sleeps in
    /// poll(2) on the pidfd, 5 ms at a time: an exit ends the wait at once, and nothing spins.
    public static func waitForExec(pid: Int32, pidfd: Int32, runtime: Int32, millis: Int) -> Outcome {
        guard let runtimeFile = identity("/proc/\(runtime)/exe") else { return .execd(waited: nil) }
        let start = monotonicMillis(), deadline = start + millis
        var pending: String? = nil
        func waited() -> String? { pending.map { "\($0) when poststart began; it exec'd its program \(monotonicMillis() - start) ms later" } }
        while true {
            if !ContainerProcesses.isLive(pid) { return .exited }
            guard let file = identity("/proc/\(pid)/exe") else {
                // No exe link on a live task: a kernel thread (never a container's), or gone meanwhile.
                return ContainerProcesses.isLive(pid) ? .execd(waited: waited()) : .exited
            }
            if file != runtimeFile { return .execd(waited: waited()) }
            if pending == nil { pending = "pid \(pid) still ran the runtime's own file (\(describe(pid)))" }
            let left = deadline - monotonicMillis()
            if left <= 0 {
                return .stillRuntime("pid \(pid) still runs the runtime's own file (\(describe(pid))) after \(millis) ms: it never exec'd the container's program")
            }
            var p = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, Int32(min(left, 5)))
        }
    }

    /// A pidfd for `pid` (it names that process, never a later one given the same pid), or nil when
    /// there is no such process.
    public static func open(_ pid: Int32) -> Int32? {
        let fd = sw_pidfd_open(pid)
        return fd >= 0 ? fd : nil
    }

    /// SIGKILL through the pidfd: true when sent, or when the process is already gone.
    @discardableResult
    public static func kill(_ pidfd: Int32) -> Bool {
        let rc = sw_pidfd_send_signal(pidfd, SIGKILL)
        return rc == 0 || rc == -ESRCH
    }

    /// "Name: crun, Seccomp: 0", from /proc/PID/status.
    static func describe(_ pid: Int32) -> String {
        let s = TaskStatus.read(pid: pid, tid: pid)
        return "Name: \(s?.name ?? "?"), Seccomp: \(s?.seccomp.map { String($0.rawValue) } ?? "?")"
    }

    static func monotonicMillis() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int(ts.tv_sec) * 1000 + Int(ts.tv_nsec) / 1_000_000
    }
}
#endif
