/// A location in a JSON document, printed as `linux.seccomp.syscalls[3].args[0].value`.
public struct JSONPath: CustomStringConvertible, Hashable, Sendable {
    public enum Component: Hashable, Sendable {
        case key(String)
        case index(Int)
    }

    public var components: [Component]

    public init(_ components: [Component] = []) { self.components = components }

    public static let root = JSONPath()

    public var isRoot: Bool { components.isEmpty }

    public func appending(_ key: String) -> JSONPath { JSONPath(components + [.key(key)]) }
    public func appending(_ index: Int) -> JSONPath { JSONPath(components + [.index(index)]) }
    public static func / (lhs: JSONPath, key: String) -> JSONPath { lhs.appending(key) }
    public static func / (lhs: JSONPath, index: Int) -> JSONPath { lhs.appending(index) }

    public var description: String {
        if components.isEmpty { return "(root)" }
        var out = ""
        for component in components {
            switch component {
            case .index(let i): out += "[\(i)]"
            case .key(let k):
                if Self.isPlain(k) {
                    if !out.isEmpty { out += "." }
                    out += k
                } else {
                    out += "[\"" + k.replacingAll("\"", with: "\\\"") + "\"]"
                }
            }
        }
        return out
    }

    private static func isPlain(_ key: String) -> Bool {
        guard let first = key.utf8.first, !(48...57).contains(first) else { return false }
        return key.utf8.allSatisfy { c in
            (65...90).contains(c) || (97...122).contains(c) || (48...57).contains(c) || c == 95
        }
    }
}

extension String {
    /// Foundation-free replace, for the few places that need it.
    public func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for ch in self { if ch == target { out += replacement } else { out.append(ch) } }
        return out
    }
}
