import WardenCore
import WardenJSON
#if canImport(Glibc)
import Glibc
#endif

/// Finding and loading a bundle's config.json.
public enum Bundle {
    /// A config.json read through its folder's descriptor: the folder was opened once (checked on the
    /// way, see `Folder`), and every later read, write and rename happens relative to it.
    public final class Opened {
        public let folder: Folder
        /// The entry name in the folder (`config.json`, or the file `apply` was given).
        public let name: String
        /// The path as given, for messages and the audit log: `<bundle>/config.json`.
        public let file: String
        public let config: OCIConfig
        /// `fstat` of the descriptor the config was read from.
        public let stat: stat
        /// FNV-1a of the bytes read.
        public let digest: String

        init(folder: Folder, name: String, file: String, contents: Folder.Contents) throws(WardenError) {
            self.folder = folder
            self.name = name
            self.file = file
            self.stat = contents.stat
            self.digest = fnv1aHex(contents.bytes)
            config = try OCIConfig(bytes: contents.bytes, name: file)
        }

        /// Replaces the config atomically through the folder (random temporary name, renameat), then
        /// proves the name leads to exactly `bytes`. Returns their digest.
        @discardableResult
        public func replace(with bytes: [UInt8]) throws(WardenError) -> String {
            try folder.replace(name, shown: file, with: bytes, like: stat)
            return fnv1aHex(bytes)
        }
    }

    /// Opens PATH (a bundle folder, or a config.json file) for reading and, with `Writers.root` or
    /// `.rootAndSelf`, for deciding: a bundle whose folder, config.json or any folder above them
    /// someone untrusted could change is refused (`WardenError.Kind.refused`). config.json itself is
    /// never read through a symlink; a FIFO or a device is refused without blocking.
    public static func open(_ path: String, writers: Writers) throws(WardenError) -> Opened {
        let (folder, name, file) = try locate(path, writers: writers)
        return try Opened(folder: folder, name: name, file: file, contents: try folder.read(name, shown: file))
    }

    /// config.json's bytes, read with `open`'s checks, and not parsed: for a reader whose verdict
    /// needs the config only now and then (`hook poststart`: jansson's parse of a tightened config
    /// is most of its instructions). `file` names it in errors.
    public static func read(_ path: String, writers: Writers) throws(WardenError) -> (file: String, bytes: [UInt8]) {
        let (folder, name, file) = try locate(path, writers: writers)
        return (file, try folder.read(name, shown: file).bytes)
    }

    /// Parses bytes `read` returned.
    public static func parse(_ bytes: [UInt8], file: String, members: ConfigMembers? = nil) throws(WardenError) -> OCIConfig {
        try OCIConfig(bytes: bytes, name: file, members: members)
    }

    private static func locate(_ path: String, writers: Writers) throws(WardenError) -> (Folder, name: String, file: String) {
        let (folder, entry) = try Folder.locate(path, writers: writers, final: .folderOrFile)
        let name = entry ?? "config.json"
        let file = entry == nil ? (path.hasSuffix("/") ? path : path + "/") + "config.json" : path
        if entry == nil {
            var st = stat()
            if fstatat(folder.fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT {
                throw .input("bundle folder has no config.json", file: path)
            }
        }
        return (folder, name, file)
    }

    /// Reads config.json for offline use (`check`, `explain`, `verify`): no ownership checks, but never
    /// through a symlink, and a FIFO or device is refused without blocking.
    public static func loadConfig(_ path: String) throws(WardenError) -> OCIConfig {
        try open(path, writers: .anyone).config
    }

    /// PATH is a bundle folder or a config.json file.
    public static func configPath(_ path: String) throws(WardenError) -> String {
        guard FileIO.exists(path) else { throw .input("no such file or directory", file: path) }
        if FileIO.isDirectory(path) {
            let config = (path.hasSuffix("/") ? path : path + "/") + "config.json"
            guard FileIO.exists(config) else { throw .input("bundle folder has no config.json", file: path) }
            return config
        }
        return path
    }
}
