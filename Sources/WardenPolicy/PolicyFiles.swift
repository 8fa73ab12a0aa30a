import WardenCore
import WardenJSON

/// One file a policy was made of: the policy itself, or a profile it names (`inject`, `deny`).
public struct PolicyFile: Equatable, Sendable {
    /// What the file is to the policy: `policy`, `inject`, `deny[N]`.
    public var role: String
    /// Where it was read (physical: no symlinks; relative names resolved).
    public var path: String
    /// FNV-1a of its bytes.
    public var digest: String
}

/// Reads a policy and every file it names the same way: each opened once through its folder's
/// descriptor (`Folder`), `fstat` on the descriptor read; with `Writers.root` each file owned by
/// root and writable by no one else, in a folder with the same property, every folder above them
/// changeable by root only. A name relative to the policy is read from the policy file's folder.
final class PolicyFileReader {
    let writers: Writers
    /// The policy file's folder, once it was read: relative names are resolved from it.
    var base: Folder?
    var files: [PolicyFile] = []

    init(writers: Writers) { self.writers = writers }

    /// The digest of the whole policy: FNV-1a of a line `ROLE DIGEST` per file, in the order read.
    var digest: String {
        fnv1aHex(Array(files.map { "\($0.role) \($0.digest)\n" }.joined().utf8))
    }

    /// Reads `path` (the policy when `role` is `policy`, which then becomes the base for relative names).
    func read(_ path: String, role: String) throws(WardenError) -> [UInt8] {
        // A relative name is the policy folder's (the folder the policy file really is in).
        let full = path.hasPrefix("/") ? path : base.map { ($0.path == "/" ? "" : $0.path) + "/" + path } ?? path
        do {
            let (folder, entry) = try Folder.locate(full, writers: writers, final: .file)
            let name = entry ?? "."
            let contents = try folder.read(name, shown: full)
            if role == "policy" { base = folder }
            files.append(PolicyFile(role: role, path: folder.path == "/" ? "/" + name : folder.path + "/" + name,
                                    digest: fnv1aHex(contents.bytes)))
            return contents.bytes
        } catch {
            // A policy that is not root's is a bad policy: exit 2, as every other policy error.
            var e = error
            if e.kind == .refused { e.kind = .input }
            throw e
        }
    }

    func document(_ path: String, role: String) throws(WardenError) -> JSONDocument {
        try JSONDocument(bytes: try read(path, role: role), name: path)
    }
}
