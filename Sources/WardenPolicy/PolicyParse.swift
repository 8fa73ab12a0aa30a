import WardenCore
import WardenJSON

extension Policy {
    /// A policy from bytes already in memory (fuzzing, tests); the file checks of `load(file:)` do not apply.
    public static func parse(bytes: [UInt8], name: String) throws(WardenError) -> Policy {
        let doc = try JSONDocument(bytes: bytes, name: name)
        do { return try Policy(node: doc.root, source: name, digest: fnv1a(bytes)) } catch { throw error.inFile(name) }
    }
}
