#if os(Linux)
import Glibc
import WardenCore
import WardenJSON
import WardenHost

/// One entry of a runtime's state root, read the way a long-running root process must read it:
/// through descriptors (`openat` from the root), never following a symlink, only from folders and
/// files root alone can write, and at most `limit` bytes. What fails these rules is `refused`:
/// the agent reports such an entry as unverified, never as a container that holds.
public enum StateEntry {
    /// runc's state.json carries the whole container config: a few hundred KiB at most in practice.
    public static let limit = 4 << 20

    public enum Outcome {
        case record(ContainerRecord)
        /// Not a container (yet): no state file, or one being written.
        case notYet(String)
        /// Gone (the folder was removed).
        case gone
        /// Something is there that must not be trusted; says why.
        case refused(String)
    }

    public static func read(root: String, id: String) -> Outcome {
        guard !id.isEmpty, !id.contains("/"), id != ".", id != ".." else { return .refused("not a valid container id") }
        let rootFD = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard rootFD >= 0 else {
            let e = errno
            return e == ENOENT ? .gone : .refused("cannot open the state root \(root): \(errnoText(e))")
        }
        defer { close(rootFD) }
        if let why = notRootOnly(rootFD, "the state root \(root)") { return .refused(why) }
        let dirFD = openat(rootFD, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard dirFD >= 0 else {
            let e = errno
            if e == ENOENT { return .gone }
            if e == ELOOP || e == ENOTDIR { return .refused("\(root)/\(id) is not a folder (a symlink or a file)") }
            return .refused("cannot open \(root)/\(id): \(errnoText(e))")
        }
        defer { close(dirFD) }
        if let why = notRootOnly(dirFD, "\(root)/\(id)") { return .refused(why) }
        for (name, format) in [("state.json", ContainerRecord.Format.runc), ("status", .crun)] {
            let path = "\(root)/\(id)/\(name)"
            let fd = openat(dirFD, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
            if fd < 0 {
                let e = errno
                if e == ENOENT { continue }
                return .refused(e == ELOOP ? "\(path) is a symlink" : "cannot open \(path): \(errnoText(e))")
            }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0 else { return .refused("cannot stat \(path): \(errnoText(errno))") }
            guard st.st_mode & S_IFMT == S_IFREG else { return .refused("\(path) is not a regular file") }
            if let why = notRootOnly(fd, path) { return .refused(why) }
            guard st.st_size <= limit else { return .refused("\(path) is larger than \(limit >> 20) MiB") }
            let bytes: [UInt8]
            do { bytes = try FileIO.readAll(fd: fd, name: path, cap: limit, sizeHint: Int(st.st_size)) } catch {
                return .refused(error.message)
            }
            do {
                let doc = try JSONDocument(bytes: bytes, name: path, allowingNUL: true)
                return .record(try RuntimeState.record(root: root, id: id, format: format, document: doc))
            } catch {
                // runc replaces state.json by rename, so a partial file is crun's being written: read it again.
                return .notYet(error.message)
            }
        }
        return .notYet("no state.json or status in \(root)/\(id)")
    }

    /// Why the open object is not root's alone (owned by root, writable by no one else), or nil.
    static func notRootOnly(_ fd: Int32, _ what: String) -> String? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return "cannot stat \(what): \(errnoText(errno))" }
        if st.st_uid != 0 { return "\(what) is owned by uid \(st.st_uid), not root" }
        if st.st_mode & 0o022 != 0 { return "\(what) is writable by group or others (mode \(String(st.st_mode & 0o7777, radix: 8)))" }
        return nil
    }

    /// A file named by a trusted record (the bundle's config.json), read without following a symlink
    /// in its last component and at most `limit` bytes; nil when it cannot be read.
    public static func readBounded(_ path: String, limit: Int = StateEntry.limit) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_size <= limit else { return nil }
        return try? FileIO.readAll(fd: fd, name: path, cap: limit, sizeHint: Int(st.st_size))
    }
}
#endif
