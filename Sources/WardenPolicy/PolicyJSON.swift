import WardenCore
import WardenJSON
import WardenSpec

extension Policy {
    /// The effective policy, as `policy show` prints it (a valid policy file itself).
    public var json: JSON {
        var out: [(String, JSON)] = [
            ("mode", .string(mode.rawValue)),
            ("architectures", architectures.map { .array($0.map { .string($0.rawValue) }) } ?? .null),
            ("inject", inject.json),
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
