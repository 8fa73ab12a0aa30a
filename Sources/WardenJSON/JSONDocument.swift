import WardenCore
import CJansson
#if canImport(Glibc)
import Glibc
#endif

/// A parsed JSON document held by jansson, which keeps object keys in their original order.
/// Everything outside the subtree we replace is written back as it came in.
public final class JSONDocument {
    public let name: String
    public private(set) var root: JSONNode

    /// Parses `bytes`; `name` is the file (or `<stdin>`) errors will name.
    /// `allowingNUL`: a string may hold `\u0000` (a runtime's own state: runc copies a container's
    /// annotations, which Go's JSON allows NUL in, into its state's labels; refused, one annotation hid
    /// the container from `verify`). A config is read as the hooks read it: NUL refused.
    public init(bytes: [UInt8], name: String, allowingNUL: Bool = false) throws(WardenError) {
        self.name = name
        var err = json_error_t()
        // Duplicate keys are rejected: runc and Go would silently keep the last one.
        let flags = Int(JSON_REJECT_DUPLICATES) | (allowingNUL ? Int(JSON_ALLOW_NUL) : 0)
        let raw = bytes.withUnsafeBufferPointer { buf in
            json_loadb(buf.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) },
                       buf.count, flags, &err)
        }
        guard let raw else {
            let text = withUnsafeBytes(of: &err.text) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let message: String
            if bytes.isEmpty { message = "empty input, expected a JSON object" }
            else if text.contains("too big") { message = "\(text) (integers must fit in 64 bits, signed)" }
            else if text.contains("maximum parsing depth") { message = "\(text): nesting deeper than \(Self.maxDepth) levels" }
            else { message = text }
            throw WardenError(.input, file: name, location: (Int(err.line), Int(err.column)), "invalid JSON: \(message)")
        }
        root = JSONNode(raw: raw, path: .root)
        guard root.kind == .object else {
            json_decref(raw)
            throw .input("expected a JSON object at the top level", file: name)
        }
    }

    /// jansson's own parser limit (JSON_PARSER_MAX_DEPTH); deeper input is an error, never a crash.
    public static let maxDepth = 2048

    public convenience init(contentsOf path: String, followSymlinks: Bool = true) throws(WardenError) {
        try self.init(bytes: FileIO.readFile(path, followSymlinks: followSymlinks), name: path)
    }

    deinit { if !JSONDocument.keptUntilExit { json_decref(root.raw) } }

    /// Set by a short-lived process (a hook, the wrapper) that exits or execs right after its decision:
    /// documents are then not freed node by node (a tenth of a warm hook), the process's end frees them.
    nonisolated(unsafe) public static var keptUntilExit = false

    /// Sets `key` of the object at `parentPath` (creating nothing: the parent must exist), or removes it with nil.
    public func set(_ value: JSON?, at parent: JSONNode, key: String) {
        precondition(parent.kind == .object)
        // Kept until exit: the value replaced is not freed node by node either (a profile: 0.1 M instructions).
        if JSONDocument.keptUntilExit, let old = json_object_get(parent.raw, key) { json_incref(old) }
        if let value {
            json_object_set_new(parent.raw, key, value.makeRaw())
        } else {
            json_object_del(parent.raw, key)
        }
    }

    /// Sets `key` on `parent` to an existing node (shared, reference counted).
    public func set(node: JSONNode, at parent: JSONNode, key: String) {
        json_object_set(parent.raw, key, node.raw)
    }

    /// Returns the object at `key` of `parent`, creating an empty one when absent.
    public func object(at parent: JSONNode, key: String) -> JSONNode {
        if let existing = parent[key], existing.kind == .object { return existing }
        json_object_set_new(parent.raw, key, json_object())
        return parent[key]!
    }

    /// Sets `key` on `parent` to a deep copy of `node` (from any document): writing into the copy
    /// leaves the original as it was.
    public func set(copyOf node: JSONNode, at parent: JSONNode, key: String) {
        json_object_set_new(parent.raw, key, json_deep_copy(node.raw))
    }

    public enum Style { case compact, indented }

    /// The compact text of the document with `key` of `parent` set to `text` (the compact JSON of one
    /// value), spliced in as it is, not parsed: what `set` then `serialized(.compact)` would give for
    /// that value. The key holds a placeholder afterwards. nil when the placeholder could not be found
    /// exactly once (then parse `text` and set it instead).
    /// `nonce`: the placeholder (tests choose it).
    public func compactSplicing(_ text: [UInt8], at parent: JSONNode, key: String,
                                nonce: Int64 = Int64.random(in: (1 << 62)...Int64.max)) -> [UInt8]? {
        // A random 19-digit number no input can know in advance: found once, it is our placeholder.
        set(.int(nonce), at: parent, key: key)
        let out = serialized(.compact)
        // The key as jansson writes it, `"seccomp":`, cut from a one-key object: jansson writes no bare
        // string (JSON.string(key).serialized is empty), which left the needle a bare `:N`.
        let keyText = Array(JSON.object([(key, .null)]).serialized(.compact).dropFirst().dropLast(5))  // {…null}
        let needle = keyText + Array(String(nonce).utf8)
        // Every place the needle occurs (the output is small once the value is a number).
        var found = [Int]()
        out.withUnsafeBufferPointer { o in
            needle.withUnsafeBufferPointer { n in
                var i = 0
                while i + n.count <= o.count && found.count < 2 {
                    if o[i] == n[0] && memcmp(o.baseAddress! + i, n.baseAddress!, n.count) == 0 { found.append(i) }
                    i += 1
                }
            }
        }
        guard found.count == 1 else { return nil }
        let at = found[0]
        let end = at + needle.count
        guard end < out.count, out[end] == UInt8(ascii: ",") || out[end] == UInt8(ascii: "}") else { return nil }
        return Array(out[..<(at + keyText.count)]) + text + Array(out[end...])
    }

    public func serialized(_ style: Style = .indented) -> [UInt8] {
        root.serialized(style)
    }

    /// Where config.json (`bytes`) holds annotations, linux.seccomp and process.capabilities.bounding,
    /// each nil when absent, found by `sw_config_index` without building a tree; nil when only jansson
    /// can tell (then parse it: what `sw_config_index` vouches for, jansson reads as the same tree).
    public static func configMembers(_ bytes: [UInt8]) -> (Range<Int>?, Range<Int>?, Range<Int>?)? {
        guard !bytes.isEmpty else { return nil }
        var out = (-1, -1, -1, -1, -1, -1)
        let status = bytes.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { c in
                withUnsafeMutableBytes(of: &out) { o in
                    sw_config_index(c.baseAddress!, c.count, o.baseAddress!.assumingMemoryBound(to: Int.self))
                }
            }
        }
        guard status == 0 else { return nil }
        func range(_ s: Int, _ e: Int) -> Range<Int>? { s >= 0 && e >= s && e <= bytes.count ? s..<e : nil }
        return (range(out.0, out.1), range(out.2, out.3), range(out.4, out.5))
    }

    /// Where runc's state.json (`bytes`) holds init_process_pid, init_process_start, cgroup_paths and
    /// config.labels, each nil when absent, found without parsing the rest (`sw_runc_state_members`);
    /// nil when that cannot be told without a full parse.
    /// (A tuple, not an array of optional ranges: that array's type is built at run time, 0.2 M instructions.)
    public static func runcStateMembers(_ bytes: [UInt8]) -> (Range<Int>?, Range<Int>?, Range<Int>?, Range<Int>?)? {
        var vs = (-1, -1, -1, -1), ve = (-1, -1, -1, -1)
        let status = bytes.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { c in
                withUnsafeMutableBytes(of: &vs) { v in
                    withUnsafeMutableBytes(of: &ve) { e in
                        sw_runc_state_members(c.baseAddress, c.count, v.baseAddress!.assumingMemoryBound(to: Int.self),
                                              e.baseAddress!.assumingMemoryBound(to: Int.self))
                    }
                }
            }
        }
        guard status == 0 else { return nil }
        func range(_ s: Int, _ e: Int) -> Range<Int>? { s >= 0 && e >= s && e <= bytes.count ? s..<e : nil }
        return (range(vs.0, ve.0), range(vs.1, ve.1), range(vs.2, ve.2), range(vs.3, ve.3))
    }
}

/// A read-only view of one value in a jansson tree, with the path that reached it.
public struct JSONNode {
    public enum Kind: Equatable { case object, array, string, integer, real, bool, null }

    public let raw: UnsafeMutablePointer<json_t>
    public let path: JSONPath

    init(raw: UnsafeMutablePointer<json_t>, path: JSONPath) {
        self.raw = raw
        self.path = path
    }

    public var kind: Kind {
        switch raw.pointee.type {
        case JSON_OBJECT: .object
        case JSON_ARRAY: .array
        case JSON_STRING: .string
        case JSON_INTEGER: .integer
        case JSON_REAL: .real
        case JSON_TRUE, JSON_FALSE: .bool
        default: .null
        }
    }

    public var kindName: String {
        switch kind {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .integer: "an integer"
        case .real: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }

    public subscript(key: String) -> JSONNode? {
        guard kind == .object, let child = json_object_get(raw, key) else { return nil }
        return JSONNode(raw: child, path: path / key)
    }

    public var keys: [String] {
        guard kind == .object else { return [] }
        var out = [String]()
        var iter = json_object_iter(raw)
        while let it = iter {
            out.append(String(cString: json_object_iter_key(it)))
            iter = json_object_iter_next(raw, it)
        }
        return out
    }

    public var entries: [(key: String, value: JSONNode)] {
        guard kind == .object else { return [] }
        var out = [(key: String, value: JSONNode)]()
        var iter = json_object_iter(raw)
        while let it = iter {
            let key = String(cString: json_object_iter_key(it))
            out.append((key, JSONNode(raw: json_object_iter_value(it), path: path / key)))
            iter = json_object_iter_next(raw, it)
        }
        return out
    }

    public var elements: [JSONNode] {
        guard kind == .array else { return [] }
        return (0..<json_array_size(raw)).map { JSONNode(raw: json_array_get(raw, $0), path: path / $0) }
    }

    public var string: String? {
        guard kind == .string else { return nil }
        let bytes = UnsafeRawBufferPointer(start: json_string_value(raw), count: json_string_length(raw))
        return String(decoding: bytes, as: UTF8.self)
    }

    public var int64: Int64? { kind == .integer ? Int64(json_integer_value(raw)) : nil }
    public var bool: Bool? { kind == .bool ? raw.pointee.type == JSON_TRUE : nil }
    public var isNull: Bool { kind == .null }

    /// A deep copy as a Swift value, for carrying subtrees into new documents.
    public var value: JSON {
        switch kind {
        case .object: .object(entries.map { ($0.key, $0.value.value) })
        case .array: .array(elements.map(\.value))
        case .string: .string(string!)
        case .integer: .int(int64!)
        case .real: .real(json_real_value(raw))
        case .bool: .bool(bool!)
        case .null: .null
        }
    }

    public func serialized(_ style: JSONDocument.Style = .indented) -> [UInt8] {
        let flags: Int = style == .indented ? 2 /* JSON_INDENT(2) */ : Int(JSON_COMPACT)
        // One pass (json_dumpb would need two: one for the size, one to write). jansson escapes NUL,
        // so the text ends at its first zero byte.
        guard let text = json_dumps(raw, flags) else { return [] }
        defer { free(text) }
        var out = Array(UnsafeRawBufferPointer(start: text, count: strlen(text)))
        if style == .indented { out.append(10) }
        return out
    }

    /// The node's exact form (CJansson's `sw_json_form_append`): type letters, lengths and raw bytes,
    /// the same for two nodes only when they are the same tree in the same key order. For cache keys:
    /// far cheaper than `serialized`, which escapes and formats every string.
    /// nil when memory ran out (then nothing may be cached).
    public var exactForm: [UInt8]? {
        var form = sw_json_form(data: nil, len: 0, cap: 0)
        defer { free(form.data) }
        guard sw_json_form_append(&form, raw) == 0, let data = form.data else { return nil }
        return Array(UnsafeRawBufferPointer(start: data, count: form.len))
    }
}

/// A JSON value built in Swift, with object keys in the order given.
public indirect enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case real(Double)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    public static func == (lhs: JSON, rhs: JSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case let (.bool(a), .bool(b)): a == b
        case let (.int(a), .int(b)): a == b
        case let (.real(a), .real(b)): a == b
        case let (.string(a), .string(b)): a == b
        case let (.array(a), .array(b)): a == b
        case let (.object(a), .object(b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    /// A new jansson value with one reference, owned by the caller.
    public func makeRaw() -> UnsafeMutablePointer<json_t> {
        switch self {
        case .null: return json_null()
        case .bool(let b): return b ? json_true() : json_false()
        case .int(let i): return json_integer(json_int_t(i))
        case .real(let d): return json_real(d)
        case .string(let s):
            return s.withCString { json_stringn_nocheck($0, s.utf8.count) }
        case .array(let items):
            let a = json_array()!
            for item in items { json_array_append_new(a, item.makeRaw()) }
            return a
        case .object(let entries):
            let o = json_object()!
            for (k, v) in entries { json_object_set_new_nocheck(o, k, v.makeRaw()) }
            return o
        }
    }

    /// Serializes through jansson.
    public func serialized(_ style: JSONDocument.Style = .indented) -> [UInt8] {
        let raw = makeRaw()
        defer { json_decref(raw) }
        return JSONNode(raw: raw, path: .root).serialized(style)
    }

    public subscript(key: String) -> JSON? {
        if case .object(let entries) = self { return entries.first { $0.0 == key }?.1 }
        return nil
    }
}
