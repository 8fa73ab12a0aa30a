import Foundation
import Testing

/// `seccomp-warden node install` / `uninstall` against a scratch host root holding real engine
/// config files, the result read by the real parser (`containerd --config F config dump`).
/// Attacks: a containerd config with its own CRI settings (a conf.d import would erase them in
/// containerd 1.6), a bad policy (nothing may change), a file changed after install (uninstall
/// must not overwrite it).
@Suite("node install", .serialized)
struct NodeInstallTests {
    /// A node's containerd config with CRI settings of its own (what kubeadm-style nodes carry).
    static let criConfig = """
        version = 2
        root = "/var/lib/containerd"

        [plugins."io.containerd.grpc.v1.cri"]
          sandbox_image = "registry.example/pause:9"
        [plugins."io.containerd.grpc.v1.cri".containerd]
          default_runtime_name = "runc"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
          runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = true

        """
    /// A config with no CRI table: the drop-in goes through `imports`.
    static let plainConfig = """
        version = 2
        [grpc]
          max_recv_message_size = 16777216

        """

    static func host(_ config: String?) throws -> String {
        let dir = try tempDir("node-host")
        try FileManager.default.createDirectory(atPath: dir + "/etc/containerd", withIntermediateDirectories: true)
        if let config { try config.write(toFile: dir + "/etc/containerd/config.toml", atomically: false, encoding: .utf8) }
        return dir
    }

    static let dir = Data("<folder>".utf8)

    /// Every file under the host root with its bytes (symlinks as their target): to compare trees.
    static func tree(_ root: String) -> [String: Data] {
        var out = [String: Data]()
        let fm = FileManager.default
        guard let e = fm.enumerator(atPath: root) else { return out }
        while let rel = e.nextObject() as? String {
            let p = root + "/" + rel
            if let target = try? fm.destinationOfSymbolicLink(atPath: p) { out[rel] = Data(("-> " + target).utf8); continue }
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: p, isDirectory: &isDir), !isDir.boolValue {
                out[rel] = fm.contents(atPath: p) ?? Data()
            } else {
                out[rel] = Self.dir
            }
        }
        return out
    }

    static func install(_ host: String, _ extra: [String] = []) throws -> Result {
        try warden(["node", "install", "--host-root", host, "--no-restart", "--share", Repo.root] + extra)
    }

    /// containerd's own reading of the config (imports pointed at the scratch root's copy).
    static func dump(_ host: String) throws -> Result {
        let config = host + "/etc/containerd/config.toml"
        let text = readText(config).replacingOccurrences(of: "\"/etc/containerd/conf.d/", with: "\"\(host)/etc/containerd/conf.d/")
        try text.write(toFile: host + "/dump.toml", atomically: false, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: host + "/dump.toml") }
        return try run("/usr/bin/env", ["containerd", "--config", host + "/dump.toml", "config", "dump"])
    }

    @Test("containerd with CRI settings of its own: config.toml edited (not an import that would erase them), idempotent, uninstall gives every byte back")
    func containerdEdit() throws {
        let h = try Self.host(Self.criConfig)
        defer { cleanup(h) }
        let before = Self.tree(h)
        // The attack on the alternative: an import of a CRI table replaces config.toml's whole CRI table.
        try FileManager.default.createDirectory(atPath: h + "/probe", withIntermediateDirectories: true)
        try (Self.criConfig.replacingOccurrences(of: "version = 2\n", with: "version = 2\nimports = [\"\(h)/probe/d.toml\"]\n"))
            .write(toFile: h + "/probe/config.toml", atomically: false, encoding: .utf8)
        try "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.warden]\n  runtime_type = \"io.containerd.runc.v2\"\n"
            .write(toFile: h + "/probe/d.toml", atomically: false, encoding: .utf8)
        let probe = try run("/usr/bin/env", ["containerd", "--config", h + "/probe/config.toml", "config", "dump"])
        #expect(probe.status == 0 && probe.stdout.contains("runtimes.warden"), "\(probe.stderr)")
        #expect(!probe.stdout.contains("registry.example/pause:9"), "containerd 1.6 kept the CRI table across an import: the edit is not needed any more")
        try FileManager.default.removeItem(atPath: h + "/probe")

        let r = try Self.install(h, ["--policy", Repo.root + "/examples/policy.json"])
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("restart needed: containerd"), "\(r.stdout)")
        #expect(FileManager.default.contents(atPath: h + "/usr/local/bin/seccomp-warden") == FileManager.default.contents(atPath: Repo.binary))
        #expect(FileManager.default.isExecutableFile(atPath: h + "/usr/local/bin/seccomp-warden"))
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: h + "/usr/local/bin/seccomp-warden-runc")) == "seccomp-warden")
        #expect(readText(h + "/etc/seccomp-warden/policy.json") == readText(Repo.root + "/examples/policy.json"))
        #expect(readText(h + "/etc/containerd/config.toml.seccomp-warden-orig") == Self.criConfig)
        #expect(!FileManager.default.fileExists(atPath: h + "/etc/containerd/conf.d/50-seccomp-warden.toml"))
        let d = try Self.dump(h)
        #expect(d.status == 0, "\(d.stderr)")
        #expect(d.stdout.contains("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.warden]"), "\(d.stdout)")
        #expect(d.stdout.contains("BinaryName = \"/usr/local/bin/seccomp-warden-runc\""), "\(d.stdout)")
        #expect(d.stdout.contains("sandbox_image = \"registry.example/pause:9\""), "the node's CRI settings were lost: \(d.stdout)")
        #expect(d.stdout.contains("SystemdCgroup = true"), "\(d.stdout)")
        #expect(d.stdout.contains("default_runtime_name = \"runc\""), "\(d.stdout)")

        // Again: nothing changes, nothing to restart.
        let installed = Self.tree(h)
        let again = try Self.install(h, ["--policy", Repo.root + "/examples/policy.json"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(!again.stdout.contains("restart needed"), "\(again.stdout)")
        #expect(again.stdout.contains("nothing to change"), "\(again.stdout)")
        #expect(Self.tree(h) == installed)

        // --default: the CRI plugin's default runtime becomes warden.
        let def = try Self.install(h, ["--default"])
        #expect(def.status == 0 && def.stdout.contains("restart needed: containerd"), "\(def.stdout) \(def.stderr)")
        let dd = try Self.dump(h)
        #expect(dd.stdout.contains("default_runtime_name = \"warden\""), "\(dd.stdout)")
        #expect(dd.stdout.contains("sandbox_image = \"registry.example/pause:9\""))

        let u = try warden(["node", "uninstall", "--host-root", h, "--no-restart"])
        #expect(u.status == 0, "\(u.stdout) \(u.stderr)")
        #expect(u.stdout.contains("restart needed: containerd"), "\(u.stdout)")
        #expect(readText(h + "/etc/containerd/config.toml") == Self.criConfig)
        #expect(Self.tree(h).filter { $0.value != Self.dir } == before.filter { $0.value != Self.dir }, "\(Self.tree(h).keys.sorted())")
    }

    @Test("containerd without a CRI table: a conf.d drop-in through imports, read by containerd; uninstall reverts")
    func containerdImport() throws {
        let h = try Self.host(Self.plainConfig)
        defer { cleanup(h) }
        let r = try Self.install(h)
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: h + "/etc/containerd/conf.d/50-seccomp-warden.toml"))
        #expect(readText(h + "/etc/containerd/config.toml").contains("imports = [\"/etc/containerd/conf.d/50-seccomp-warden.toml\"]"))
        let d = try Self.dump(h)
        #expect(d.status == 0, "\(d.stderr)")
        #expect(d.stdout.contains("BinaryName = \"/usr/local/bin/seccomp-warden-runc\""), "\(d.stdout)")
        #expect(d.stdout.contains("max_recv_message_size = 16777216"), "\(d.stdout)")
        let u = try warden(["node", "uninstall", "--host-root", h, "--no-restart"])
        #expect(u.status == 0, "\(u.stdout) \(u.stderr)")
        #expect(readText(h + "/etc/containerd/config.toml") == Self.plainConfig)
        #expect(!FileManager.default.fileExists(atPath: h + "/etc/containerd/conf.d/50-seccomp-warden.toml"))
        #expect(!FileManager.default.fileExists(atPath: h + "/usr/local/bin/seccomp-warden"))
    }

    @Test("a policy that does not load: exit 2, one line naming it, nothing written")
    func badPolicy() throws {
        let h = try Self.host(Self.criConfig)
        defer { cleanup(h) }
        try "{\"mode\": \"enforce\", \"deny\": [\"no_such_syscall\"".write(toFile: h + "/bad.json", atomically: false, encoding: .utf8)
        let before = Self.tree(h)
        let r = try Self.install(h, ["--policy", h + "/bad.json"])
        #expect(r.status == 2, "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("bad.json"), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(Self.tree(h) == before)
        // Control: the same host takes a good policy.
        #expect(try Self.install(h, ["--policy", Repo.root + "/examples/policy.json"]).status == 0)
    }

    @Test("a file changed after install is not overwritten by uninstall, and is named")
    func changedAfterInstall() throws {
        let h = try Self.host(Self.criConfig)
        defer { cleanup(h) }
        #expect(try Self.install(h).status == 0)
        let edited = readText(h + "/etc/containerd/config.toml") + "# the admin's own line\n"
        try edited.write(toFile: h + "/etc/containerd/config.toml", atomically: false, encoding: .utf8)
        let u = try warden(["node", "uninstall", "--host-root", h, "--no-restart"])
        #expect(u.status != 0, "\(u.stdout)")
        #expect(u.stderr.contains("config.toml changed since node install"), "\(u.stderr)")
        #expect(readText(h + "/etc/containerd/config.toml") == edited)
    }

    @Test("CRI-O and podman: their drop-in and hook files, reverted by uninstall", arguments: ["crio", "podman"])
    func otherEngines(engine: String) throws {
        let h = try Self.host(nil)
        defer { cleanup(h) }
        let r = try Self.install(h, ["--engine", engine, "--default"])
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        if engine == "crio" {
            let conf = readText(h + "/etc/crio/crio.conf.d/50-seccomp-warden.conf")
            #expect(conf.contains("runtime_path = \"/usr/local/bin/seccomp-warden-crun\"") && conf.contains("default_runtime = \"warden\""), "\(conf)")
            #expect(r.stdout.contains("restart needed: crio"))
        } else {
            #expect(readText(h + "/etc/containers/oci/hooks.d/50-seccomp-warden-gate.json") == readText(Repo.root + "/hooks/hooks.d/50-seccomp-warden-gate.json"))
            #expect(FileManager.default.fileExists(atPath: h + "/etc/containers/containers.conf.d/50-seccomp-warden.conf"))
            #expect(!r.stdout.contains("restart needed"), "podman has no daemon: \(r.stdout)")
        }
        let u = try warden(["node", "uninstall", "--host-root", h, "--no-restart"])
        #expect(u.status == 0, "\(u.stdout) \(u.stderr)")
        #expect(Self.tree(h).values.allSatisfy { $0 == Self.dir }, "\(Self.tree(h).keys.sorted())")
    }

    @Test("docker: daemon.json gets runtimes.warden (and default-runtime with --default), every other key kept; uninstall gives the file back")
    func docker() throws {
        let h = try Self.host(nil)
        defer { cleanup(h) }
        try FileManager.default.createDirectory(atPath: h + "/etc/docker", withIntermediateDirectories: true)
        let original = "{\n  \"log-driver\": \"journald\",\n  \"runtimes\": {\"kata\": {\"path\": \"/usr/bin/kata-runtime\"}}\n}\n"
        try original.write(toFile: h + "/etc/docker/daemon.json", atomically: false, encoding: .utf8)
        let r = try Self.install(h, ["--engine", "docker", "--default"])
        #expect(r.status == 0 && r.stdout.contains("restart needed: docker"), "\(r.stdout) \(r.stderr)")
        let config = try JSONSerialization.jsonObject(with: Data(readText(h + "/etc/docker/daemon.json").utf8)) as? [String: Any] ?? [:]
        #expect(config["log-driver"] as? String == "journald")
        #expect(config["default-runtime"] as? String == "warden")
        let runtimes = config["runtimes"] as? [String: Any] ?? [:]
        #expect((runtimes["warden"] as? [String: Any])?["path"] as? String == "/usr/local/bin/seccomp-warden-runc", "\(config)")
        #expect((runtimes["kata"] as? [String: Any])?["path"] as? String == "/usr/bin/kata-runtime", "\(config)")
        #expect(try Self.install(h, ["--engine", "docker", "--default"]).stdout.contains("nothing to change"))
        // A warden runtime someone else wrote is not replaced.
        let other = try Self.host(nil)
        defer { cleanup(other) }
        try FileManager.default.createDirectory(atPath: other + "/etc/docker", withIntermediateDirectories: true)
        try "{\"runtimes\": {\"warden\": {\"path\": \"/opt/other\"}}}".write(toFile: other + "/etc/docker/daemon.json", atomically: false, encoding: .utf8)
        let refused = try Self.install(other, ["--engine", "docker"])
        #expect(refused.status == 2, "\(refused.stdout) \(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: other + "/usr/local/bin/seccomp-warden"), "something was written before the refusal")
        let u = try warden(["node", "uninstall", "--host-root", h, "--no-restart"])
        #expect(u.status == 0, "\(u.stdout) \(u.stderr)")
        #expect(readText(h + "/etc/docker/daemon.json") == original)
    }

    @Test("red team: config.toml a symlink to the admin's real file: refused, nothing written (it was replaced by a fresh config, and uninstall then deleted it)")
    func configSymlink() throws {
        let h = try Self.host(nil)
        defer { cleanup(h) }
        try Self.criConfig.write(toFile: h + "/etc/containerd/config-node.toml", atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: h + "/etc/containerd/config.toml", withDestinationPath: "config-node.toml")
        let before = Self.tree(h)
        let r = try Self.install(h)
        #expect(r.status == 2, "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("config.toml is a symlink"), "\(r.stderr)")
        #expect(Self.tree(h) == before, "\(Self.tree(h).keys.sorted())")
    }

    @Test("red team: a symlinked folder under the host root (etc/containerd -> elsewhere): nothing written outside --host-root, nothing written at all")
    func folderSymlink() throws {
        let h = try tempDir("node-host")
        let outside = try tempDir("node-outside")
        defer { cleanup(h); cleanup(outside) }
        try FileManager.default.createDirectory(atPath: h + "/etc", withIntermediateDirectories: true)
        try Self.criConfig.write(toFile: outside + "/config.toml", atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: h + "/etc/containerd", withDestinationPath: outside)
        let before = Self.tree(h), outsideBefore = Self.tree(outside)
        let r = try Self.install(h)
        #expect(r.status == 2, "\(r.stdout) \(r.stderr)")
        #expect(Self.tree(outside) == outsideBefore, "written outside the host root: \(Self.tree(outside).keys.sorted())")
        #expect(Self.tree(h) == before, "\(Self.tree(h).keys.sorted())")
    }

    @Test("red team: CRI settings in TOML forms the edit does not read ('quotes', [ spaces ], inline table): refused, not erased by an import", arguments: [
        "[plugins.'io.containerd.grpc.v1.cri']\n  sandbox_image = \"registry.example/pause:9\"\n",
        "[ plugins.\"io.containerd.grpc.v1.cri\" ]\n  sandbox_image = \"registry.example/pause:9\"\n",
        "[plugins]\n  \"io.containerd.grpc.v1.cri\" = { sandbox_image = \"registry.example/pause:9\" }\n",
    ])
    func oddCRITable(table: String) throws {
        let config = "version = 2\n" + table
        let h = try Self.host(config)
        defer { cleanup(h) }
        let d0 = try Self.dump(h)
        #expect(d0.stdout.contains("registry.example/pause:9"), "\(d0.stdout) \(d0.stderr)")
        let before = Self.tree(h)
        let r = try Self.install(h)
        if r.status == 0 {
            let d = try Self.dump(h)
            #expect(d.stdout.contains("sandbox_image = \"registry.example/pause:9\""), "the node's CRI settings were erased: \(readText(h + "/etc/containerd/config.toml"))")
        } else {
            #expect(r.status == 2, "\(r.stdout) \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
            #expect(Self.tree(h) == before)
        }
    }

    @Test("red team: a ledger entry naming a path with '..' (the digest is no secret): uninstall deletes nothing outside --host-root")
    func ledgerEscape() throws {
        let h = try Self.host(Self.criConfig)
        let outside = try tempDir("node-victim")
        defer { cleanup(h); cleanup(outside) }
        #expect(try Self.install(h).status == 0)
        let victim = outside + "/victim"
        try "precious\n".write(toFile: victim, atomically: false, encoding: .utf8)
        // FNV-1a 64 of the victim's bytes, as HostFiles computes it.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in Array("precious\n".utf8) { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
        let ledger = h + "/etc/seccomp-warden/node-install.ledger"
        let up = String(repeating: "/..", count: h.split(separator: "/").count)
        try (readText(ledger) + "created \(String(hash, radix: 16)) \(up)\(victim)\n").write(toFile: ledger, atomically: false, encoding: .utf8)
        let u = try warden(["node", "uninstall", "--host-root", h, "--no-restart"])
        #expect(FileManager.default.fileExists(atPath: victim), "uninstall deleted \(victim) outside the host root: \(u.stdout) \(u.stderr)")
        #expect(u.status == 2, "\(u.stdout) \(u.stderr)")
    }
}
