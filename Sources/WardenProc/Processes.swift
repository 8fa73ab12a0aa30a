#if os(Linux)
import Glibc

/// The processes that belong to the same container as an init pid.
public enum ContainerProcesses {
    public enum Scope: String, Sendable {
        /// Every process in the init's own PID namespace.
        case pidNamespace = "pid namespace"
        /// The init shares our PID namespace: every process in its cgroup.
        case cgroup
        /// Neither is the container's own: the init and its descendants.
        case descendants
    }

    /// The pids of the container whose init is `pid`, `pid` first, and how they were found.
    /// Processes in PID namespaces nested inside the container's are not included.
    /// `snapshot`: every host pid's PID namespace link, read once when many containers are verified.
    public static func find(init pid: Int32, snapshot: [(pid: Int32, ns: String?)]? = nil) -> (pids: [Int32], scope: Scope) {
        let all = snapshot?.map(\.pid) ?? ProcFS.pids()
        if let ns = ProcFS.readLink("/proc/\(pid)/ns/pid"), ns != ProcFS.readLink("/proc/self/ns/pid") {
            let members = snapshot.map { $0.filter { $0.pid == pid || $0.ns == ns }.map(\.pid) }
                ?? all.filter { $0 == pid || ProcFS.readLink("/proc/\($0)/ns/pid") == ns }
            return (ordered(members, first: pid), .pidNamespace)
        }
        if let cg = ProcFS.readText("/proc/\(pid)/cgroup"), cg != ProcFS.readText("/proc/self/cgroup"),
           !isRootCgroup(cg) {
            let members = all.filter { $0 == pid || ProcFS.readText("/proc/\($0)/cgroup") == cg }
            return (ordered(members, first: pid), .cgroup)
        }
        var children = [Int32: [Int32]]()
        for p in all {
            if let s = ProcFS.stat(p) { children[s.ppid, default: []].append(p) }
        }
        var out = [pid], queue = [pid]
        while let p = queue.popLast() {
            for c in children[p] ?? [] where !out.contains(c) { out.append(c); queue.append(c) }
        }
        return (ordered(out, first: pid), .descendants)
    }

    /// Every pid with its PID namespace link.
    public static func snapshot() -> [(pid: Int32, ns: String?)] {
        ProcFS.pids().map { ($0, ProcFS.readLink("/proc/\($0)/ns/pid")) }
    }

    static func ordered(_ pids: [Int32], first: Int32) -> [Int32] {
        [first] + pids.filter { $0 != first }.sorted()
    }

    /// "0::/" alone (or every v1 line at "/") is the root cgroup: the whole host, not a container.
    static func isRootCgroup(_ text: String) -> Bool {
        text.split(separator: "\n").allSatisfy { $0.hasSuffix(":/") }
    }
}
#endif
