import WardenCore
import WardenJSON
import WardenSpec

/// The engine whose annotations the policy takes as facts about a container. Each writes its keys
/// into config.json itself, after whatever the pod's author supplied, on a node where it is the only
/// creator of containers (README, "Opting out"). podman and Docker write no such facts: podman's
/// `--annotation` sets any key (`io.kubernetes.*` and `io.container.manager` included), Docker
/// 20.10 writes no annotations, and neither names the image in config.json.
public enum ExemptionEngine: String, CaseIterable, Sendable {
    /// containerd's CRI plugin (Kubernetes on containerd): `pkg/cri/annotations`.
    case containerdCRI = "containerd-cri"
    /// CRI-O (Kubernetes on CRI-O).
    case crio = "cri-o"

    /// The annotation holding the pod's namespace. containerd's CRI plugin writes
    /// `io.kubernetes.cri.sandbox-namespace` after the pod annotations it passes through. CRI-O
    /// copies the pod's own annotations into every container and writes `io.kubernetes.cri-o.Namespace`
    /// only on the pod's sandbox container, so on the others that key may be the pod author's; the
    /// kubelet's container label `io.kubernetes.pod.namespace`, which CRI-O writes after them, is not.
    public var namespaceKey: String {
        switch self {
        case .containerdCRI: "io.kubernetes.cri.sandbox-namespace"
        case .crio: "io.kubernetes.pod.namespace"
        }
    }

    /// The annotation holding the image the engine resolved (its own name for it, e.g.
    /// `docker.io/library/busybox:1.36`, not what the pod spec said).
    public var imageKey: String {
        switch self {
        case .containerdCRI: "io.kubernetes.cri.image-name"
        case .crio: "io.kubernetes.cri-o.ImageName"
        }
    }

    /// The pod's name and the container's name in it (the agent's labels: claims, never facts).
    public var podKey: String {
        switch self {
        case .containerdCRI: "io.kubernetes.cri.sandbox-name"
        case .crio: "io.kubernetes.pod.name"
        }
    }

    public var containerKey: String {
        switch self {
        case .containerdCRI: "io.kubernetes.cri.container-name"
        case .crio: "io.kubernetes.container.name"
        }
    }

    /// The key the engine writes on every container it creates ("sandbox" or "container"): which
    /// engine's keys to read for labels.
    public var containerTypeKey: String {
        switch self {
        case .containerdCRI: "io.kubernetes.cri.container-type"
        case .crio: "io.kubernetes.cri-o.ContainerType"
        }
    }

    /// The one value of `key` in `annotations`, as exemptions read it (absent, empty or repeated: nil).
    public static func value(_ key: String, in annotations: [(String, String)]) -> String? {
        Exemption.fact(key, in: annotations)
    }

    func key(for fact: Exemption.Fact) -> String {
        switch fact {
        case .namespace: namespaceKey
        case .image: imageKey
        }
    }
}

/// One entry of the policy's `exemptions`: containers it matches are left alone and reported as
/// exempt with its reason. Every field given must match.
public struct Exemption: Sendable {
    /// Facts an engine sets.
    public enum Fact: String, CaseIterable, Sendable { case namespace, image }

    /// Position in the policy's `exemptions`, for messages and the audit log.
    public var index: Int
    public var namespace: Glob?
    public var image: Glob?
    /// Annotations the container's creator writes; each key is in the policy's `trustedAnnotations`.
    public var annotations: [(key: String, value: Glob)]
    public var reason: String

    func glob(for fact: Fact) -> Glob? {
        switch fact {
        case .namespace: namespace
        case .image: image
        }
    }

    /// Matches `annotations` (config.json's, in order) as `engine` writes them; nil if any field fails.
    /// Returns what matched, for the report.
    func match(_ annotations: [(String, String)], engine: ExemptionEngine?) -> [String]? {
        var evidence = [String]()
        for fact in Fact.allCases {
            guard let glob = glob(for: fact) else { continue }
            guard let engine, let value = Self.fact(engine.key(for: fact), in: annotations), glob.matches(value) else { return nil }
            evidence.append("\(fact.rawValue) \(quoted(value)) (\(engine.key(for: fact)), set by \(engine.rawValue))")
        }
        for (key, glob) in self.annotations {
            guard let value = Self.fact(key, in: annotations), glob.matches(value) else { return nil }
            evidence.append("annotation \(key)=\(quoted(value)) (set by the container's creator; trusted by the policy)")
        }
        return evidence
    }

    /// The one value of `key`, compared byte for byte as the engines and runtimes compare keys
    /// (Swift's `==` would also take canonically equivalent spellings). Absent, empty or ambiguous
    /// (the key more than once) is no fact: it never matches.
    static func fact(_ key: String, in annotations: [(String, String)]) -> String? {
        var found: String? = nil
        for (k, v) in annotations where k.utf8.elementsEqual(key.utf8) {
            if found != nil { return nil }
            found = v
        }
        guard let found, !found.isEmpty else { return nil }
        return found
    }

    /// The fields as the policy writes them.
    public var json: JSON {
        var out = [(String, JSON)]()
        if let namespace { out.append(("namespace", .string(namespace.pattern))) }
        if let image { out.append(("image", .string(image.pattern))) }
        if !annotations.isEmpty { out.append(("annotations", .object(annotations.map { ($0.key, .string($0.value.pattern)) }))) }
        out.append(("reason", .string(reason)))
        return .object(out)
    }

    /// One line for `policy check`.
    public var summary: String {
        var parts = [String]()
        if let namespace { parts.append("namespace \(namespace)") }
        if let image { parts.append("image \(image)") }
        for (k, v) in annotations { parts.append("annotation \(k)=\(v)") }
        return "exemptions[\(index)]: \(parts.joined(separator: ", ")): \(reason)"
    }
}

/// An exemption that matched one container, and the facts it matched on.
public struct ExemptionMatch: Sendable {
    public var exemption: Exemption
    public var evidence: [String]

    /// What the audit log and reports say: the entry, the facts, the policy's reason.
    public var reason: String {
        "exemptions[\(exemption.index)]: \(evidence.joined(separator: ", ")): \(exemption.reason)"
    }
}

private func quoted(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where u.value < 0x20 || u.value == 0x7f || (u.value >= 0x80 && u.value < 0xa0):
            out += "\\u{\(String(u.value, radix: 16))}"
        default: out.unicodeScalars.append(u)
        }
    }
    return out + "\""
}

extension Policy {
    /// The first exemption that matches the container's annotations (config.json's, in order).
    public func exemption(for annotations: [(String, String)]) -> ExemptionMatch? {
        for e in exemptions {
            if let evidence = e.match(annotations, engine: trustedEngine) { return ExemptionMatch(exemption: e, evidence: evidence) }
        }
        return nil
    }

    /// The policy for a stage no engine of `trustedEngine` calls: no annotation is an engine's fact
    /// there, so exemptions on namespace or image never match (those on trusted annotations still do).
    /// podman's precreate is such a stage: containerd and CRI-O never run it, and podman's
    /// `--annotation` writes any key, `io.kubernetes.*` included.
    public var withoutEngineFacts: Policy {
        var p = self
        p.trustedEngine = nil
        return p
    }

    /// What `policy check` warns about: exemptions the container's creator can claim.
    public var exemptionWarnings: [String] {
        guard !trustedAnnotations.isEmpty else { return [] }
        var out = ["trustedAnnotations: whoever creates a container writes its annotations; a container carrying "
                   + trustedAnnotations.joined(separator: ", ") + " is exempt on its creator's word where an exemption names the key"]
        for e in exemptions where !e.annotations.isEmpty {
            out.append("exemptions[\(e.index)] is granted by creator-set annotation\(e.annotations.count == 1 ? "" : "s") "
                       + e.annotations.map(\.key).joined(separator: ", "))
        }
        return out
    }

    /// Parses `trustedEngine`, `trustedAnnotations` and `exemptions`. The regular-expression form of
    /// earlier versions (`annotation`, `value`) is refused with what to write instead.
    static func readExemptions(_ root: JSONNode) throws(WardenError) -> (ExemptionEngine?, [String], [Exemption]) {
        var engine: ExemptionEngine? = nil
        if let e = root["trustedEngine"], !e.isNull {
            engine = try lookup(ExemptionEngine.self, e.expectString(), what: "trustedEngine", path: e.path)
        }
        var trusted = [String]()
        for item in try root["trustedAnnotations"]?.expectArray() ?? [] {
            let key = try item.expectString(nonEmpty: true)
            if let problem = annotationKeyProblem(key) { throw .input(problem, path: item.path) }
            if trusted.contains(where: { $0.utf8.elementsEqual(key.utf8) }) { throw .input("duplicate key \"\(key)\"", path: item.path) }
            trusted.append(key)
        }
        var exemptions = [Exemption]()
        for (i, item) in (try root["exemptions"]?.expectArray() ?? []).enumerated() {
            _ = try item.expectObject()
            for old in ["annotation", "value"] {
                if let n = item[old] {
                    throw .input("regular-expression exemptions are no longer read: an annotation is written by whoever creates the container "
                                 + "(podman --annotation sets any key), and a regular expression can take exponential time. "
                                 + "Write {\"namespace\": GLOB, \"image\": GLOB, \"reason\": TEXT} with \"trustedEngine\" naming the engine "
                                 + "that sets them (\(ExemptionEngine.allCases.map(\.rawValue).joined(separator: ", "))), or list the key "
                                 + "in \"trustedAnnotations\" and write {\"annotations\": {\"KEY\": GLOB}, \"reason\": TEXT}; "
                                 + "GLOB is a literal with * and ? (README, \"Opting out\")", path: n.path)
                }
            }
            try item.rejectUnknownKeys(["namespace", "image", "annotations", "reason"], what: "an exemption")
            guard let r = item["reason"] else { throw .input("missing required field reason (exemptions are reported)", path: item.path / "reason") }
            let reason = try r.expectString(nonEmpty: true)
            if reason.unicodeScalars.allSatisfy({ $0.properties.isWhitespace }) { throw .input("must say why", path: r.path) }

            var globs = [Exemption.Fact: Glob]()
            for fact in Exemption.Fact.allCases {
                guard let n = item[fact.rawValue] else { continue }
                guard engine != nil else {
                    throw .input("no engine is trusted to set the \(fact.rawValue): set \"trustedEngine\" to "
                                 + ExemptionEngine.allCases.map(\.rawValue).joined(separator: " or ")
                                 + " (only where that engine, driven by the kubelet, creates every container: README, \"Opting out\")",
                                 path: n.path)
                }
                globs[fact] = try glob(n)
            }
            var annotations = [(key: String, value: Glob)]()
            if let a = item["annotations"] {
                _ = try a.expectObject()
                if a.entries.isEmpty { throw .input("must name at least one annotation", path: a.path) }
                for (key, value) in a.entries {
                    guard trusted.contains(where: { $0.utf8.elementsEqual(key.utf8) }) else {
                        throw .input("\"\(key)\" is not in trustedAnnotations: whoever creates a container writes its annotations; "
                                     + "list the key there to accept that, or match on namespace and image", path: a.path / key)
                    }
                    annotations.append((key, try glob(value)))
                }
            }
            if globs.isEmpty && annotations.isEmpty {
                throw .input("an exemption must say what it matches: namespace, image or annotations", path: item.path)
            }
            if globs.values.allSatisfy(\.matchesEverything) && annotations.allSatisfy(\.value.matchesEverything) {
                throw .input("matches every container (each pattern is only *): name a namespace, an image or a value", path: item.path)
            }
            exemptions.append(Exemption(index: i, namespace: globs[.namespace], image: globs[.image], annotations: annotations, reason: reason))
        }
        return (engine, trusted, exemptions)
    }

    private static func glob(_ node: JSONNode) throws(WardenError) -> Glob {
        let text = try node.expectString()
        do {
            return try Glob(text)
        } catch {
            switch error {
            case .empty: throw .input("must not be empty (a literal, or a pattern with * and ?)", path: node.path)
            case .tooLong: throw .input("longer than \(Glob.maxPattern) bytes", path: node.path)
            case .notPrintableASCII(let offset):
                throw .input("byte \(offset) is not printable ASCII: patterns are literals with * and ?, in the ASCII the engines write", path: node.path)
            }
        }
    }

    /// A key an admin lists must be the bytes a creator would write: printable ASCII, no pattern.
    private static func annotationKeyProblem(_ key: String) -> String? {
        if let i = Array(key.utf8).firstIndex(where: { $0 < 0x21 || $0 > 0x7e }) {
            return "byte \(i) of the key is not printable ASCII (a lookalike would be another key)"
        }
        if key.contains("*") || key.contains("?") { return "a key is literal: no * or ?" }
        return nil
    }
}
