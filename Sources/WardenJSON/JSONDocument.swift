import WardenCore
import CJansson

/// A parsed JSON document held by jansson, which keeps object keys in their original order.
/// Everything outside the subtree we replace is written back as it came in.
public final class JSONDocument {
    public let name: String
    public private(set) var root: JSONNode

    /// Parses `bytes`; `name` is the file (or `<stdin>`) errors will name.
    public init(bytes: [UInt8], name: String) throws(WardenError) {
        self.name = name
        var err = json_error_t()
        // Duplicate keys are rejected: runc and Go would silently keep the last one.
        let raw = bytes.withUnsafeBufferPointer { buf in
            json_loadb(buf.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) },
                       buf.count, Int(JSON_REJECT_DUPLICATES), &err)
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

    deinit { json_decref(root.raw) }

    /// Sets `key` of the object at `parentPath` (creating nothing: the parent must exist), or removes it with nil.
    public func set(_ value: JSON?, at parent: JSONNode, key: String) {
        precondition(parent.kind == .object)
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

    public enum Style { case compact, indented }

    public func serialized(_ style: Style = .indented) -> [UInt8] {
        root.serialized(style)
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
        let size = json_dumpb(raw, nil, 0, flags)
        var out = [UInt8](repeating: 0, count: size)
        _ = out.withUnsafeMutableBufferPointer { buf in
            json_dumpb(raw, UnsafeMutableRawPointer(buf.baseAddress!).assumingMemoryBound(to: CChar.self), size, flags)
        }
        if style == .indented { out.append(10) }
        return out
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
