#if os(Linux)
import WardenCore
import WardenHost
import CShim
import Glibc
import WardenJSON

/// Whether a seccomp-warden decision covers a running container (`verify --all`'s backstop): an audit
/// record for its id from podman's precreate, the runtime wrapper or a gate.
public struct Accounting: Sendable {
    public enum Status: String, Sendable {
        /// A decision that let it start (injected, tightened, compliant, exempt, audit-only) names it.
        case accounted
        /// No decision names it: it was started around seccomp-warden. A finding.
        case unaccounted
        /// Its last decision was `denied`: it should not be running at all. A finding.
        case denied
        /// The audit log cannot be trusted or read, or the part read begins after the container started.
        case unverified
    }

    public var status: Status
    public var evidence: String
    /// The decision that covers it (or denied it), when one does.
    public var stage: String? = nil
    public var decision: String? = nil
    /// What `--kill-unaccounted` did, when it was asked to.
    public var kill: String? = nil
    public var killed = false

    public init(_ status: Status, _ evidence: String, stage: String? = nil, decision: String? = nil) {
        self.status = status
        self.evidence = evidence
        self.stage = stage
        self.decision = decision
    }

    /// Unaccounted or denied: running without a decision that lets it.
    public var isFinding: Bool { status == .unaccounted || status == .denied }

    /// The line it adds to the container's checks.
    public var check: VerifyCheck {
        VerifyCheck("accounted", status == .accounted ? .ok : status == .unverified ? .unverified : .finding,
                    evidence + (kill.map { "; " + $0 } ?? ""))
    }

    public var json: JSON {
        .object([
            ("status", .string(status.rawValue)),
            ("stage", stage.map { .string($0) } ?? .null),
            ("decision", decision.map { .string($0) } ?? .null),
            ("evidence", .string(evidence)),
            ("killed", .bool(killed)),
            ("kill", kill.map { .string($0) } ?? .null),
        ])
    }
}

/// `--kill-unaccounted`: SIGKILL for every process of a container, sent through pidfds so that a pid
/// reused since it was listed is never signalled.
public enum ContainerKill {
    /// Kills the container whose init `record` names, if that init (same start time) still runs.
    /// Returns what was done, in words, and whether the init is gone afterwards.
    public static func kill(_ record: ContainerRecord) -> (gone: Bool, said: String) {
        guard let before = ProcFS.stat(record.pid), record.startTime.map({ $0 == before.startTime }) ?? true else {
            return (true, "not killed: its init (pid \(record.pid)) is no longer running")
        }
        // The members first: once the init dies its PID namespace cannot be listed any more.
        let members = ContainerProcesses.find(init: record.pid, ownCgroup: record.ownCgroup)
        var fds = [(pid: Int32, fd: Int32)]()
        defer { for f in fds { close(f.fd) } }
        for pid in members.pids {
            guard let start = ProcFS.stat(pid)?.startTime else { continue }
            let fd = sw_pidfd_open(pid)
            if fd < 0 { continue }
            // The descriptor names whichever process had the pid when it was opened: the same start
            // time read after opening proves it is the one listed.
            if ProcFS.stat(pid)?.startTime == start && (pid != record.pid || start == before.startTime) {
                fds.append((pid, fd))
            } else {
                close(fd)
            }
        }
        guard fds.first?.pid == record.pid else {
            return (!ContainerProcesses.isLive(record.pid), "not killed: cannot open a pidfd for its init (pid \(record.pid))")
        }
        var sent = [Int32]()
        var failed = [String]()
        for f in fds {
            let rc = sw_pidfd_send_signal(f.fd, SIGKILL)
            if rc == 0 || rc == -ESRCH { sent.append(f.pid) } else { failed.append("pid \(f.pid): \(errnoText(-rc))") }
        }
        // SIGKILL is not deferred, but the kernel tears the tasks down asynchronously: wait a little.
        var gone = false
        for _ in 0..<60 {
            if !ContainerProcesses.isLive(record.pid) { gone = true; break }
            usleep(50_000)
        }
        var said = "KILLED: SIGKILL sent to " + (sent.count == 1 ? "pid " : "pids ") + sent.map(String.init).joined(separator: ", ")
        if !failed.isEmpty { said += "; failed for " + failed.joined(separator: ", ") }
        if !gone { said += "; its init (pid \(record.pid)) is still alive 3 s later" }
        return (gone, said)
    }
}
#endif
