import WardenCore
import WardenJSON

extension Policy {
    /// A policy from bytes already in memory (fuzzing, tests); the file checks of `load(file:)` do not apply.
    public static func parse(bytes: [UInt8], name: String) throws(WardenError) -> Policy {
        let doc = try JSONDocument(bytes: bytes, name: name)
        // The digest covers the files it names too (the verdict cache keys on it).
        let files = PolicyFileReader(writers: .anyone)
        do {
            var policy = try Policy(node: doc.root, source: name, digest: "", files: files)
            policy.files = files.files
            policy.digest = fnv1a(bytes) + (files.files.isEmpty ? "" : " " + files.digest)
            return policy
        } catch { throw error.inFile(name) }
    }
}
