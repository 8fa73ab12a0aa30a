#if os(Linux)
import Glibc
import SystemPackage

/// Thin, Foundation-free file access for the hook path: one read per file, size caps,
/// no symlinks followed where it matters. Files that decide something (bundles, policies) and
/// atomic replace go through `Folder`, relative to a folder's descriptor.
public enum FileIO {
    /// Inputs larger than this are refused (config.json, state, profiles, policies).
    public static let sizeCap = 16 << 20

    /// Reads a regular file whole. With `followSymlinks: false` a symlink at `path` is refused.
    public static func readFile(_ path: String, followSymlinks: Bool = true, cap: Int = sizeCap) throws(WardenError) -> [UInt8] {
        var flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK  // O_NONBLOCK: a FIFO must not hang us
        if !followSymlinks { flags |= O_NOFOLLOW }
        let fd = retrying { open(path, flags) }
        if fd < 0 { throw openError(errno, name: path, refusingSymlinks: !followSymlinks) }
        defer { close(fd) }
        let st = try regularFile(fd: fd, name: path, cap: cap)
        return try readAll(fd: fd, name: path, cap: cap, sizeHint: Int(st.st_size))
    }

    /// What a failed open of `name` means: absent (input), a symlink refused, or a system error.
    public static func openError(_ e: Int32, name: String, refusingSymlinks: Bool) -> WardenError {
        if e == ELOOP && refusingSymlinks { return .input("is a symlink; refusing to follow it", file: name) }
        return WardenError(e == ENOENT || e == ENOTDIR ? .input : .system, file: name, "cannot open: \(errnoText(e))")
    }

    /// `fstat` of an open descriptor, which must be a regular file of at most `cap` bytes.
    public static func regularFile(fd: Int32, name: String, cap: Int) throws(WardenError) -> stat {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .system("cannot stat: \(errnoText(errno))", file: name) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw .input("is not a regular file (\(fileTypeName(st.st_mode)))", file: name)
        }
        guard Int(st.st_size) <= cap else { throw .input("is \(st.st_size) bytes, over the \(cap)-byte limit", file: name) }
        return st
    }

    /// Reads a descriptor to its end (hooks must drain stdin). Past `cap` it keeps draining, then fails.
    /// Plain read(2), retried on EINTR: swift-system's generic calls instantiate type metadata at run
    /// time, a measurable part of a warm hook.
    public static func readAll(fd: Int32, name: String, cap: Int = sizeCap, sizeHint: Int = 0) throws(WardenError) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(sizeHint > 0 ? sizeHint + 1 : 64 << 10)
        // Not zero-filled: only the bytes read are copied out.
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 1)
        defer { chunk.deallocate() }
        var total = 0
        while true {
            let n = retrying { Glibc.read(fd, chunk.baseAddress, chunk.count) }
            if n < 0 {
                // A non-blocking descriptor (a hook's stdin pipe set O_NONBLOCK by its writer): no
                // input yet is not the end of it. Wait as a blocking read would, until input or EOF.
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    if retrying({ poll(&p, 1, -1) }) >= 0 { continue }
                }
                throw .system("cannot read: \(errnoText(errno))", file: name)
            }
            if n == 0 { break }
            total += n
            if total <= cap { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<n])) }
        }
        if total > cap { throw .input("is \(total) bytes, over the \(cap)-byte limit", file: name) }
        return out
    }

    /// Writes every byte (write(2) again after a short write, retried on EINTR).
    public static func writeAll(fd: Int32, _ bytes: [UInt8], name: String) throws(WardenError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { b in retrying { Glibc.write(fd, b.baseAddress! + done, b.count - done) } }
            if n < 0 { throw .system("cannot write: \(errnoText(errno))", file: name) }
            done += n
        }
    }

    public static func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(WardenError) {
        let fd = retrying { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) }
        guard fd >= 0 else { throw .system("cannot open for writing: \(errnoText(errno))", file: path) }
        defer { close(fd) }
        try writeAll(fd: fd, bytes, name: path)
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public static func dirname(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }

    public static func fileTypeName(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO"
        case S_IFLNK: "a symlink"
        case S_IFSOCK: "a socket"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        default: "not regular"
        }
    }
}

/// "Permission denied (errno 13)": swift-system's description of the errno, and its number.
public func errnoText(_ e: Int32) -> String {
    Errno(rawValue: e).description + " (errno \(e))"
}

@inline(__always)
func retrying<T: BinaryInteger>(_ body: () -> T) -> T {
    while true {
        let r = body()
        if r >= 0 || errno != EINTR { return r }
    }
}
#endif
