#if os(Linux)
import WardenCore
import CShim
import Glibc

/// The processes that belong to the same container as an init pid.
public enum ContainerProcesses {
    public enum Scope: String, Sendable {
        /// Every process in the init's own PID namespace or one nested inside it.
        case pidNamespace = "pid namespace"
        /// The init shares our PID namespace: every process in its cgroup.
        case cgroup
        /// Neither is the container's own: the init and its descendants.
        case descendants
    }

    /// A container's processes as one scan of /proc found them.
    public struct Members: Sendable, Equatable {
        /// `init` first, then the others in ascending order.
        public var pids: [Int32]
        public var scope: Scope
        /// Of `pids`, those in a PID namespace nested inside the container's.
        public var nested: Set<Int32> = []
        /// Of `pids`, those in the container's own cgroup but outside its PID namespace (put there from
        /// the host): judged like the others.
        public var outside: Set<Int32> = []
        /// Live processes whose PID namespace or cgroup could not be read: we cannot tell whether they belong.
        public var unresolved: [Int32] = []

        public init(pids: [Int32], scope: Scope, nested: Set<Int32> = [], outside: Set<Int32> = [], unresolved: [Int32] = []) {
            self.pids = pids
            self.scope = scope
            self.nested = nested
            self.outside = outside
            self.unresolved = unresolved
        }
    }

    /// The processes of the container whose init is `pid`, read from /proc now.
    /// `ownCgroup`: the runtime gave the container a cgroup of its own (runc; crun unless its cgroup
    /// manager is disabled), so any process in that cgroup is the container's too.
    public static func find(init pid: Int32, ownCgroup: Bool = false) -> Members {
        // The scan below reads a link (and, for a container with a cgroup of its own, the cgroup
        // file) of every process on the host: it goes through one descriptor of /proc and compares
        // bytes, with no path or String built per process (issue 14).
        let all = ProcFS.pids()
        let ours = ProcFS.readLink("/proc/self/ns/pid")
        if let ns = ProcFS.readLink("/proc/\(pid)/ns/pid"), ns != ours {
            // /proc that cannot be opened again: every process unreadable, so unresolved unless gone.
            let proc = ProcDir()
            defer { proc?.close() }
            var tree = NamespaceTree(root: pid, link: ns)
            let nsBytes = Array(ns.utf8), oursBytes = ours.map { Array($0.utf8) }
            var members = [Int32](), nested = Set<Int32>(), unresolved = [Int32]()
            var rest = [Int32]()
            var buf = [UInt8](repeating: 0, count: 4096)
            for p in all {
                if p == pid { continue }
                guard let n = proc?.readLink(p, "ns/pid", into: &buf) else {
                    // The link may be closed to us (an LSM): a task with one NSpid entry is in our own
                    // PID namespace, so not in the container's (a child of ours).
                    if TaskStatus.read(pid: p, tid: p)?.pidNamespaceDepth == 1 { rest.append(p) }
                    else if isLive(p) { unresolved.append(p) }
                    continue
                }
                if ProcDir.equal(buf, n, nsBytes) { members.append(p); continue }
                let isOurs = oursBytes.map { ProcDir.equal(buf, n, $0) } ?? false
                if isOurs { rest.append(p); continue }
                let link = String(decoding: buf[0..<n], as: UTF8.self)
                if let inside = tree.contains(link: link, via: p) {
                    if inside { members.append(p); nested.insert(p) } else { rest.append(p) }
                } else if isLive(p) {
                    unresolved.append(p)
                } else {
                    rest.append(p)
                }
            }
            var out = Members(pids: ordered(members, first: pid), scope: .pidNamespace, nested: nested, unresolved: unresolved)
            if ownCgroup, let lines = containerCgroupLines(of: pid) {
                for p in rest {
                    guard let n = proc?.read(p, "cgroup", into: &buf) else {
                        if isLive(p) { out.unresolved.append(p) }
                        continue
                    }
                    if ProcDir.anyLine(of: buf, n, in: lines) { out.outside.insert(p) }
                }
                out.pids = ordered(out.pids + out.outside, first: pid)
            }
            return out
        }
        // The init's own PID namespace link unreadable (an LSM) while NSpid says it is not ours: its
        // namespace cannot be listed, so say so rather than fall back quietly to a narrower scope.
        var unresolvedInit = [Int32]()
        if ProcFS.readLink("/proc/\(pid)/ns/pid") == nil, (TaskStatus.read(pid: pid, tid: pid)?.pidNamespaceDepth ?? 2) != 1 {
            unresolvedInit = [pid]
        }
        if let cg = ProcFS.readText("/proc/\(pid)/cgroup"), cg != ProcFS.readText("/proc/self/cgroup"),
           !isRootCgroup(cg) {
            let members = all.filter { $0 == pid || ProcFS.readText("/proc/\($0)/cgroup") == cg }
            return Members(pids: ordered(members, first: pid), scope: .cgroup, unresolved: unresolvedInit)
        }
        var children = [Int32: [Int32]]()
        for p in all {
            if let s = ProcFS.stat(p) { children[s.ppid, default: []].append(p) }
        }
        var out = [pid], queue = [pid]
        while let p = queue.popLast() {
            for c in children[p] ?? [] where !out.contains(c) { out.append(c); queue.append(c) }
        }
        return Members(pids: ordered(out, first: pid), scope: .descendants, unresolved: unresolvedInit)
    }

    /// The lines of the init's /proc/PID/cgroup that are the container's own: not at a hierarchy's
    /// root and not shared with the verifier itself. nil when there are none. Bytes, split at each
    /// newline byte and compared byte for byte (a cgroup's name need not be UTF-8).
    static func containerCgroupLines(of pid: Int32) -> [[UInt8]]? {
        guard let text = ProcFS.read("/proc/\(pid)/cgroup") else { return nil }
        // Arrays, not Sets: a handful of lines (a Set<[UInt8]>'s first use cost 0.17 M instructions).
        let ours = (ProcFS.read("/proc/self/cgroup") ?? []).split(separator: 10).map { Array($0) }
        let root = Array(":/".utf8)
        let lines = text.split(separator: 10).map { Array($0) }.filter { !($0.count >= 2 && Array($0.suffix(2)) == root) && !ours.contains($0) }.uniqueInOrder()
        return lines.isEmpty ? nil : lines
    }

    /// Still there with at least one live task (a zombie makes no system calls; a zombie leader whose
    /// threads live on is live).
    public static func isLive(_ pid: Int32) -> Bool {
        guard let s = TaskStatus.read(pid: pid, tid: pid) else { return false }
        if !s.isExited { return true }
        // A zombie leader whose other threads live on is live.
        return TaskStatus.threads(of: pid).contains { !$0.isExited }
    }

    static func ordered(_ pids: [Int32], first: Int32) -> [Int32] {
        [first] + pids.filter { $0 != first }.uniqueSorted()
    }

    /// "0::/" alone (or every v1 line at "/") is the root cgroup: the whole host, not a container.
    static func isRootCgroup(_ text: String) -> Bool {
        text.split(separator: "\n").allSatisfy { $0.hasSuffix(":/") }
    }
}

/// /proc read through one descriptor of it, into a caller's buffer: no path or String is built per
/// process (the scan of every host process in `ContainerProcesses.find`).
struct ProcDir {
    let fd: Int32

    init?() {
        fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { return nil }
    }

    func close() { _ = Glibc.close(fd) }

    /// "PID/suffix" as a C string on the stack.
    static func withPath<R>(_ pid: Int32, _ suffix: StaticString, _ body: (UnsafePointer<CChar>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 16 + suffix.utf8CodeUnitCount) { path in
            var v = UInt32(bitPattern: pid), digits = 1
            while v >= 10 { v /= 10; digits += 1 }
            v = UInt32(bitPattern: pid)
            var i = digits - 1
            while i >= 0 { path[i] = CChar(0x30 + v % 10); v /= 10; i -= 1 }
            var n = digits
            path[n] = 0x2f
            n += 1
            suffix.withUTF8Buffer { for b in $0 { path[n] = CChar(bitPattern: b); n += 1 } }
            path[n] = 0
            return body(UnsafePointer(path.baseAddress!))
        }
    }

    /// The target of /proc/PID/suffix into `buf`: its length, or nil when it cannot be read.
    func readLink(_ pid: Int32, _ suffix: StaticString, into buf: inout [UInt8]) -> Int? {
        let n = Self.withPath(pid, suffix) { path in
            buf.withUnsafeMutableBytes { readlinkat(fd, path, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
        }
        return n > 0 ? n : nil
    }

    /// The whole of /proc/PID/suffix into `buf` (grown as needed): its length, or nil when it cannot be
    /// opened, or a read fails before any byte (as `ProcFS.read`).
    func read(_ pid: Int32, _ suffix: StaticString, into buf: inout [UInt8]) -> Int? {
        let file = Self.withPath(pid, suffix) { openat(fd, $0, O_RDONLY | O_CLOEXEC) }
        if file < 0 { return nil }
        defer { _ = Glibc.close(file) }
        var count = 0
        while true {
            if count == buf.count { buf.append(contentsOf: repeatElement(0, count: buf.count)) }
            let n = buf.withUnsafeMutableBytes { Glibc.read(file, $0.baseAddress! + count, $0.count - count) }
            if n < 0 {
                if errno == EINTR { continue }
                return count == 0 ? nil : count
            }
            if n == 0 { return count }
            count += n
        }
    }

    static func equal(_ buf: [UInt8], _ n: Int, _ other: [UInt8]) -> Bool {
        n == other.count && n > 0 && buf.withUnsafeBytes { a in other.withUnsafeBytes { b in memcmp(a.baseAddress!, b.baseAddress!, n) == 0 } }
    }

    /// Whether a line of `buf[0..<n]` (split at newline bytes) is one of `lines`, byte for byte.
    static func anyLine(of buf: [UInt8], _ n: Int, in lines: [[UInt8]]) -> Bool {
        buf.withUnsafeBytes { raw in
            var start = 0
            while start < n {
                var end = start
                while end < n && raw[end] != 10 { end += 1 }
                let length = end - start
                for line in lines where line.count == length && length > 0 {
                    if line.withUnsafeBytes({ memcmp($0.baseAddress!, raw.baseAddress! + start, length) }) == 0 { return true }
                }
                start = end + 1
            }
            return false
        }
    }
}

/// Whether a PID namespace lies inside the container's: walks NS_GET_PARENT up from it, once per
/// namespace seen.
struct NamespaceTree {
    let root: (dev: UInt64, ino: UInt64)?
    /// Each namespace's link already decided. Scanned, not a [String: Bool]: a host has tens of PID
    /// namespaces, and a Dictionary's first use costs 0.25 M instructions (String's Hashable looked up).
    var known: [(link: String, inside: Bool)]

    init(root pid: Int32, link: String) {
        var st = stat()
        root = stat("/proc/\(pid)/ns/pid", &st) == 0 ? (UInt64(st.st_dev), UInt64(st.st_ino)) : nil
        known = [(link, true)]
    }

    /// nil when the namespace of `pid` (whose link reads `link`) cannot be opened.
    mutating func contains(link: String, via pid: Int32) -> Bool? {
        if let k = known.first(where: { $0.link == link }) { return k.inside }
        guard let root else { return nil }
        var fd = open("/proc/\(pid)/ns/pid", O_RDONLY | O_CLOEXEC)
        if fd < 0 { return nil }
        var inside = false
        for _ in 0..<40 {
            var st = stat()
            if fstat(fd, &st) != 0 { break }
            if UInt64(st.st_dev) == root.dev && UInt64(st.st_ino) == root.ino { inside = true; break }
            let parent = sw_ns_get_parent(fd)
            if parent < 0 { break }  // EPERM: above our own namespace, so not under the container's
            close(fd)
            fd = parent
        }
        close(fd)
        known.append((link, inside))
        return inside
    }
}
#endif
