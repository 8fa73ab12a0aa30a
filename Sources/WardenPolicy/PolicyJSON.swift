import WardenCore
import WardenJSON
import WardenSpec

extension Policy {
    /// The effective policy, as `policy show` prints it (a valid policy file itself).
    public var json: JSON { json(namingBuiltinInject: false) }

    /// `namingBuiltinInject`: the built-in inject profile as `"builtin"`, not spelled out (for a key
    /// that names the binary already: the built-in profile is the binary's, and parsing it is the
    /// largest part of a gate's start otherwise).
    func json(namingBuiltinInject: Bool) -> JSON {
        var out: [(String, JSON)] = [
            ("mode", .string(mode.rawValue)),
            ("architectures", architectures.map { .array($0.map { .string($0.rawValue) }) } ?? .null),
            ("inject", namingBuiltinInject && injectOverride == nil && injectSource == nil ? .string("builtin") : inject.json),
            ("deny", .array(deny.map(\.json))),
            ("forbiddenFlags", .array(forbiddenFlags.map { .string($0.rawValue) })),
            ("allowNotify", .bool(allowNotify)),
            ("allowAnnotations", .array(allowAnnotations.map { .string($0) })),
            ("defaultAllow", .string(defaultAllow.rawValue)),
            ("trustedEngine", trustedEngine.map { .string($0.rawValue) } ?? .null),
            ("trustedAnnotations", .array(trustedAnnotations.map { .string($0) })),
            ("exemptions", .array(exemptions.map(\.json))),
        ]
        if let auditLog { out.append(("auditLog", .string(auditLog))) }
        return .object(out)
    }
}
