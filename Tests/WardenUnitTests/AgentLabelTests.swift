import Testing
@testable import WardenAgent

/// The agent's labels from CRI annotations: the engine's keys (the table exemptions read), claims
/// only, bounded, and never ambiguous.
@Suite("Agent labels")
struct AgentLabelTests {
    static let containerd: [(String, String)] = [
        ("io.kubernetes.cri.container-type", "container"), ("io.kubernetes.cri.sandbox-namespace", "shop"),
        ("io.kubernetes.cri.sandbox-name", "web-0"), ("io.kubernetes.cri.container-name", "nginx"),
        ("io.kubernetes.cri.image-name", "docker.io/library/nginx:1.25"),
    ]
    static let crio: [(String, String)] = [
        ("io.kubernetes.cri-o.ContainerType", "container"), ("io.kubernetes.pod.namespace", "shop"),
        ("io.kubernetes.pod.name", "web-0"), ("io.kubernetes.container.name", "nginx"),
        ("io.kubernetes.cri-o.ImageName", "docker.io/library/nginx:1.25"),
        // CRI-O copies the pod's own annotations: this one is the pod author's, not CRI-O's namespace key.
        ("io.kubernetes.cri-o.Namespace", "kube-system"),
    ]
    static let shop = ContainerLabels(namespace: "shop", pod: "web-0", container: "nginx", image: "docker.io/library/nginx:1.25")

    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var annotations: [(String, String)]
        var expected: ContainerLabels
        var testDescription: String { name }
    }

    static let rows: [Row] = [
        Row(name: "containerd CRI keys", annotations: containerd, expected: shop),
        Row(name: "CRI-O keys", annotations: crio, expected: shop),
        Row(name: "no engine key: no labels (podman --annotation io.kubernetes.pod.name=x alone)",
            annotations: [("io.kubernetes.pod.name", "web-0"), ("io.kubernetes.cri.sandbox-namespace", "shop")], expected: ContainerLabels()),
        Row(name: "a key given twice is no value", annotations: containerd + [("io.kubernetes.cri.sandbox-namespace", "kube-system")],
            expected: ContainerLabels(namespace: "", pod: "web-0", container: "nginx", image: "docker.io/library/nginx:1.25")),
        Row(name: "control characters become ?", annotations: [("io.kubernetes.cri.container-type", "container"), ("io.kubernetes.cri.sandbox-name", "a\nb\u{7f}c\"d")],
            expected: ContainerLabels(pod: "a?b?c\"d")),
        Row(name: "over-long values are cut at 256 bytes, between characters",
            annotations: [("io.kubernetes.cri.container-type", "container"), ("io.kubernetes.cri.image-name", "x" + String(repeating: "é", count: 200))],
            expected: ContainerLabels(image: "x" + String(repeating: "é", count: 127))),
        Row(name: "empty annotations", annotations: [], expected: ContainerLabels()),
    ]

    @Test(arguments: rows)
    func labels(_ row: Row) {
        let got = ContainerLabels(annotations: row.annotations)
        #expect(got == row.expected)
        #expect(got.image.utf8.count <= ContainerLabels.maxValueBytes)
    }
}
