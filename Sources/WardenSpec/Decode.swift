import WardenCore
import WardenJSON

/// Typed reads from a JSON node, each failing with the node's path.
public extension JSONNode {
    func expectObject() throws(WardenError) -> JSONNode {
        guard kind == .object else { throw .input("must be an object, not \(kindName)", path: path) }
        return self
    }

    func expectArray() throws(WardenError) -> [JSONNode] {
        guard kind == .array else { throw .input("must be an array, not \(kindName)", path: path) }
        return elements
    }

    func expectString(nonEmpty: Bool = false) throws(WardenError) -> String {
        guard let s = string else { throw .input("must be a string, not \(kindName)", path: path) }
        if nonEmpty && s.isEmpty { throw .input("must not be empty", path: path) }
        if s.utf8.contains(0) { throw .input("must not contain a NUL byte", path: path) }
        return s
    }

    func expectUInt64() throws(WardenError) -> UInt64 {
        guard let i = int64 else { throw .input("must be an integer, not \(kindName)", path: path) }
        guard i >= 0 else { throw .input("must not be negative (\(i))", path: path) }
        return UInt64(i)
    }

    func expectUInt32(max: UInt32 = .max) throws(WardenError) -> UInt32 {
        let v = try expectUInt64()
        guard v <= UInt64(max) else { throw .input("\(v) is out of range (0...\(max))", path: path) }
        return UInt32(v)
    }

    func expectBool() throws(WardenError) -> Bool {
        guard let b = bool else { throw .input("must be true or false, not \(kindName)", path: path) }
        return b
    }

    /// Rejects a key that is not one of `known` but that runc would read as one: Go's encoding/json
    /// matches object keys to fields ignoring case (Unicode simple folding: `ſ` is `s`, `K` is `k`) and
    /// the last matching key wins, while crun and seccomp-warden match exactly. Such a key would be
    /// judged one way here and enforced another by runc.
    /// `known` is a short list, scanned: a Set<String>'s first use costs a hook 0.25 M instructions
    /// (the Swift runtime looks up String's Hashable conformance), more than the compares.
    func rejectCaseVariants(of known: [String]) throws(WardenError) {
        guard kind == .object else { return }
        for key in keys where !known.contains(key) {
            let folded = goFolded(key)
            if let match = known.first(where: { goFolded($0) == folded }) {
                throw .input("differs from \"\(match)\" only in case; runc (Go's JSON) would read it as \(match), crun would not", path: path / key)
            }
        }
    }

    /// Rejects keys outside `known`, naming the first one.
    func rejectUnknownKeys(_ known: [String], what: String) throws(WardenError) {
        for key in keys where !known.contains(key) {
            throw .input("unknown field in \(what)", path: path / key)
        }
    }
}

/// A key as Go's encoding/json compares it with an ASCII field name: ASCII letters lowercased, and the
/// two non-ASCII letters whose simple case folding is ASCII (U+017F ſ, U+212A Kelvin sign) mapped to it.
func goFolded(_ key: String) -> String {
    var out = String.UnicodeScalarView()
    for u in key.unicodeScalars {
        switch u.value {
        case 0x41...0x5A: out.append(Unicode.Scalar(u.value + 0x20)!)
        case 0x17F: out.append("s")
        case 0x212A: out.append("k")
        default: out.append(u)
        }
    }
    return String(out)
}

/// The largest errno the kernel returns (MAX_ERRNO).
public let maxErrno: UInt32 = 4095

extension LinuxSeccomp {
    static let knownKeys: [String] = ["defaultAction", "defaultErrnoRet", "architectures", "flags",
                                      "listenerPath", "listenerMetadata", "syscalls"]

    /// Decodes and validates `linux.seccomp` (or a profile file's top level).
    /// Unknown keys are kept by the writer but must not look like typos of known ones: they are ignored here, as runc does.
    public init(node: JSONNode) throws(WardenError) {
        _ = try node.expectObject()
        try node.rejectCaseVariants(of: Self.knownKeys)
        guard let da = node["defaultAction"] else {
            throw .input("missing required field defaultAction", path: node.path / "defaultAction")
        }
        defaultAction = try lookup(SeccompAction.self, da.expectString(), what: "action", path: da.path)
        if defaultAction == .notify {
            throw .input("SCMP_ACT_NOTIFY cannot be the default action", path: da.path)
        }
        defaultErrnoRet = try node.errnoRet("defaultErrnoRet", for: defaultAction)
        architectures = try node.architectureList()
        flags = try Flags(node: node["flags"])
        listenerPath = try node["listenerPath"].flatMap { $0.isNull ? nil : $0 }.map { n throws(WardenError) in try n.expectString(nonEmpty: true) }
        listenerMetadata = try node["listenerMetadata"].flatMap { $0.isNull ? nil : $0 }.map { n throws(WardenError) in try n.expectString() }
        if let meta = node["listenerMetadata"], listenerMetadata != nil, listenerPath == nil {
            throw .input("listenerMetadata is set but listenerPath is not", path: meta.path)
        }
        syscalls = nil
        if let s = node["syscalls"], !s.isNull {
            var rules = [LinuxSyscall]()
            for item in try s.expectArray() {
                rules.append(try LinuxSyscall(node: item))
            }
            syscalls = rules
        }
        if let rules = syscalls, listenerPath == nil,
           let i = rules.firstIndex(where: { $0.action == .notify }) {
            throw .input("SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath", path: s(node, i) / "action")
        }
    }
}

extension LinuxSeccomp.Flags {
    /// `flags` as it stands: absent, `null`, or a list (runc treats the three differently).
    public init(node: JSONNode?) throws(WardenError) {
        guard let f = node else { self = .absent; return }
        if f.isNull { self = .null; return }
        var list = [SeccompFlag]()
        for item in try f.expectArray() {
            list.append(try lookup(SeccompFlag.self, item.expectString(), what: "flag", path: item.path))
        }
        self = .list(list)
    }
}

private func s(_ node: JSONNode, _ i: Int) -> JSONPath { node.path / "syscalls" / i }

extension LinuxSyscall {
    public init(node: JSONNode) throws(WardenError) {
        _ = try node.expectObject()
        try node.rejectCaseVariants(of: ["names", "action", "errnoRet", "args"])
        guard let n = node["names"] else {
            if node["name"] != nil {
                throw .input("uses the old single \"name\" field; write \"names\": [...]", path: node.path / "name")
            }
            throw .input("missing required field names", path: node.path / "names")
        }
        let items = try n.expectArray()
        guard !items.isEmpty else { throw .input("must list at least one syscall", path: n.path) }
        var seen = Set<String>()
        names = []
        for item in items {
            let name = try item.expectString(nonEmpty: true)
            guard seen.insert(name).inserted else { throw .input("duplicate syscall name \"\(name)\"", path: item.path) }
            names.append(name)
        }
        action = try node.ruleAction()
        errnoRet = try node.errnoRet("errnoRet", for: action)
        args = try node.ruleArgs()
    }
}

/// The fields both formats (runtime-spec and Docker/podman) read alike.
extension JSONNode {
    /// A profile's `architectures`: each a name the table knows, none twice; nil when absent or null.
    func architectureList() throws(WardenError) -> [SeccompArch]? {
        guard let a = self["architectures"], !a.isNull else { return nil }
        var list = [SeccompArch]()
        for item in try a.expectArray() {
            let arch = try lookup(SeccompArch.self, item.expectString(), what: "architecture", path: item.path)
            guard !list.contains(arch) else { throw .input("duplicate architecture \(arch.rawValue)", path: item.path) }
            list.append(arch)
        }
        return list
    }

    /// The errno number under `key` (`errnoRet`, `defaultErrnoRet`), only where `action` takes one.
    func errnoRet(_ key: String, for action: SeccompAction) throws(WardenError) -> UInt32? {
        guard let e = self[key], !e.isNull else { return nil }
        guard action.takesErrnoRet else {
            throw .input("\(key) is only allowed with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not \(action.rawValue)", path: e.path)
        }
        return try e.expectUInt32(max: maxErrno)
    }

    /// A rule's `action`, which it must have.
    func ruleAction() throws(WardenError) -> SeccompAction {
        guard let a = self["action"] else { throw .input("missing required field action", path: path / "action") }
        return try lookup(SeccompAction.self, a.expectString(), what: "action", path: a.path)
    }

    /// A rule's `args`; nil when absent or null.
    func ruleArgs() throws(WardenError) -> [LinuxSeccompArg]? {
        guard let list = self["args"], !list.isNull else { return nil }
        var out = [LinuxSeccompArg]()
        for item in try list.expectArray() { out.append(try LinuxSeccompArg(node: item)) }
        return out
    }
}

extension LinuxSeccompArg {
    public init(node: JSONNode) throws(WardenError) {
        _ = try node.expectObject()
        try node.rejectCaseVariants(of: ["index", "value", "valueTwo", "op"])
        guard let i = node["index"] else { throw .input("missing required field index", path: node.path / "index") }
        index = try i.expectUInt32()
        guard index <= 5 else { throw .input("argument index \(index) is out of range (0...5)", path: i.path) }
        guard let v = node["value"] else { throw .input("missing required field value", path: node.path / "value") }
        value = try v.expectUInt64()
        valueTwo = try node["valueTwo"].flatMap { $0.isNull ? nil : $0 }.map { n throws(WardenError) in try n.expectUInt64() }
        guard let o = node["op"] else { throw .input("missing required field op", path: node.path / "op") }
        op = try lookup(SeccompOperator.self, o.expectString(), what: "operator", path: o.path)
    }
}
