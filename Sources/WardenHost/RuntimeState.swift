#if os(Linux)
import WardenCore
import Glibc
import WardenJSON

/// A container as a runtime's state folder records it.
public struct ContainerRecord: Sendable, Equatable {
    public enum Format: String, Sendable {
        /// runc (and docker's and containerd's runc roots): ROOT/ID/state.json.
        case runc
        /// crun: ROOT/ID/status.
        case crun
    }

    public var id: String
    public var format: Format
    /// The state root it was found under.
    public var root: String
    public var pid: Int32
    /// The init's start time (clock ticks after boot) the runtime recorded, to detect pid reuse.
    public var startTime: UInt64?
    public var bundle: String?
    /// The config the runtime kept for itself (crun's ROOT/ID/config.json), else the bundle's.
    public var configPath: String?
    /// The runtime gave the container a cgroup of its own (runc's `cgroup_paths`, crun's `cgroup-path`):
    /// a process in it is the container's even outside its PID namespace.
    public var ownCgroup: Bool = false

    /// Whether the recorded init is the process now at `pid`.
    public var isRunning: Bool {
        guard pid > 0, let s = ProcFS.stat(pid) else { return false }
        return startTime.map { $0 == s.startTime } ?? true
    }
}

/// Finds containers in the runtimes' state folders.
public enum RuntimeState {
    /// The roots searched by default, in order: runc, docker's runc, crun; containerd's per namespace.
    public static var defaultRoots: [String] {
        var roots = ["/run/runc", "/run/docker/runtime-runc/moby", "/run/crun"]
        for ns in (ProcFS.list("/run/containerd/runc") ?? []).sorted() {
            roots.append("/run/containerd/runc/" + ns)
        }
        roots.append(contentsOf: ["/run/containerd/runc/k8s.io", "/run/containerd/runc/moby", "/run/containerd/runc/default"])
        var seen = Set<String>()
        return roots.filter { seen.insert($0).inserted }
    }

    /// The container `id` under `roots`, or nil when no root knows it.
    public static func find(id: String, roots: [String]) throws(WardenError) -> ContainerRecord? {
        guard !id.isEmpty, !id.contains("/"), id != ".", id != ".." else {
            throw .input("not a valid container id: \"\(id)\"")
        }
        for root in roots {
            if let r = try record(root: root, id: id) { return r }
        }
        return nil
    }

    /// The roots that can be searched. A root named on the command line (`explicit`) must exist; a
    /// default root that does not exist is a runtime not in use and left out. A root that exists but
    /// cannot be listed is an error either way: its containers would go unseen.
    public static func usableRoots(_ roots: [String], explicit: Bool) throws(WardenError) -> [String] {
        var out = [String]()
        for root in roots {
            guard let dir = opendir(root) else {
                let e = errno
                if e == ENOENT && !explicit { continue }
                throw .system("cannot read the runtime state root \(root): \(String(cString: strerror(e)))"
                    + (e == EACCES ? " (run verify as root)" : ""))
            }
            closedir(dir)
            out.append(root)
        }
        return out
    }

    /// Every container under `roots` (from `usableRoots`; one that does not exist is left out). A container
    /// deleted while we read is left out.
    public static func all(roots: [String]) throws(WardenError) -> [ContainerRecord] {
        var out = [ContainerRecord]()
        for root in roots {
            guard let ids = ProcFS.list(root) else {
                let e = errno
                if e == ENOENT { continue }  // usableRoots decided whether a missing root is an error
                throw .system("cannot read the runtime state root \(root): \(String(cString: strerror(e)))")
            }
            for id in ids.sorted() where FileIO.isDirectory(root + "/" + id) {
                do {
                    if let r = try record(root: root, id: id) { out.append(r) }
                } catch {
                    if FileIO.isDirectory(root + "/" + id) { throw error }
                }
            }
        }
        return out
    }

    /// The container whose init is `pid`, if a root knows it: the first, in `all`'s order, that records
    /// `pid` and whose init is running. Only a state file whose bytes hold `pid`'s digits as a number of
    /// their own is parsed (a runtime's state is some 30 KB of JSON, and a node has many containers:
    /// issue 14): the pid is a JSON integer, and jansson reads an integer only from its plain decimal
    /// digits, so a file without them records another pid. A file that is parsed and cannot be read
    /// makes the answer nil, as `all` does; one left unparsed no longer hides the container.
    public static func find(pid: Int32, roots: [String]) -> ContainerRecord? {
        guard pid > 0 else { return nil }
        let digits = Array(String(pid).utf8)
        for root in roots {
            guard let ids = ProcFS.list(root) else {
                if errno == ENOENT { continue }
                return nil
            }
            for id in ids.sorted() where FileIO.isDirectory(root + "/" + id) {
                let dir = root + "/" + id
                let file: String, format: ContainerRecord.Format
                if FileIO.exists(dir + "/state.json") { (file, format) = (dir + "/state.json", .runc) }
                else if FileIO.exists(dir + "/status") { (file, format) = (dir + "/status", .crun) }
                else { continue }
                do {
                    let bytes = try FileIO.readFile(file)
                    guard containsNumber(bytes, digits) else { continue }
                    let r = format == .runc ? try runc(root: root, id: id, bytes: bytes, file: file)
                        : try record(root: root, id: id, format: format, document: try JSONDocument(bytes: bytes, name: file, allowingNUL: true))
                    if r.pid == pid && r.isRunning { return r }
                } catch {
                    // Deleted while we read: left out, as `all` leaves it out.
                    if FileIO.isDirectory(dir) { return nil }
                }
            }
        }
        return nil
    }

    /// Whether `digits` occur in `bytes` as a whole run of ASCII digits (no digit just before or after).
    static func containsNumber(_ bytes: [UInt8], _ digits: [UInt8]) -> Bool {
        guard let first = digits.first, bytes.count >= digits.count else { return false }
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        return bytes.withUnsafeBufferPointer { b in
            var i = 0
            let last = b.count - digits.count
            while i <= last {
                if b[i] == first && (i == 0 || !isDigit(b[i - 1])) {
                    var j = 1
                    while j < digits.count && b[i + j] == digits[j] { j += 1 }
                    if j == digits.count && (i + j == b.count || !isDigit(b[i + j])) { return true }
                }
                i += 1
            }
            return false
        }
    }

    /// Reads ROOT/ID in whichever format it is.
    public static func record(root: String, id: String) throws(WardenError) -> ContainerRecord? {
        let dir = root + "/" + id
        if FileIO.exists(dir + "/state.json") { return try runc(root: root, id: id, file: dir + "/state.json") }
        if FileIO.exists(dir + "/status") { return try crun(root: root, id: id, dir: dir) }
        return nil
    }

    /// runc's libcontainer state: `init_process_pid`, `init_process_start`, `config.labels` has "bundle=…".
    static func runc(root: String, id: String, file: String) throws(WardenError) -> ContainerRecord {
        try runc(root: root, id: id, bytes: try FileIO.readFile(file), file: file)
    }

    /// runc's state from its bytes: the four values read (`runcEssentials`) parsed alone, else the whole.
    static func runc(root: String, id: String, bytes: [UInt8], file: String) throws(WardenError) -> ContainerRecord {
        if let small = runcEssentials(bytes), let doc = try? JSONDocument(bytes: small, name: file, allowingNUL: true) {
            return try runc(root: root, id: id, document: doc, file: file)
        }
        return try runc(root: root, id: id, document: try JSONDocument(bytes: bytes, name: file, allowingNUL: true), file: file)
    }

    /// The values `runc(…document:)` reads from runc's state.json, cut out (`sw_runc_state_members`) into
    /// a small document of their own: parsing the whole 30 KB, most of it the container's config, was 7 M
    /// instructions of a warm `verify --pid`'s 17 M. What is left out is not checked as a full parse would
    /// check it (a stray byte in a string runc wrote); runc, as root, wrote the file under root's own
    /// folder, and every value read is parsed by jansson. nil when the cut cannot be made exactly (a key
    /// with an escape, a key twice, malformed JSON): then the whole is parsed, and fails as it did.
    static func runcEssentials(_ bytes: [UInt8]) -> [UInt8]? {
        guard let ranges = JSONDocument.runcStateMembers(bytes) else { return nil }
        var out: [UInt8] = [UInt8(ascii: "{")]
        func member(_ name: String, _ range: Range<Int>?, wrap: String? = nil) {
            guard let range else { return }
            if out.count > 1 { out.append(UInt8(ascii: ",")) }
            out += Array("\"\(name)\":".utf8)
            if let wrap { out += Array("{\"\(wrap)\":".utf8) }
            out += bytes[range]
            if wrap != nil { out.append(UInt8(ascii: "}")) }
        }
        member("init_process_pid", ranges.0)
        member("init_process_start", ranges.1)
        member("cgroup_paths", ranges.2)
        member("config", ranges.3, wrap: "labels")
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Parses a state document already read (the agent reads it through descriptors, bounded).
    public static func record(root: String, id: String, format: ContainerRecord.Format, document: JSONDocument) throws(WardenError) -> ContainerRecord {
        switch format {
        case .runc: try runc(root: root, id: id, document: document, file: document.name)
        case .crun: try crun(root: root, id: id, document: document, dir: root + "/" + id)
        }
    }

    static func runc(root: String, id: String, document doc: JSONDocument, file: String) throws(WardenError) -> ContainerRecord {
        let r = doc.root
        guard let pid = r["init_process_pid"]?.int64, pid > 0, pid <= Int64(Int32.max) else {
            throw .input("no init_process_pid", file: file)
        }
        let start = r["init_process_start"].flatMap { n -> UInt64? in
            if let i = n.int64 { return UInt64(i) }
            return n.string.flatMap(UInt64.init)
        }
        var bundle: String? = nil
        for label in r["config"]?["labels"]?.elements ?? [] {
            if let s = label.string, s.hasPrefix("bundle=") { bundle = String(s.dropFirst("bundle=".count)) }
        }
        let config = bundle.map { $0 + "/config.json" }
        let cgroups = r["cgroup_paths"]?.keys.compactMap { r["cgroup_paths"]?[$0]?.string }.filter { !$0.isEmpty } ?? []
        return ContainerRecord(id: id, format: .runc, root: root, pid: Int32(pid), startTime: start, bundle: bundle,
                               configPath: config.flatMap { FileIO.exists($0) ? $0 : nil }, ownCgroup: !cgroups.isEmpty)
    }

    /// crun's ROOT/ID/status: `pid`, `process-start-time`, `bundle`; ROOT/ID/config.json is the config it used.
    static func crun(root: String, id: String, dir: String) throws(WardenError) -> ContainerRecord {
        try crun(root: root, id: id, document: try JSONDocument(bytes: try FileIO.readFile(dir + "/status"), name: dir + "/status", allowingNUL: true), dir: dir)
    }

    static func crun(root: String, id: String, document doc: JSONDocument, dir: String) throws(WardenError) -> ContainerRecord {
        let r = doc.root
        guard let pid = r["pid"]?.int64, pid > 0, pid <= Int64(Int32.max) else {
            throw .input("no pid", file: dir + "/status")
        }
        let start = r["process-start-time"]?.int64.map { UInt64($0) }
        let bundle = r["bundle"]?.string
        var config: String? = nil
        if FileIO.exists(dir + "/config.json") { config = dir + "/config.json" }
        else if let b = bundle, FileIO.exists(b + "/config.json") { config = b + "/config.json" }
        let cgroup = r["cgroup-path"]?.string ?? ""
        return ContainerRecord(id: id, format: .crun, root: root, pid: Int32(pid), startTime: start, bundle: bundle, configPath: config,
                               ownCgroup: !cgroup.isEmpty)
    }
}
#endif
