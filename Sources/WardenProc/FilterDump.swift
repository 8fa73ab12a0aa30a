#if os(Linux)
import CShim
import Glibc
import WardenSeccomp

/// Why the loaded filters could not be read.
public enum DumpError: Error, Equatable, Sendable, CustomStringConvertible {
    /// ptrace refused (EPERM/EACCES): no CAP_SYS_ADMIN/CAP_SYS_PTRACE, Yama, or we run under seccomp ourselves.
    case notPermitted(operation: String, errno: Int32)
    /// The process (or thread) is gone.
    case gone
    /// The task is one of our own threads: a process cannot ptrace itself.
    case ownProcess
    /// The task did not stop within the deadline (uninterruptible sleep, or already traced by another tracer).
    case noStop
    case failed(operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .notPermitted(let op, let e):
            "ptrace is not permitted (\(op): \(errnoName(e))): needs CAP_SYS_ADMIN and no seccomp filter on the verifier itself"
        case .gone: "the process exited"
        case .ownProcess: "cannot ptrace a thread of the verifier's own process"
        case .noStop: "the process did not stop for PTRACE_INTERRUPT in time (left running, not traced)"
        case .failed(let op, let e): "\(op) failed: \(errnoName(e))"
        }
    }

    public var isNotPermitted: Bool {
        if case .notPermitted = self { return true }
        return false
    }
}

func errnoName(_ e: Int32) -> String {
    let name: String
    switch e {
    case EPERM: name = "EPERM"
    case EACCES: name = "EACCES"
    case ESRCH: name = "ESRCH"
    case EINVAL: name = "EINVAL"
    case ENOENT: name = "ENOENT"
    case EBUSY: name = "EBUSY"
    case EIO: name = "EIO"
    default: name = "errno \(e)"
    }
    return name + " (" + String(cString: strerror(e)) + ")"
}

/// Reads the seccomp filters attached to a task with `PTRACE_SECCOMP_GET_FILTER`.
public enum FilterDump {
    static let PTRACE_SEIZE: Int32 = 0x4206
    static let PTRACE_INTERRUPT: Int32 = 0x4207
    static let PTRACE_DETACH: Int32 = 17
    static let WALL: Int32 = 0x4000_0000
    static let PTRACE_EVENT_STOP: Int32 = 128

    /// The filters of `tid`, oldest first (index 0 is the first filter installed), as raw BPF programs.
    /// The task is seized, interrupted, read and detached; it is never left stopped or traced.
    public static func filters(of tid: Int32, timeoutMillis: Int = 3000) -> Swift.Result<[BPFProgram], DumpError> {
        if ProcFS.exists(tid) == false { return .failure(.gone) }
        if tid == getpid() || ProcFS.read("/proc/self/task/\(tid)/stat") != nil {
            return .failure(.ownProcess)
        }
        let seize = sw_ptrace(PTRACE_SEIZE, tid, nil, nil)
        if seize < 0 {
            let e = Int32(-seize)
            return .failure(e == ESRCH && !ProcFS.exists(tid) ? .gone : classify("PTRACE_SEIZE", e))
        }
        // From here on, every path detaches.
        let interrupt = sw_ptrace(PTRACE_INTERRUPT, tid, nil, nil)
        if interrupt < 0 {
            _ = sw_ptrace(PTRACE_DETACH, tid, nil, nil)
            return .failure(classify("PTRACE_INTERRUPT", Int32(-interrupt)))
        }
        // Wait for the stop, never forever.
        var status: Int32 = 0
        var waited: Int32 = 0
        var sleepMicros: UInt32 = 10
        var elapsed = 0
        while true {
            waited = waitpid(tid, &status, WNOHANG | WALL)
            if waited == tid { break }
            if waited < 0 {
                if errno == EINTR { continue }
                let e = errno
                _ = sw_ptrace(PTRACE_DETACH, tid, nil, nil)
                return .failure(e == ECHILD ? .gone : .failed(operation: "waitpid", errno: e))
            }
            if elapsed >= timeoutMillis * 1000 {
                // Not stopped: PTRACE_DETACH needs a stopped tracee. Our exit detaches it; until then it runs.
                _ = sw_ptrace(PTRACE_DETACH, tid, nil, nil)
                return .failure(.noStop)
            }
            usleep(sleepMicros)
            elapsed += Int(sleepMicros)
            sleepMicros = min(sleepMicros * 2, 2000)
        }
        if !isStopped(status) { return .failure(.gone) }  // exited or killed: nothing to detach
        // A signal-delivery stop (not our interrupt's event stop) must hand its signal back on detach.
        let sig = stopSignal(status)
        let event = (status >> 16) & 0xff
        let resend: Int = (event == 0 && sig != SIGTRAP) ? Int(sig) : 0
        defer { _ = sw_ptrace(PTRACE_DETACH, tid, nil, UnsafeMutableRawPointer(bitPattern: resend)) }

        var programs = [BPFProgram]()
        var index: UInt = 0
        while true {
            let count = sw_seccomp_get_filter(tid, index, nil)
            if count == -Int(ENOENT) { break }
            if count < 0 {
                // EINVAL: the task is not in filter mode; EMEDIUMTYPE: a filter of another kind.
                if programs.isEmpty && count == -Int(EINVAL) { break }
                return .failure(classify("PTRACE_SECCOMP_GET_FILTER", Int32(-count)))
            }
            var bytes = [UInt8](repeating: 0, count: count * 8)
            let got = bytes.withUnsafeMutableBytes { sw_seccomp_get_filter(tid, index, $0.baseAddress) }
            if got < 0 { return .failure(classify("PTRACE_SECCOMP_GET_FILTER", Int32(-got))) }
            programs.append(BPFProgram(bytes: Array(bytes.prefix(got * 8))))
            index += 1
        }
        return .success(programs)
    }

    static func classify(_ op: String, _ e: Int32) -> DumpError {
        switch e {
        case EPERM, EACCES: .notPermitted(operation: op, errno: e)
        default: .failed(operation: op, errno: e)
        }
    }

    static func isStopped(_ status: Int32) -> Bool { (status & 0xff) == 0x7f }
    static func stopSignal(_ status: Int32) -> Int32 { (status >> 8) & 0xff }
}
#endif
