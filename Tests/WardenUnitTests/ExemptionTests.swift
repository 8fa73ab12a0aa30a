import WardenCore
import Foundation
import Testing
@testable import WardenJSON
@testable import WardenPolicy
@testable import WardenSpec

/// A JSON string literal for `s` (test inputs: any bytes a creator could write, escaped).
private func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
        default: out.unicodeScalars.append(u)
        }
    }
    return out + "\""
}

/// config.json with these annotations, in this order (duplicates written as given).
private func config(_ annotations: [(String, String)]) throws -> OCIConfig {
    let body = annotations.map { "\(jsonString($0.0)): \(jsonString($0.1))" }.joined(separator: ", ")
    return OCIConfig(document: try JSONDocument(bytes: Array("{\"ociVersion\": \"1.0.2\", \"annotations\": {\(body)}}".utf8), name: "config.json"))
}

private func policy(_ text: String) throws -> Policy {
    let doc = try JSONDocument(bytes: Array(text.utf8), name: "policy.json")
    return try Policy(node: doc.root, source: "policy.json", digest: "test")
}

@Suite("Exemptions")
struct ExemptionTests {
    static let containerd = """
        {"trustedEngine": "containerd-cri", "exemptions": [
          {"namespace": "kube-system", "image": "registry.k8s.io/kube-proxy:*", "reason": "kube-proxy loads its own profile"},
          {"namespace": "debug-*", "reason": "debug namespaces"}]}
        """
    static let crio = """
        {"trustedEngine": "cri-o", "exemptions": [{"namespace": "kube-system", "image": "registry.k8s.io/kube-proxy:*", "reason": "kube-proxy"}]}
        """
    static let trusted = """
        {"trustedAnnotations": ["org.example/debug"], "exemptions": [{"annotations": {"org.example/debug": "yes"}, "reason": "debugging, on the creator's word"}]}
        """
    static let ns = "io.kubernetes.cri.sandbox-namespace", img = "io.kubernetes.cri.image-name"
    static let digest = "sha256:" + String(repeating: "0", count: 64)

    struct Row: Sendable, CustomStringConvertible {
        var name: String
        var policy: String
        var annotations: [(String, String)]
        /// The exemptions[] index that must match, or nil for none.
        var exempt: Int?
        var description: String { name }
    }

    static let rows: [Row] = [
        // containerd's CRI plugin: namespace and image as it writes them.
        Row(name: "kube-proxy in kube-system", policy: containerd,
            annotations: [(ns, "kube-system"), (img, "registry.k8s.io/kube-proxy:v1.29.0")], exempt: 0),
        Row(name: "another image in kube-system", policy: containerd,
            annotations: [(ns, "kube-system"), (img, "docker.io/library/busybox:1.36")], exempt: nil),
        Row(name: "kube-proxy image in another namespace", policy: containerd,
            annotations: [(ns, "default"), (img, "registry.k8s.io/kube-proxy:v1.29.0")], exempt: nil),
        Row(name: "kube-proxy pinned by digest is not a tag", policy: containerd,
            annotations: [(ns, "kube-system"), (img, "registry.k8s.io/kube-proxy@" + digest)], exempt: nil),
        Row(name: "namespace glob", policy: containerd, annotations: [(ns, "debug-alice")], exempt: 1),
        Row(name: "namespace only: no image needed", policy: containerd,
            annotations: [(ns, "debug-alice"), (img, "docker.io/library/busybox:1.36")], exempt: 1),
        Row(name: "image fact missing", policy: containerd, annotations: [(ns, "kube-system")], exempt: nil),
        Row(name: "no annotations", policy: containerd, annotations: [], exempt: nil),
        // Attacks: keys and values the creator might write instead.
        Row(name: "key in another case", policy: containerd,
            annotations: [("io.kubernetes.cri.Sandbox-Namespace", "kube-system"), (img, "registry.k8s.io/kube-proxy:v1")], exempt: nil),
        Row(name: "key with a Cyrillic lookalike", policy: containerd,
            annotations: [("io.kubernetes.cri.sandbox-nаmespace", "debug-x")], exempt: nil),
        Row(name: "value with a Cyrillic lookalike", policy: containerd,
            annotations: [(ns, "kubе-system"), (img, "registry.k8s.io/kube-proxy:v1")], exempt: nil),
        Row(name: "value with a trailing space", policy: containerd,
            annotations: [(ns, "kube-system "), (img, "registry.k8s.io/kube-proxy:v1")], exempt: nil),
        Row(name: "value with a NUL-free control byte", policy: containerd,
            annotations: [(ns, "kube-system\n"), (img, "registry.k8s.io/kube-proxy:v1")], exempt: nil),
        Row(name: "empty namespace", policy: containerd, annotations: [(ns, ""), (img, "registry.k8s.io/kube-proxy:v1")], exempt: nil),
        Row(name: "empty namespace under a glob that takes anything after debug-", policy: containerd, annotations: [(ns, "")], exempt: nil),
        Row(name: "the old creator-set key", policy: containerd,
            annotations: [("org.example.seccomp-warden/exempt", "yes")], exempt: nil),
        Row(name: "CRI-O's key under containerd", policy: containerd,
            annotations: [("io.kubernetes.cri-o.Namespace", "kube-system"), ("io.kubernetes.cri-o.ImageName", "registry.k8s.io/kube-proxy:v1")], exempt: nil),
        // CRI-O: the kubelet's namespace label, never io.kubernetes.cri-o.Namespace (a pod annotation on containers).
        Row(name: "CRI-O kube-proxy", policy: crio,
            annotations: [("io.kubernetes.pod.namespace", "kube-system"), ("io.kubernetes.cri-o.ImageName", "registry.k8s.io/kube-proxy:v1")], exempt: 0),
        Row(name: "CRI-O: io.kubernetes.cri-o.Namespace is not the namespace", policy: crio,
            annotations: [("io.kubernetes.cri-o.Namespace", "kube-system"), ("io.kubernetes.cri-o.ImageName", "registry.k8s.io/kube-proxy:v1")], exempt: nil),
        Row(name: "CRI-O: containerd's keys are not CRI-O's", policy: crio,
            annotations: [(ns, "kube-system"), (img, "registry.k8s.io/kube-proxy:v1")], exempt: nil),
        Row(name: "CRI-O: image key in lower case", policy: crio,
            annotations: [("io.kubernetes.pod.namespace", "kube-system"), ("io.kubernetes.cri-o.imagename", "registry.k8s.io/kube-proxy:v1")], exempt: nil),
        // A policy that trusts no engine and no annotation exempts nothing, whatever the container says.
        Row(name: "no trust: every key forged", policy: "{\"exemptions\": []}",
            annotations: [(ns, "kube-system"), (img, "registry.k8s.io/kube-proxy:v1"), ("org.example.seccomp-warden/exempt", "yes")], exempt: nil),
        // Creator-set annotations the policy trusts: the creator's word, as the policy accepts.
        Row(name: "trusted annotation", policy: trusted, annotations: [("org.example/debug", "yes")], exempt: 0),
        Row(name: "trusted annotation, other value", policy: trusted, annotations: [("org.example/debug", "yes please")], exempt: nil),
        Row(name: "trusted annotation, other case", policy: trusted, annotations: [("org.example/Debug", "yes")], exempt: nil),
        Row(name: "trusted annotation, empty value", policy: trusted, annotations: [("org.example/debug", "")], exempt: nil),
    ]

    @Test("verdicts", arguments: rows)
    func verdicts(row: Row) throws {
        let p = try policy(row.policy)
        let e = try Evaluation.evaluate(try config(row.annotations), policy: p)
        if let index = row.exempt {
            #expect(e.verdict == .exempt, "\(e.summary)")
            #expect(e.reason?.contains("exemptions[\(index)]") == true, "\(e.reason ?? "")")
            #expect(e.reason?.contains(p.exemptions[index].reason) == true, "\(e.reason ?? "")")
        } else {
            #expect(e.verdict == .injected, "\(e.summary)")
        }
    }

    @Test("the reason names the entry and the facts with the keys they came from")
    func reasonText() throws {
        let e = try Evaluation.evaluate(try config([(Self.ns, "kube-system"), (Self.img, "registry.k8s.io/kube-proxy:v1")]),
                                        policy: try policy(Self.containerd))
        #expect(e.reason == "exempt by exemptions[0]: namespace \"kube-system\" (io.kubernetes.cri.sandbox-namespace, set by containerd-cri), "
                + "image \"registry.k8s.io/kube-proxy:v1\" (io.kubernetes.cri.image-name, set by containerd-cri): kube-proxy loads its own profile")
        let t = try Evaluation.evaluate(try config([("org.example/debug", "yes")]), policy: try policy(Self.trusted))
        #expect(t.reason?.contains("set by the container's creator; trusted by the policy") == true)
    }

    @Test("a key twice in config.json is refused before any exemption is weighed (runc would take the last)")
    func duplicateKeys() throws {
        let text = "{\"annotations\": {\"\(Self.ns)\": \"kube-system\", \"\(Self.ns)\": \"default\"}}"
        #expect(throws: WardenError.self) { try JSONDocument(bytes: Array(text.utf8), name: "config.json") }
        // And should a list ever carry a key twice, the fact is ambiguous: no match.
        #expect(Exemption.fact(Self.ns, in: [(Self.ns, "kube-system"), (Self.ns, "kube-system")]) == nil)
    }

    @Test("the shipped example policy exempts nothing, the old annotation included")
    func shippedExample() throws {
        let doc = try JSONDocument(contentsOf: Repo.root + "/examples/policy.json")
        let p = try Policy(node: doc.root, source: "examples/policy.json", digest: "x")
        #expect(p.exemptions.isEmpty && p.trustedEngine == nil && p.trustedAnnotations.isEmpty)
        let e = try Evaluation.evaluate(try PolicyTests().config("exempt"), policy: p)
        #expect(e.verdict == .injected)
        #expect(try Evaluation.evaluate(try PolicyTests().config("exempt"), policy: try Policy.builtin()).verdict == .injected)
    }

    /// Every refusal names the JSON path and what to write.
    @Test("policy errors", arguments: [
        // The old regular-expression form, at the field that has it.
        ("{\"exemptions\": [{\"annotation\": \"^org\\\\.example/x$\", \"value\": \".+\", \"reason\": \"r\"}]}",
         "exemptions[0].annotation", ["no longer read", "\"namespace\": GLOB", "trustedAnnotations", "trustedEngine"]),
        ("{\"trustedEngine\": \"cri-o\", \"exemptions\": [{\"namespace\": \"a\", \"reason\": \"r\"}, {\"value\": \"x\", \"reason\": \"r\"}]}",
         "exemptions[1].value", ["no longer read"]),
        ("{\"exemptions\": [{\"annotation\": \"(\", \"reason\": \"r\"}]}", "exemptions[0].annotation", ["no longer read"]),
        // Facts need an engine the policy trusts.
        ("{\"exemptions\": [{\"namespace\": \"kube-system\", \"reason\": \"r\"}]}", "exemptions[0].namespace", ["trustedEngine", "containerd-cri"]),
        ("{\"exemptions\": [{\"image\": \"registry.k8s.io/pause:*\", \"reason\": \"r\"}]}", "exemptions[0].image", ["trustedEngine"]),
        ("{\"trustedEngine\": \"podman\"}", "trustedEngine", ["not a valid trustedEngine", "containerd-cri, cri-o"]),
        ("{\"trustedEngine\": 1}", "trustedEngine", ["must be a string"]),
        // Creator-set annotations only where the policy says it trusts the key.
        ("{\"exemptions\": [{\"annotations\": {\"org.example/debug\": \"yes\"}, \"reason\": \"r\"}]}",
         "exemptions[0].annotations[\"org.example/debug\"]", ["not in trustedAnnotations"]),
        ("{\"trustedAnnotations\": [\"org.example/Debug\"], \"exemptions\": [{\"annotations\": {\"org.example/debug\": \"yes\"}, \"reason\": \"r\"}]}",
         "exemptions[0].annotations[\"org.example/debug\"]", ["not in trustedAnnotations"]),
        ("{\"trustedAnnotations\": [\"org.example/debug\"], \"exemptions\": [{\"annotations\": {}, \"reason\": \"r\"}]}",
         "exemptions[0].annotations", ["at least one"]),
        ("{\"trustedAnnotations\": [\"org.example/*\"]}", "trustedAnnotations[0]", ["literal"]),
        ("{\"trustedAnnotations\": [\"org.exаmple/x\"]}", "trustedAnnotations[0]", ["not printable ASCII"]),
        ("{\"trustedAnnotations\": [\"a\", \"a\"]}", "trustedAnnotations[1]", ["duplicate"]),
        ("{\"trustedAnnotations\": [\"\"]}", "trustedAnnotations[0]", ["empty"]),
        ("{\"trustedAnnotations\": \"a\"}", "trustedAnnotations", ["must be an array"]),
        // Each entry: a reason, something to match, patterns that are patterns.
        ("{\"trustedEngine\": \"cri-o\", \"exemptions\": [{\"namespace\": \"a\"}]}", "exemptions[0].reason", ["missing"]),
        ("{\"trustedEngine\": \"cri-o\", \"exemptions\": [{\"namespace\": \"a\", \"reason\": \"  \"}]}", "exemptions[0].reason", ["must say why"]),
        ("{\"trustedEngine\": \"cri-o\", \"exemptions\": [{\"namespace\": \"a\", \"reason\": \"\"}]}", "exemptions[0].reason", ["empty"]),
        ("{\"exemptions\": [{\"reason\": \"r\"}]}", "exemptions[0]", ["must say what it matches"]),
        ("{\"trustedEngine\": \"cri-o\", \"exemptions\": [{\"namespace\": \"*\", \"image\": \"**\", \"reason\": \"r\"}]}",
         "exemptions[0]", ["matches every container"]),
        ("{\"trustedEngine\": \"cri-o\", \"exemptions\": [{\"namespace\": \"\", \"reason\": \"r\"}]}", "exemptions[0].namespace", ["must not be empty"]),
        ("{\"trustedEngine\": \"cri-o\", \"exemptions\": [{\"namespace\": \"kube system\", \"reason\": \"r\"}]}",
         "exemptions[0].namespace", ["not printable ASCII"]),
        ("{\"trustedEngine\": \"cri-o\", \"exemptions\": [{\"namespace\": \"kubе-system\", \"reason\": \"r\"}]}",
         "exemptions[0].namespace", ["byte 3", "not printable ASCII"]),
        ("{\"trustedEngine\": \"cri-o\", \"exemptions\": [{\"image\": \"\(String(repeating: "a", count: 513))\", \"reason\": \"r\"}]}",
         "exemptions[0].image", ["longer than 512"]),
        ("{\"trustedEngine\": \"cri-o\", \"exemptions\": [{\"namespace\": 7, \"reason\": \"r\"}]}", "exemptions[0].namespace", ["must be a string"]),
        ("{\"trustedEngine\": \"cri-o\", \"exemptions\": [{\"namespace\": \"a\", \"images\": \"b\", \"reason\": \"r\"}]}",
         "exemptions[0].images", ["unknown field"]),
        ("{\"exemptions\": {}}", "exemptions", ["must be an array"]),
        ("{\"exemptions\": [\"kube-system\"]}", "exemptions[0]", ["must be an object"]),
    ] as [(String, String, [String])])
    func policyErrors(text: String, path: String, words: [String]) throws {
        do {
            _ = try policy(text)
            Issue.record("accepted: \(text)")
        } catch {
            let message = "\(error)"
            #expect(message.contains(path + ":"), "\(message)")
            for w in words { #expect(message.contains(w), "\(w) not in \(message)") }
        }
    }

    @Test("policy show prints the exemption fields and loads back the same", .rootOwnedFiles)
    func showRoundTrip() throws {
        let dir = try tempDir("exempt-show")
        defer { cleanup(dir) }
        let text = """
            {"trustedEngine": "containerd-cri", "trustedAnnotations": ["org.example/debug"], "exemptions": [
              {"namespace": "kube-system", "image": "registry.k8s.io/kube-proxy:*", "reason": "kube-proxy"},
              {"annotations": {"org.example/debug": "yes"}, "reason": "debug"}]}
            """
        try text.write(toFile: dir + "/p.json", atomically: false, encoding: .utf8)
        chmod(dir + "/p.json", 0o600)
        let first = try warden(["policy", "show", "--policy", dir + "/p.json"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("\"trustedEngine\": \"containerd-cri\""))
        #expect(first.stdout.contains("\"namespace\": \"kube-system\""))
        try first.stdout.write(toFile: dir + "/q.json", atomically: false, encoding: .utf8)
        chmod(dir + "/q.json", 0o600)
        #expect(try warden(["policy", "show", "--policy", dir + "/q.json"]).stdout == first.stdout)
    }

    @Test("policy check lists each exemption and warns about creator-set annotations; none for engine facts", .rootOwnedFiles)
    func checkWarns() throws {
        let dir = try tempDir("exempt-check")
        defer { cleanup(dir) }
        for (name, text) in [("trusted", Self.trusted), ("engine", Self.containerd)] {
            try text.write(toFile: "\(dir)/\(name).json", atomically: false, encoding: .utf8)
            chmod("\(dir)/\(name).json", 0o600)
        }
        let t = try warden(["policy", "check", dir + "/trusted.json"])
        #expect(t.status == 0, "\(t.stderr)")
        #expect(t.stdout.contains("exemptions[0]: annotation org.example/debug=yes: debugging, on the creator's word"), "\(t.stdout)")
        #expect(t.stderr.contains("warning: trustedAnnotations: whoever creates a container writes its annotations"), "\(t.stderr)")
        #expect(t.stderr.contains("exemptions[0] is granted by creator-set annotation org.example/debug"), "\(t.stderr)")
        let e = try warden(["policy", "check", dir + "/engine.json"])
        #expect(e.status == 0, "\(e.stderr)")
        #expect(e.stdout.contains("trusted engine: containerd-cri (namespace from io.kubernetes.cri.sandbox-namespace"), "\(e.stdout)")
        #expect(e.stdout.contains("exemptions[1]: namespace debug-*: debug namespaces"), "\(e.stdout)")
        #expect(!e.stderr.contains("warning"), "\(e.stderr)")
    }

    @Test("the old regex policy is refused by policy check with the path and what to write (exit 2)", .rootOwnedFiles)
    func oldFormCheck() throws {
        let dir = try tempDir("exempt-old")
        defer { cleanup(dir) }
        try """
            {"exemptions": [{"annotation": "^org\\\\.example\\\\.seccomp-warden/exempt$", "value": ".+", "reason": "example"}]}
            """.write(toFile: dir + "/p.json", atomically: false, encoding: .utf8)
        chmod(dir + "/p.json", 0o600)
        let r = try warden(["policy", "check", dir + "/p.json"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("p.json: exemptions[0].annotation: regular-expression exemptions are no longer read"), "\(r.stderr)")
        #expect(r.stderr.contains("{\"namespace\": GLOB, \"image\": GLOB, \"reason\": TEXT}"), "\(r.stderr)")
    }
}
