import WardenCore
import WardenJSON

extension LinuxSeccomp {
    /// The fields this type owns, in the runtime-spec's order; absent ones are omitted.
    public var jsonFields: [(String, JSON?)] {
        [
            ("defaultAction", .string(defaultAction.rawValue)),
            ("defaultErrnoRet", defaultErrnoRet.map { .int(Int64($0)) }),
            ("architectures", architectures.map { .array($0.map { .string($0.rawValue) }) }),
            ("flags", { () -> JSON? in
                switch flags {
                case .absent: nil
                case .null: .null
                case .list(let l): .array(l.map { .string($0.rawValue) })
                }
            }()),
            ("listenerPath", listenerPath.map { .string($0) }),
            ("listenerMetadata", listenerMetadata.map { .string($0) }),
            ("syscalls", syscalls.map { .array($0.map(\.json)) }),
        ]
    }

    public var json: JSON {
        .object(jsonFields.compactMap { k, v in v.map { (k, $0) } })
    }

    /// Writes this profile into an existing seccomp object in place: known keys replaced where they
    /// stand, removed when absent, new ones appended; keys this type does not know are left alone.
    public func write(into doc: JSONDocument, parent: JSONNode, key: String = "seccomp") {
        guard let existing = parent[key], existing.kind == .object else {
            doc.set(json, at: parent, key: key)
            return
        }
        // jansson replaces a key's value where the key stands and appends a new key; unknown keys stay.
        for (k, v) in jsonFields { doc.set(v, at: existing, key: k) }
    }
}

extension LinuxSyscall {
    public var json: JSON {
        var out: [(String, JSON)] = [("names", .array(names.map { .string($0) })), ("action", .string(action.rawValue))]
        if let errnoRet { out.append(("errnoRet", .int(Int64(errnoRet)))) }
        if let args { out.append(("args", .array(args.map(\.json)))) }
        return .object(out)
    }
}

extension LinuxSeccompArg {
    public var json: JSON {
        var out: [(String, JSON)] = [("index", .int(Int64(index))), ("value", .int(Int64(bitPattern: value)))]
        if let valueTwo { out.append(("valueTwo", .int(Int64(bitPattern: valueTwo)))) }
        out.append(("op", .string(op.rawValue)))
        return .object(out)
    }
}
