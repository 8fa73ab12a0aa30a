#if os(Linux)
import Glibc
import CLinux

/// Whose writes a file may carry for seccomp-warden to act on it. A file decides something only if
/// nobody else could have written it, or could swap it (or a folder above it) after it was checked.
public enum Writers: Sendable {
    /// No checks: offline reading (`check`, `explain`, `convert`); symlinks are followed as the kernel does.
    case anyone
    /// Root only: the policy and every file it names.
    case root
    /// Root, and the user this process runs as: bundles (a rootless engine's bundles are its own user's).
    case rootAndSelf

    var checks: Bool { if case .anyone = self { false } else { true } }

    func trusts(_ uid: uid_t) -> Bool {
        switch self {
        case .anyone: true
        case .root: uid == 0
        case .rootAndSelf: uid == 0 || uid == geteuid()
        }
    }

    var owners: String {
        switch self {
        case .anyone: "anyone"
        case .root: "root"
        case .rootAndSelf: geteuid() == 0 ? "root" : "root or uid \(geteuid())"
        }
    }
}

/// A folder opened once, by a walk that checks every step, and every later read, write and rename
/// done relative to its descriptor (`openat`, `fstat` on the same descriptor, `renameat`): what was
/// checked is what is used.
///
/// With `Writers.root` or `.rootAndSelf` the walk starts at `/` and opens one component at a time
/// (`O_PATH|O_NOFOLLOW`, then `fstat` on what it opened). Each entry must be one that nobody
/// untrusted can replace: the folder holding it owned by a trusted user and writable by no one
/// else, or sticky (like `/tmp`) with the entry itself owned by a trusted user. A symlink is
/// followed only when it is such an entry (so nobody untrusted can change where it points), never
/// inside `/proc`, at most 40 times; `..` is the real parent of the folder reached, as the kernel
/// resolves it. The folder reached must itself be owned by a trusted user and writable by no one else.
/// Then the path names, for as long as only trusted users act, the same folder for every later reader
/// (the runtime that opens `<bundle>/config.json` by its path included).
public final class Folder {
    /// O_RDONLY|O_DIRECTORY descriptor of the folder.
    public let fd: Int32
    /// The folder as walked (physical, no symlinks), or as given for `Writers.anyone`.
    public let path: String
    public let writers: Writers

    init(fd: Int32, path: String, writers: Writers) {
        self.fd = fd
        self.path = path
        self.writers = writers
    }

    deinit { close(fd) }

    /// How the last component of a path is taken.
    public enum Final: Sendable {
        /// A folder; a symlink to one is followed.
        case folder
        /// A file name; a symlink there is followed to its file.
        case file
        /// A bundle: a folder (or a symlink to one, followed), else a file name whose symlink is
        /// *not* followed (config.json is never read through a symlink).
        case folderOrFile
    }

    /// Opens the folder `path` names.
    public static func open(_ path: String, writers: Writers) throws(WardenError) -> Folder {
        let (folder, name) = try locate(path, writers: writers, final: .folder)
        precondition(name == nil)
        return folder
    }

    /// Walks `path` (a relative one from the current folder). Returns the folder reached and nil, or,
    /// when the last component is not a folder, the folder holding it and its name.
    public static func locate(_ path: String, writers: Writers, final: Final) throws(WardenError) -> (Folder, String?) {
        guard !path.isEmpty else { throw .input("an empty path", file: path) }
        if !writers.checks { return try kernelLocate(path, final: final) }
        var walk = try Walk(path: path, writers: writers)
        defer { walk.closeAll() }
        let name = try walk.run(final: final)
        let fd = retrying { openat(walk.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard fd >= 0 else { throw .system("cannot open \(walk.where_): \(errnoText(errno))", file: path) }
        // The folder that will hold what is read and written: nobody else may write in it at all.
        var st = stat()
        guard fstat(fd, &st) == 0 else { close(fd); throw .system("cannot stat \(walk.where_): \(errnoText(errno))", file: path) }
        if let problem = ownership(st, writers: writers, what: walk.where_) {
            close(fd)
            throw WardenError(.refused, file: path, "refusing it: \(problem)")
        }
        return (Folder(fd: fd, path: walk.where_, writers: writers), name)
    }

    /// No checks: the kernel resolves the path, symlinks included; only the last step is ours.
    static func kernelLocate(_ path: String, final: Final) throws(WardenError) -> (Folder, String?) {
        func openFolder(_ p: String) -> Int32 { retrying { Glibc.open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC) } }
        if final != .file {
            let fd = openFolder(path)
            if fd >= 0 { return (Folder(fd: fd, path: path, writers: .anyone), nil) }
            if errno != ENOTDIR || final == .folder || path.hasSuffix("/") {
                throw WardenError(errno == ENOENT || errno == ENOTDIR ? .input : .system, file: path, "cannot open: \(errnoText(errno))")
            }
        }
        let (dir, name) = split(path)
        let fd = openFolder(dir)
        guard fd >= 0 else {
            throw WardenError(errno == ENOENT || errno == ENOTDIR ? .input : .system, file: path, "cannot open \(dir): \(errnoText(errno))")
        }
        return (Folder(fd: fd, path: dir, writers: .anyone), name)
    }

    /// `dir/name` split at the last slash ("/" and "." where there is none).
    static func split(_ path: String) -> (String, String) {
        var p = Substring(path)
        while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return (".", String(p)) }
        let dir = p[..<slash]
        return (dir.isEmpty ? "/" : String(dir), String(p[p.index(after: slash)...]))
    }

    /// Why a file or folder could have been written by someone untrusted, or nil.
    static func ownership(_ st: stat, writers: Writers, what: String) -> String? {
        guard writers.checks else { return nil }
        let folder = (st.st_mode & S_IFMT) == S_IFDIR
        let risk = folder ? "swap the files in it after they are checked" : "change it after it is checked"
        let rule = folder ? "a folder holding files that decide must be \(writers.owners)'s and writable by no one else"
            : "a file that decides must be \(writers.owners)'s and writable by no one else"
        if !writers.trusts(st.st_uid) {
            return "\(what) is owned by uid \(st.st_uid), not \(writers.owners): its owner could \(risk) (\(rule))"
        }
        if st.st_mode & 0o022 != 0 {
            return "\(what) is writable by group or others (mode \(String(st.st_mode & 0o7777, radix: 8))): they could \(risk) (\(rule))"
        }
        return nil
    }

    /// The contents of a regular file read through one descriptor, and what `fstat` said of that descriptor.
    public struct Contents {
        public var bytes: [UInt8]
        public var stat: stat
    }

    /// Reads `name` in this folder: `openat` with O_NOFOLLOW|O_NONBLOCK (a symlink is refused, a FIFO
    /// cannot block), then `fstat` on that descriptor: a regular file under `cap` bytes and, unless
    /// `Writers.anyone`, owned by a trusted user and writable by no one else. `shown` names it in errors.
    public func read(_ name: String, shown: String, cap: Int = FileIO.sizeCap) throws(WardenError) -> Contents {
        let fd = retrying { openat(self.fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY) }
        if fd < 0 { throw FileIO.openError(errno, name: shown, refusingSymlinks: true) }
        defer { close(fd) }
        let st = try FileIO.regularFile(fd: fd, name: shown, cap: cap)
        if let problem = Folder.ownership(st, writers: writers, what: shown) {
            throw WardenError(.refused, file: shown, "refusing it: \(problem)")
        }
        return Contents(bytes: try FileIO.readAll(fd: fd, name: shown, cap: cap, sizeHint: Int(st.st_size)), stat: st)
    }

    /// The names of temporary files for `name`: `.NAME.seccomp-warden.RANDOM.tmp` (the old fixed
    /// `.NAME.seccomp-warden.tmp` included, so leftovers of older versions are cleaned too).
    static func isTemporary(_ entry: String, for name: String) -> Bool {
        entry.hasPrefix("." + name + ".seccomp-warden.") && entry.hasSuffix(".tmp")
    }

    /// Replaces `name` atomically with `bytes`, keeping `like`'s owner, group and mode:
    /// a temporary file with a random name (`O_CREAT|O_EXCL|O_NOFOLLOW`, locked while it exists),
    /// fsync, `renameat` over `name`, fsync of the folder (both fsyncs skipped on a tmpfs or ramfs).
    /// Then the proof that the name leads to what was written: `name` is opened again through this
    /// folder, and must be the same file (device and inode of the temporary file), pass the same
    /// ownership checks, and hold exactly `bytes`; else this throws (refused). On any failure before the rename the original is untouched.
    public func replace(_ name: String, shown: String, with bytes: [UInt8], like original: stat) throws(WardenError) {
        removeLeftovers(of: name)
        var fd: Int32 = -1
        var tmp = ""
        var made = stat()
        // A cleaner may remove a temporary file in the instant between its creation and its lock:
        // then this one is gone (or another file has its name), and a new name is tried.
        for _ in 0..<8 {
            tmp = "." + name + ".seccomp-warden." + Folder.randomHex() + ".tmp"
            let f = retrying { openat(self.fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o600) }
            if f < 0 {
                if errno == EEXIST { continue }
                throw .system("cannot create \(tmp) in \(path): \(errnoText(errno))", file: shown)
            }
            _ = retrying { flock(f, LOCK_EX) }
            var named = stat()
            if fstat(f, &made) == 0 && fstatat(self.fd, tmp, &named, AT_SYMLINK_NOFOLLOW) == 0
                && named.st_dev == made.st_dev && named.st_ino == made.st_ino {
                fd = f
                break
            }
            close(f)
        }
        guard fd >= 0 else { throw .system("cannot create a temporary file in \(path)", file: shown) }
        var renamed = false
        defer {
            if !renamed { unlinkat(self.fd, tmp, 0) }
            close(fd)  // after rename or unlink: the lock covers the whole life of the temporary name
        }
        try FileIO.writeAll(fd: fd, bytes, name: tmp)
        if fchown(fd, original.st_uid, original.st_gid) != 0 && errno != EPERM {
            throw .system("cannot keep owner: \(errnoText(errno))", file: shown)
        }
        guard fchmod(fd, original.st_mode & 0o7777) == 0 else { throw .system("cannot keep mode: \(errnoText(errno))", file: shown) }
        // On a disk the fsyncs are kept: without them a crash can leave the rename on disk and the
        // bytes not (an empty config.json, which the next start refuses as bad input) or bring back
        // the untightened file for whatever starts the bundle next without us. On a tmpfs or ramfs
        // (/run, where containerd, CRI-O and podman keep bundles) there is no disk and nothing
        // survives a crash: fsync only costs time.
        let durable = !Folder.isMemoryBacked(fd)
        if durable {
            guard fsync(fd) == 0 else { throw .system("fsync failed: \(errnoText(errno))", file: shown) }
        }
        guard renameat(self.fd, tmp, self.fd, name) == 0 else {
            throw .system("cannot rename into place: \(errnoText(errno))", file: shown)
        }
        renamed = true
        if durable { _ = fsync(self.fd) }
        // What the runtime will read is what was written and proved.
        let again = try read(name, shown: shown)
        guard again.stat.st_dev == made.st_dev && again.stat.st_ino == made.st_ino else {
            throw WardenError(.refused, file: shown, "was replaced by another file right after it was written; refusing it")
        }
        guard again.bytes == bytes else {
            throw WardenError(.refused, file: shown, "changed right after it was written (digest \(fnv1aHex(again.bytes)), written \(fnv1aHex(bytes))); refusing it")
        }
    }

    /// Whether the file open at `fd` lives in memory only (tmpfs, ramfs): nothing there survives a
    /// crash, so there is nothing for fsync to make durable. Unknown (fstatfs failed): a disk.
    static func isMemoryBacked(_ fd: Int32) -> Bool {
        var fs = statfs()
        guard fstatfs(fd, &fs) == 0 else { return false }
        let type = UInt64(truncatingIfNeeded: fs.f_type)
        return type == 0x0102_1994 /* TMPFS_MAGIC */ || type == 0x8584_58f6 /* RAMFS_MAGIC */
    }

    /// Removes temporary files of `name` left by writers that were killed: only regular files (a FIFO
    /// or a symlink with such a name is never opened), and only those no live writer holds locked.
    func removeLeftovers(of name: String) {
        let dup = retrying { openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard dup >= 0 else { return }
        guard let dir = fdopendir(dup) else { close(dup); return }
        var found = [String]()
        while let entry = readdir(dir) {
            var raw = entry.pointee.d_name
            let capacity = MemoryLayout.size(ofValue: raw)
            let entryName = withUnsafePointer(to: &raw) {
                $0.withMemoryRebound(to: CChar.self, capacity: capacity) { String(cString: $0) }
            }
            if Folder.isTemporary(entryName, for: name) { found.append(entryName) }
        }
        closedir(dir)
        for leftover in found {
            var st = stat()
            guard fstatat(fd, leftover, &st, AT_SYMLINK_NOFOLLOW) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            let f = retrying { openat(fd, leftover, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY) }
            guard f >= 0 else { continue }
            if fstat(f, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, flock(f, LOCK_EX | LOCK_NB) == 0 {
                unlinkat(fd, leftover, 0)
            }
            close(f)
        }
    }

    static func randomHex() -> String {
        let hex = String(UInt64.random(in: .min ... .max), radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// FNV-1a, 64 bits, as 16 hex digits: a stable digest with no dependency.
public func fnv1aHex(_ bytes: [UInt8]) -> String {
    // Through a buffer pointer: no bounds check per byte (a 13 KB config.json is read by every gate).
    let h = bytes.withUnsafeBufferPointer { buf in
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in buf {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return h
    }
    return hex16(h)
}

/// `v` as 16 lower-case hex digits. Not String(_:radix:): its first use in a static executable costs
/// a generic-metadata lookup (0.13 M instructions, more than hashing a 13 KB config.json).
public func hex16(_ v: UInt64) -> String {
    var out = [UInt8](repeating: 0, count: 16)
    var v = v
    for i in stride(from: 15, through: 0, by: -1) {
        let d = UInt8(v & 0xf)
        out[i] = d < 10 ? 48 + d : 87 + d
        v >>= 4
    }
    return String(decoding: out, as: UTF8.self)
}

/// The checked walk of `Folder.locate`: one component at a time from `/`.
struct Walk {
    let shown: String
    let writers: Writers
    /// O_PATH descriptor of the folder reached so far, its `fstat`, and its physical path.
    var fd: Int32 = -1
    var st = stat()
    var where_ = "/"
    var stack: [String]
    var links = 0
    static let maxLinks = 40
    /// O_PATH (Linux; the value on x86_64 and arm64): Swift's Glibc module does not export it.
    static let oPath: Int32 = 0o10000000

    init(path: String, writers: Writers) throws(WardenError) {
        shown = path
        self.writers = writers
        var full = path
        if !path.hasPrefix("/") {
            // The current folder by its physical path (getcwd), walked and checked like the rest.
            guard let cwd = getcwd(nil, 0) else { throw .system("cannot read the current folder: \(errnoText(errno))", file: path) }
            full = String(cString: cwd) + "/" + path
            free(cwd)
        }
        stack = Walk.components(full).reversed()
        try restartAtRoot()
    }

    static func components(_ p: String) -> [String] {
        p.split(separator: "/", omittingEmptySubsequences: true).map(String.init).filter { $0 != "." }
    }

    mutating func closeAll() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    mutating func restartAtRoot() throws(WardenError) {
        let root = retrying { open("/", Walk.oPath | O_DIRECTORY | O_CLOEXEC) }
        guard root >= 0 else { throw .system("cannot open /: \(errnoText(errno))", file: shown) }
        var rst = stat()
        guard fstat(root, &rst) == 0 else { close(root); throw .system("cannot stat /: \(errnoText(errno))", file: shown) }
        closeAll()
        fd = root
        st = rst
        where_ = "/"
        if !writers.trusts(st.st_uid) || st.st_mode & 0o022 != 0 {
            throw refusal("/ is owned by uid \(st.st_uid) with mode \(String(st.st_mode & 0o7777, radix: 8))")
        }
    }

    func refusal(_ why: String) -> WardenError {
        WardenError(.refused, file: shown, "refusing it: \(why) (every folder on the path must be one that only \(writers.owners) can change)")
    }

    func joined(_ name: String) -> String { where_ == "/" ? "/" + name : where_ + "/" + name }

    /// Whether `entry`, an entry of the folder `parent`, can be replaced or renamed only by trusted users.
    func safeEntry(parent: stat, entry: stat) -> Bool {
        guard writers.trusts(parent.st_uid) else { return false }
        if parent.st_mode & 0o022 == 0 { return true }
        return parent.st_mode & S_ISVTX != 0 && writers.trusts(entry.st_uid)
    }

    func unsafeReason(parent: stat, parentPath: String, entryPath: String, entry: stat) -> String {
        if !writers.trusts(parent.st_uid) {
            return "\(parentPath) is owned by uid \(parent.st_uid): its owner could swap \(entryPath) after it is checked"
        }
        if parent.st_mode & S_ISVTX != 0 {
            return "\(entryPath) is owned by uid \(entry.st_uid) in the sticky folder \(parentPath): its owner could swap it after it is checked"
        }
        return "\(parentPath) is writable by group or others (mode \(String(parent.st_mode & 0o7777, radix: 8))): they could swap \(entryPath) after it is checked"
    }

    /// Walks every component; returns the name of a last component that is a file (see `Folder.Final`).
    mutating func run(final: Folder.Final) throws(WardenError) -> String? {
        while let name = stack.popLast() {
            if stack.isEmpty && name != ".." && final != .folder {
                var lst = stat()
                if fstatat(fd, name, &lst, AT_SYMLINK_NOFOLLOW) != 0 { return name }  // the reader names the error
                switch lst.st_mode & S_IFMT {
                case S_IFDIR: if final == .file { return name }
                case S_IFLNK:
                    if final == .folderOrFile {
                        var target = stat()
                        // Only a symlink to a folder is followed here; a file is read without following.
                        if fstatat(fd, name, &target, 0) != 0 || (target.st_mode & S_IFMT) != S_IFDIR { return name }
                    }
                default: return name
                }
            }
            try step(name)
        }
        return nil
    }

    /// Opens one component from the folder reached, checks it, and moves into it (or follows it).
    mutating func step(_ name: String) throws(WardenError) {
        let next = retrying { openat(fd, name, Walk.oPath | O_NOFOLLOW | O_CLOEXEC) }
        let nextPath = name == ".." ? Folder.split(where_).0 : joined(name)
        guard next >= 0 else {
            let e = errno
            throw WardenError(e == ENOENT || e == ENOTDIR ? .input : .system, file: shown, "cannot open \(nextPath): \(errnoText(e))")
        }
        var nst = stat()
        guard fstat(next, &nst) == 0 else { close(next); throw .system("cannot stat \(nextPath): \(errnoText(errno))", file: shown) }
        if name == ".." {
            // The real parent: the folder just left must be one only trusted users can move out of it.
            if !safeEntry(parent: nst, entry: st) {
                close(next)
                throw refusal(unsafeReason(parent: nst, parentPath: nextPath, entryPath: where_, entry: st))
            }
        } else if !safeEntry(parent: st, entry: nst) {
            close(next)
            throw refusal(unsafeReason(parent: st, parentPath: where_, entryPath: nextPath, entry: nst))
        }
        switch nst.st_mode & S_IFMT {
        case S_IFDIR:
            close(fd)
            fd = next
            st = nst
            where_ = nextPath
        case S_IFLNK:
            defer { close(next) }
            links += 1
            guard links <= Walk.maxLinks else { throw .input("too many levels of symlinks (over \(Walk.maxLinks))", file: shown) }
            var proc = stat()
            if stat("/proc", &proc) == 0 && proc.st_dev == st.st_dev {
                throw refusal("\(nextPath) is a symlink in /proc, which does not point where its text says")
            }
            var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlinkat(next, "", &buf, buf.count - 1)
            guard n >= 0 else { throw .system("cannot read the symlink \(nextPath): \(errnoText(errno))", file: shown) }
            let target = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard !target.isEmpty else { throw .input("\(nextPath) is an empty symlink", file: shown) }
            if target.hasPrefix("/") { try restartAtRoot() }
            stack.append(contentsOf: Walk.components(target).reversed())
        default:
            close(next)
            throw .input("\(nextPath) is not a folder (\(FileIO.fileTypeName(nst.st_mode)))", file: shown)
        }
    }
}
#endif
