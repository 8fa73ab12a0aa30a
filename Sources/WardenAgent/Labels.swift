import WardenPolicy

/// The labels of a container's series. `id`, `runtime` and `status` are the agent's facts (the state
/// root's folder name, its format, the kernel's answer); `namespace`, `pod`, `container` and `image`
/// come from the CRI annotations in the bundle's config.json, which whoever creates the container
/// writes: they are claims. A container that names another pod still has its own `id`, so it can
/// neither hide a weak container's series nor replace a strong one's.
public struct ContainerLabels: Equatable, Sendable {
    public var namespace = ""
    public var pod = ""
    public var container = ""
    public var image = ""

    public init(namespace: String = "", pod: String = "", container: String = "", image: String = "") {
        self.namespace = namespace
        self.pod = pod
        self.container = container
        self.image = image
    }

    /// Longest label value kept (Kubernetes names are at most 253 bytes; image references run longer).
    public static let maxValueBytes = 256

    /// The labels an engine's keys give (the engine whose container-type key is present; none: empty).
    /// The key table is the one exemptions read (`ExemptionEngine`).
    public init(annotations: [(String, String)]) {
        guard let engine = ExemptionEngine.allCases.first(where: { ExemptionEngine.value($0.containerTypeKey, in: annotations) != nil }) else {
            return
        }
        func value(_ key: String) -> String { Self.clean(ExemptionEngine.value(key, in: annotations) ?? "") }
        namespace = value(engine.namespaceKey)
        pod = value(engine.podKey)
        container = value(engine.containerKey)
        image = value(engine.imageKey)
    }

    /// At most `maxValueBytes` of UTF-8, cut between characters; control characters become `?`
    /// (the text format escapes quotes, backslashes and newlines itself).
    static func clean(_ s: String) -> String {
        var out = ""
        var bytes = 0
        for ch in s.unicodeScalars {
            let c: Unicode.Scalar = ch.value < 0x20 || ch.value == 0x7f ? "?" : ch
            let n = String(c).utf8.count
            if bytes + n > maxValueBytes { break }
            out.unicodeScalars.append(c)
            bytes += n
        }
        return out
    }
}
