#if os(Linux)
import Glibc

/// A thin inotify wrapper: folders only, never through a symlink, non-blocking reads.
final class Inotify {
    // <sys/inotify.h>; spelled here because Swift imports some as enum cases of another type.
    static let create: UInt32 = 0x100, delete: UInt32 = 0x200, deleteSelf: UInt32 = 0x400
    static let movedFrom: UInt32 = 0x40, movedTo: UInt32 = 0x80, closeWrite: UInt32 = 0x8, moveSelf: UInt32 = 0x800
    static let overflow: UInt32 = 0x4000, ignored: UInt32 = 0x8000, isDir: UInt32 = 0x4000_0000
    static let onlyDir: UInt32 = 0x0100_0000, dontFollow: UInt32 = 0x0200_0000

    struct Event {
        var wd: Int32
        var mask: UInt32
        var name: String
    }

    let fd: Int32

    init() throws(InotifyError) {
        fd = inotify_init1(Int32(O_NONBLOCK | O_CLOEXEC))
        guard fd >= 0 else { throw InotifyError(operation: "inotify_init1", errno: errno) }
    }

    deinit { close(fd) }

    /// Watches a folder (not through a symlink); the watch descriptor, or the errno.
    func watch(_ path: String, _ mask: UInt32) -> Result<Int32, InotifyError> {
        let wd = inotify_add_watch(fd, path, mask | Self.onlyDir | Self.dontFollow)
        return wd >= 0 ? .success(wd) : .failure(InotifyError(operation: "inotify_add_watch \(path)", errno: errno))
    }

    func unwatch(_ wd: Int32) { _ = inotify_rm_watch(fd, wd) }

    /// Every event queued now (none when nothing is queued).
    func drain() -> [Event] {
        var out = [Event]()
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            var offset = 0
            while offset + 16 <= n {
                let wd = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int32.self) }
                let mask = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self) }
                let len = Int(buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self) })
                let raw = buffer[(offset + 16)..<min(n, offset + 16 + len)]
                let name = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                out.append(Event(wd: wd, mask: mask, name: name))
                offset += 16 + len
            }
        }
        return out
    }
}

struct InotifyError: Error, CustomStringConvertible {
    var operation: String
    var errno: Int32
    var description: String { "\(operation): \(String(cString: strerror(errno)))" }
}
#endif
