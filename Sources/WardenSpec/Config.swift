import WardenCore
import WardenJSON

/// A bundle's config.json: the lossless document plus typed reads of the parts we use.
public struct OCIConfig {
    public let document: JSONDocument
    /// The bytes the document was parsed from, with where its cache-key members are; nil when not
    /// known. They describe the document as read: the verdict cache keys on them before any change.
    public let members: ConfigMembers?

    public init(document: JSONDocument, members: ConfigMembers? = nil) {
        self.document = document
        self.members = members
    }

    /// Parses `bytes` (`name` for errors), with their members when `ConfigMembers` can tell them.
    public init(bytes: [UInt8], name: String, members: ConfigMembers? = nil) throws(WardenError) {
        self.init(document: try JSONDocument(bytes: bytes, name: name), members: members ?? ConfigMembers(bytes))
    }

    public var name: String { document.name }

    /// `linux.seccomp`, nil when the container asked for none.
    public func seccomp() throws(WardenError) -> LinuxSeccomp? {
        do {
            try checkSeccompKeys()
            guard let linux = document.root["linux"], !linux.isNull else { return nil }
            _ = try linux.expectObject()
            guard let node = linux["seccomp"], !node.isNull else { return nil }
            return try LinuxSeccomp(node: node)
        } catch {
            throw error.inFile(name)
        }
    }

    /// Replaces `linux.seccomp`, leaving every other key and its order unchanged.
    public func setSeccomp(_ profile: LinuxSeccomp) {
        let linux = document.object(at: document.root, key: "linux")
        profile.write(into: document, parent: linux)
    }

    /// The compact text of `linux.seccomp` once `profile` is written over this config's section
    /// (`setSeccomp`), this config left as it is. The verdict cache keeps it for writers to splice.
    public func writtenSeccompText(_ profile: LinuxSeccomp) -> [UInt8] {
        // Only the section: a scratch document holding a copy of it (keys are set in place).
        guard let scratch = try? JSONDocument(bytes: Array("{}".utf8), name: "<seccomp>") else { return [] }
        if let existing = document.root["linux"]?["seccomp"], existing.kind == .object {
            scratch.set(copyOf: existing, at: scratch.root, key: "seccomp")
        }
        profile.write(into: scratch, parent: scratch.root)
        return scratch.root["seccomp"]?.serialized(.compact) ?? []
    }

    /// The whole config, compact, with `linux.seccomp` as `text` (`writtenSeccompText` of this very
    /// section): spliced in without parsing it; if that cannot be done, parsed and set. nil when
    /// `text` is not JSON. The document holds a placeholder in `linux.seccomp` afterwards.
    public func compactWritingSeccomp(_ text: [UInt8]) -> [UInt8]? {
        let linux = document.object(at: document.root, key: "linux")
        if let out = document.compactSplicing(text, at: linux, key: "seccomp") { return out }
        guard let parsed = try? JSONDocument(bytes: text, name: "<seccomp>") else { return nil }
        document.set(copyOf: parsed.root, at: linux, key: "seccomp")
        return withExtendedLifetime(parsed) { document.serialized(.compact) }
    }

    /// Refuses keys on the way to `linux.seccomp` and `process.capabilities.bounding` that runc would read
    /// as them ("Linux", "SECCOMP", "Process": Go's JSON ignores case, the last match wins) while crun and this reader do not. The
    /// verdict cache keys on the seccomp section alone, so this runs before it is consulted.
    public func checkSeccompKeys() throws(WardenError) {
        do {
            try document.root.rejectCaseVariants(of: ["linux", "process"])
            if let linux = document.root["linux"] { try linux.rejectCaseVariants(of: ["seccomp"]) }
            // The bounding set a Docker-format deny set or inject profile is converted for.
            if let process = document.root["process"] {
                try process.rejectCaseVariants(of: ["capabilities"])
                if let caps = process["capabilities"] { try caps.rejectCaseVariants(of: ["bounding"]) }
            }
        } catch {
            throw error.inFile(name)
        }
    }

    /// `annotations`, or empty.
    public func annotations() throws(WardenError) -> [(String, String)] {
        guard let node = document.root["annotations"], !node.isNull else { return [] }
        do {
            _ = try node.expectObject()
            var out = [(String, String)]()
            for (k, v) in node.entries { out.append((k, try v.expectString())) }
            return out
        } catch {
            throw error.inFile(name)
        }
    }

    /// `process.noNewPrivileges` (false when absent).
    public var noNewPrivileges: Bool {
        document.root["process"]?["noNewPrivileges"]?.bool ?? false
    }

    /// `process.capabilities.bounding`, or nil when the config names none.
    public var boundingCapabilities: [String]? {
        guard let list = document.root["process"]?["capabilities"]?["bounding"], list.kind == .array else { return nil }
        return list.elements.compactMap(\.string)
    }
}

/// config.json's bytes and where the members a verdict-cache hit needs are (`JSONDocument.configMembers`):
/// a warm gate answers from these without parsing the whole config (issue 14), and every reader of
/// the same bytes keys the cache on them the same way.
public struct ConfigMembers {
    public let bytes: [UInt8]
    let annotationsRange: Range<Int>?
    let seccompRange: Range<Int>?
    let boundingRange: Range<Int>?

    /// nil when only a full parse can tell (`sw_config_index`'s limits, or the document is not JSON).
    public init?(_ bytes: [UInt8]) {
        guard let (a, s, b) = JSONDocument.configMembers(bytes) else { return nil }
        self.bytes = bytes
        annotationsRange = a
        seccompRange = s
        boundingRange = b
    }

    /// `linux.seccomp` as written, or `null` when absent.
    public var seccompText: ArraySlice<UInt8> { seccompRange.map { bytes[$0] } ?? ArraySlice("null".utf8) }
    /// `process.capabilities.bounding` as written, or `null` when absent.
    public var boundingText: ArraySlice<UInt8> { boundingRange.map { bytes[$0] } ?? ArraySlice("null".utf8) }

    /// `annotations` (empty when absent), as `OCIConfig.annotations` reads them; nil when that would be
    /// an error or anything but an object of strings (the caller then parses the config, for its error).
    public func annotations() -> [(String, String)]? {
        guard let range = annotationsRange else { return [] }
        guard bytes[range.lowerBound] == UInt8(ascii: "{"),
              let doc = try? JSONDocument(bytes: Array(bytes[range]), name: "<annotations>") else { return nil }
        return withExtendedLifetime(doc) { () -> [(String, String)]? in
            var out = [(String, String)]()
            for (k, v) in doc.root.entries {
                guard let s = v.string else { return nil }
                out.append((k, s))
            }
            return out
        }
    }
}

extension ConfigMembers {
    /// How `ConfigMembers(bytes)` disagrees with jansson's reading of the same bytes, or nil when it
    /// does not (the fuzzer's and the tests' check): found only in a document jansson reads, with each
    /// member's bytes the same value as jansson's member, and `checkSeccompKeys` passing.
    public static func disagreement(_ bytes: [UInt8]) -> String? {
        guard let m = ConfigMembers(bytes) else { return nil }
        guard let config = try? OCIConfig(bytes: bytes, name: "jansson") else { return "members found in a document jansson refuses" }
        if (try? config.checkSeccompKeys()) == nil { return "members found past a case variant jansson's reader refuses" }
        let root = config.document.root
        if let linux = root["linux"], linux.kind != .object && !linux.isNull { return "members found with a linux that is neither an object nor null" }
        let pairs: [(Range<Int>?, JSONNode?, String)] = [
            (m.annotationsRange, root["annotations"], "annotations"),
            (m.seccompRange, root["linux"]?["seccomp"], "linux.seccomp"),
            (m.boundingRange, root["process"]?["capabilities"]?["bounding"], "process.capabilities.bounding"),
        ]
        for (range, node, name) in pairs {
            switch (range, node) {
            case (nil, nil): continue
            case (let r?, let n?):
                // JSONDocument wants an object at the top: a member's value is read as one.
                guard let doc = try? JSONDocument(bytes: Array("{\"v\":".utf8) + bytes[r] + Array("}".utf8), name: name),
                      let v = doc.root["v"]?.value else { return "\(name): its bytes are not one JSON value" }
                if v != n.value { return "\(name): its bytes are another value than jansson's" }
            default: return "\(name): found by one reader only"
            }
        }
        return nil
    }
}

/// The OCI state a hook receives on stdin.
public struct OCIState: Sendable {
    public var ociVersion: String
    public var id: String
    public var status: String
    public var pid: Int32?
    public var bundle: String
    public var annotations: [(String, String)]

    public init(document: JSONDocument) throws(WardenError) {
        let root = document.root
        do throws(WardenError) {
            ociVersion = try root["ociVersion"]?.expectString() ?? ""
            guard let idNode = root["id"] else { throw WardenError.input("missing required field id", path: .root / "id") }
            id = try idNode.expectString(nonEmpty: true)
            status = try root["status"]?.expectString() ?? ""
            if let p = root["pid"], !p.isNull {
                let v = try p.expectUInt32(max: UInt32(Int32.max))
                pid = v == 0 ? nil : Int32(v)
            } else {
                pid = nil
            }
            guard let b = root["bundle"] else { throw WardenError.input("missing required field bundle", path: .root / "bundle") }
            bundle = try b.expectString(nonEmpty: true)
            guard bundle.hasPrefix("/") else { throw WardenError.input("must be an absolute path", path: b.path) }
            annotations = []
            if let a = root["annotations"], !a.isNull {
                _ = try a.expectObject()
                for (k, v) in a.entries { annotations.append((k, try v.expectString())) }
            }
        } catch {
            throw error.inFile(document.name)
        }
    }
}
