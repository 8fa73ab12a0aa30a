#if os(Linux)
import Glibc
import WardenCore
import WardenJSON

/// Follows the audit log the hooks and the wrapper append to (`AuditLog`), for the refusals only the
/// log knows: each complete new line whose `decision` is `denied` counts once. What was in the log
/// before the agent started is not counted (a counter starts at 0). A log that root does not own
/// alone is not read (anyone could write refusals into it), and says so.
struct AuditTail {
    let path: String
    var offset: Int64? = nil
    var inode: UInt64 = 0
    /// At most this much is read per call (the rest on the next).
    static let chunk = 4 << 20

    init(path: String) { self.path = path }

    /// Denials appended since the last call, or why the log was not read (nil: read, or absent).
    mutating func poll() -> (denied: Int, problem: String?) {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT { offset = 0; inode = 0; return (0, nil) }  // created later: all of it is new
            return (0, "cannot open \(path): \(errnoText(e))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return (0, "\(path) is not a regular file") }
        guard st.st_uid == 0, st.st_mode & 0o022 == 0 else {
            return (0, "\(path) is not root's alone (uid \(st.st_uid), mode \(String(st.st_mode & 0o7777, radix: 8))): its refusals are not counted")
        }
        guard let from = offset else {
            offset = Int64(st.st_size)
            inode = UInt64(st.st_ino)
            return (0, nil)
        }
        var start = from
        if UInt64(st.st_ino) != inode || Int64(st.st_size) < from { start = 0 }  // rotated or truncated
        inode = UInt64(st.st_ino)
        let available = Int(min(Int64(Self.chunk), Int64(st.st_size) - start))
        guard available > 0 else { offset = start; return (0, nil) }
        var bytes = [UInt8](repeating: 0, count: available)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, available, off_t(start)) }
        guard n > 0 else { return (0, n < 0 ? "cannot read \(path): \(errnoText(errno))" : nil) }
        // Complete lines only: a record being appended is read whole next time.
        guard let lastNewline = bytes[0..<n].lastIndex(of: 10) else {
            if n == Self.chunk { offset = start + Int64(n) }  // a line longer than a chunk: skipped
            return (0, nil)
        }
        var denied = 0
        for line in bytes[0...lastNewline].split(separator: 10) where line.count < AuditTail.chunk {
            guard let doc = try? JSONDocument(bytes: Array(line), name: path) else { continue }
            if withExtendedLifetime(doc, { doc.root["decision"]?.string == "denied" }) { denied += 1 }
        }
        offset = start + Int64(lastNewline + 1)
        return (denied, nil)
    }
}
#endif
