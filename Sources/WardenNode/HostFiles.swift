#if os(Linux)
import Glibc
import WardenCore
import WardenJSON

/// Files under the host root, each change logged and recorded in the install's ledger
/// (`/etc/seccomp-warden/node-install.ledger`) so that `node uninstall` reverts exactly that.
public final class HostFiles {
    public let hostRoot: String
    /// One line per change, printed as it happens.
    public private(set) var log: [String] = []
    var ledger: [Entry]
    static let ledgerPath = "/etc/seccomp-warden/node-install.ledger"

    /// What install did to one path, so uninstall can undo it; `digest`: of what install last wrote there.
    struct Entry {
        enum Kind: String { case created, replaced }
        var kind: Kind
        var path: String
        var digest: String
    }

    func entry(_ path: String) -> Int? { ledger.firstIndex { $0.path == path } }

    /// FNV-1a, 64 bits: tells "still what install wrote" from "changed since" (not a security check).
    static func digest(_ bytes: [UInt8]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return String(h, radix: 16)
    }

    public init(hostRoot: String) throws(WardenError) {
        var root = hostRoot
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        guard root.hasPrefix("/"), FileIO.isDirectory(root) else { throw .input("--host-root: \(hostRoot) is not a folder") }
        self.hostRoot = root == "/" ? "" : root
        ledger = []
        if let bytes = try? FileIO.readFile(self.hostRoot + Self.ledgerPath, followSymlinks: false) {
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                let parts = line.split(separator: " ", maxSplits: 2)
                if parts.count == 3, let kind = Entry.Kind(rawValue: String(parts[0])) {
                    ledger.append(Entry(kind: kind, path: String(parts[2]), digest: String(parts[1])))
                }
            }
        }
    }

    public func host(_ path: String) -> String { hostRoot + path }

    /// Refuses a path (host view) whose folders under the host root, or itself unless `last` is
    /// false, are symlinks: a write through one lands outside --host-root (or replaces the link an
    /// admin made, and uninstall would then delete their file). Missing components are fine.
    public func refuseSymlinks(_ path: String, last: Bool = true) throws(WardenError) {
        var current = hostRoot
        let parts = path.split(separator: "/")
        guard path.hasPrefix("/"), !parts.contains("..") else {
            throw .input("\(path) is not a path under \(hostRoot.isEmpty ? "/" : hostRoot) (a ledger entry someone edited?): not touching it")
        }
        for (i, part) in parts.enumerated() {
            current += "/" + part
            var st = stat()
            guard lstat(current, &st) == 0 else {
                if errno == ENOENT { return }
                throw .system("cannot stat \(current): \(errnoText(errno))")
            }
            if i == parts.count - 1 && !last { return }
            if st.st_mode & S_IFMT == S_IFLNK {
                throw .input("\(current) is a symlink: node install never writes through one (it would write outside \(hostRoot.isEmpty ? "/" : hostRoot) or replace the link); nothing changed")
            }
        }
    }

    func note(_ line: String) {
        log.append(line)
        let text = "node: \(line)\n"
        _ = text.withCString { write(1, $0, strlen($0)) }
    }

    public func read(_ path: String) -> [UInt8]? { try? FileIO.readFile(host(path), followSymlinks: false, cap: 256 << 20) }

    /// Puts `bytes` at `path` (host view) unless it holds them already; the first time a file that
    /// existed is changed, its original is kept as PATH.seccomp-warden-orig. Returns whether it changed.
    @discardableResult
    public func put(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(WardenError) -> Bool {
        try refuseSymlinks(path)
        try refuseSymlinks(path + ".seccomp-warden-orig")
        let existing = read(path)
        if existing == bytes { return false }
        try makeFolders(FileIO.dirname(of: path))
        if entry(path) == nil {
            if let existing {
                try writeAtomically(path + ".seccomp-warden-orig", existing, mode: mode)
                note("kept the original of \(path) as \(path).seccomp-warden-orig")
            }
            ledger.append(Entry(kind: existing == nil ? .created : .replaced, path: path, digest: ""))
        }
        ledger[entry(path)!].digest = Self.digest(bytes)
        try saveLedger()
        try writeAtomically(path, bytes, mode: mode)
        note("\(existing == nil ? "wrote" : "updated") \(path)")
        return true
    }

    /// A symlink at `path` to `target` (relative), unless it is one already.
    public func link(_ path: String, to target: String) throws(WardenError) {
        try refuseSymlinks(path, last: false)
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(host(path), &buffer, buffer.count - 1)
        if n >= 0 && String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) == target { return }
        var st = stat()
        if lstat(host(path), &st) == 0 { throw .input("\(host(path)) exists and is not the link to \(target) seccomp-warden would make: not replacing it") }
        try makeFolders(FileIO.dirname(of: path))
        guard symlink(target, host(path)) == 0 else { throw .system("symlink \(host(path)): \(errnoText(errno))") }
        if entry(path) == nil { try record(Entry(kind: .created, path: path, digest: "link")) }
        note("linked \(path) -> \(target)")
    }

    /// Undoes every recorded change, newest first: created files go, replaced ones get their original
    /// back. A file changed since install wrote it is left alone (an error names it), as is the rest.
    public func revert() throws(WardenError) -> [String] {
        var changed = [String]()
        for e in ledger.reversed() {
            let p = host(e.path)
            try refuseSymlinks(e.path, last: e.digest != "link")
            var st = stat()
            let present = lstat(p, &st) == 0
            if present && e.digest != "link" && Self.digest(read(e.path) ?? []) != e.digest {
                throw .input("\(p) changed since node install wrote it: not touching it (node uninstall stopped here; nothing after it in the ledger was reverted)")
            }
            switch e.kind {
            case .created:
                if present {
                    guard unlink(p) == 0 else { throw .system("unlink \(p): \(errnoText(errno))") }
                    note("removed \(e.path)")
                    changed.append(e.path)
                }
            case .replaced:
                guard let original = read(e.path + ".seccomp-warden-orig") else {
                    throw .input("\(p).seccomp-warden-orig is missing: cannot give \(p) its original back")
                }
                try writeAtomically(e.path, original, mode: st.st_mode & 0o7777 == 0 ? 0o644 : st.st_mode & 0o7777)
                _ = unlink(p + ".seccomp-warden-orig")
                note("restored \(e.path) (byte for byte)")
                changed.append(e.path)
            }
            ledger.removeAll { $0.path == e.path }
            try saveLedger()
        }
        if ledger.isEmpty { _ = unlink(host(Self.ledgerPath)) }
        return changed
    }

    func record(_ entry: Entry) throws(WardenError) {
        ledger.append(entry)
        try saveLedger()
    }

    func saveLedger() throws(WardenError) {
        try refuseSymlinks(Self.ledgerPath)
        let text = ledger.map { "\($0.kind.rawValue) \($0.digest) \($0.path)\n" }.joined()
        try makeFolders(FileIO.dirname(of: Self.ledgerPath))
        try writeAtomically(Self.ledgerPath, Array(text.utf8), mode: 0o600)
    }

    func makeFolders(_ path: String) throws(WardenError) {
        var current = hostRoot
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST { throw .system("mkdir \(current): \(errnoText(errno))") }
        }
    }

    /// Temp file in the same folder, fsync, rename: an engine reading meanwhile sees the old or the new file.
    func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t) throws(WardenError) {
        let target = host(path)
        let temp = target + ".seccomp-warden-new"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .system("cannot write \(temp): \(errnoText(errno))") }
        do {
            try FileIO.writeAll(fd: fd, bytes, name: temp)
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
        fchmod(fd, mode)
        fsync(fd)
        close(fd)
        guard rename(temp, target) == 0 else {
            let e = errno
            unlink(temp)
            throw .system("rename \(temp) -> \(target): \(errnoText(e))")
        }
    }
}
#endif
