import Foundation
import Testing

/// deploy/kubernetes against the Kubernetes schemas `kubernetes-validate` ships (strict: unknown
/// fields refused), for the two newest minor versions it has. ServiceMonitor and PrometheusRule are
/// Prometheus Operator CRDs, not in those schemas: their shape is checked here against what the
/// other manifests and the agent say (selector, port, metric name, the alert), not against the CRDs.
@Suite("Kubernetes manifests")
struct ManifestTests {
    static let dir = Repo.root + "/deploy/kubernetes"

    static func python(_ script: String, _ args: [String] = []) throws -> Result {
        try run("/usr/bin/env", ["python3", "-c", script] + args)
    }

    @Test("every core manifest validates (strict) for the two newest Kubernetes versions kubernetes-validate ships")
    func coreSchemas() throws {
        let versions = try Self.python("""
            import os, re, kubernetes_validate
            d = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema")
            vs = sorted({tuple(map(int, m.groups())) for m in (re.match(r"v(\\d+)\\.(\\d+)\\.(\\d+)-local-strict$", n) for n in os.listdir(d)) if m})
            minors = sorted({v[:2] for v in vs})[-2:]
            print(" ".join(".".join(map(str, max(v for v in vs if v[:2] == m))) for m in minors))
            """)
        #expect(versions.status == 0, "\(versions.stderr)")
        let list = versions.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(list.count == 2, "\(versions.stdout)")
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.dir).filter { $0.hasSuffix(".yaml") && $0 != "kustomization.yaml" }.sorted()
        #expect(files.count >= 7, "\(files)")
        for version in list {
            for file in files where !["servicemonitor.yaml", "prometheusrule.yaml"].contains(file) {
                let r = try run("/usr/bin/env", ["kubernetes-validate", "--strict", "-k", version, Self.dir + "/" + file])
                #expect(r.status == 0, "\(file) on \(version): \(r.stdout) \(r.stderr)")
                #expect(r.stdout.contains(" passed for resource ") && r.stdout.contains("against version \(version.split(separator: ".").prefix(2).joined(separator: "."))"), "\(file) on \(version): \(r.stdout)")
            }
        }
        // Control: a wrong field is refused by the same validator.
        let broken = try tempDir("manifest")
        defer { cleanup(broken) }
        let text = readText(Self.dir + "/daemonset.yaml").replacingOccurrences(of: "hostPID: true", with: "hostPID: true\n      hostPIDs: true")
        try text.write(toFile: broken + "/daemonset.yaml", atomically: false, encoding: .utf8)
        let bad = try run("/usr/bin/env", ["kubernetes-validate", "--strict", "-k", list[0], broken + "/daemonset.yaml"])
        #expect(bad.status != 0, "\(bad.stdout)")
    }

    @Test("the kustomization names every manifest; the ServiceMonitor scrapes the Service's port; the alert is on the agent's series")
    func shapes() throws {
        let r = try Self.python("""
            import os, sys, yaml
            d = sys.argv[1]
            docs = {f: yaml.safe_load(open(os.path.join(d, f))) for f in os.listdir(d) if f.endswith(".yaml")}
            k = docs.pop("kustomization.yaml")
            assert sorted(k["resources"]) == sorted(docs), (k["resources"], sorted(docs))
            kinds = {v["kind"]: v for v in docs.values()}
            for v in docs.values():
                if v["kind"] not in ("Namespace", "RuntimeClass"):
                    assert v["metadata"]["namespace"] == "seccomp-warden", v["metadata"]
            svc, sm, rule, ds = kinds["Service"], kinds["ServiceMonitor"], kinds["PrometheusRule"], kinds["DaemonSet"]
            assert sm["apiVersion"] == "monitoring.coreos.com/v1" and rule["apiVersion"] == "monitoring.coreos.com/v1"
            assert set(sm["spec"]) <= {"selector", "endpoints", "namespaceSelector", "jobLabel"}, sm["spec"]
            for key, value in sm["spec"]["selector"]["matchLabels"].items():
                assert svc["metadata"]["labels"].get(key) == value
            ports = {p["name"] for p in svc["spec"]["ports"]}
            for e in sm["endpoints"] if "endpoints" in sm else sm["spec"]["endpoints"]:
                assert e["port"] in ports and e["path"] == "/metrics", e
            pod = ds["spec"]["template"]
            assert svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
            np = kinds["NetworkPolicy"]
            assert np["spec"]["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
            assert np["spec"]["policyTypes"] == ["Ingress"], np["spec"]
            assert [p["port"] for i in np["spec"]["ingress"] for p in i["ports"]] == [9631], np["spec"]
            assert all(i.get("from") for i in np["spec"]["ingress"]), "an ingress rule without from admits everyone"
            agent = [c for c in pod["spec"]["containers"] if c["name"] == "agent"][0]
            assert {p["name"] for p in agent["ports"]} >= ports
            assert pod["spec"]["hostPID"] is True and {"operator": "Exists"} in pod["spec"]["tolerations"]
            assert agent["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["SYS_PTRACE", "SYS_ADMIN"]}
            rules = [r for g in rule["spec"]["groups"] for r in g["rules"]]
            for r in rules:
                assert set(r) <= {"alert", "expr", "for", "labels", "annotations"}, r
            alert = [r for r in rules if "seccomp_warden_container" in r["expr"]][0]
            assert 'status!="holds"' in alert["expr"] and alert["for"] == "5m", alert
            print("ok")
            """, [Self.dir])
        #expect(r.status == 0 && r.stdout == "ok\n", "\(r.stdout) \(r.stderr)")
    }
}
