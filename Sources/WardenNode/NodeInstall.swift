#if os(Linux)
import CShim
import Glibc
import WardenCore
import WardenJSON
import WardenPolicy

/// `seccomp-warden node install` / `uninstall`: what a DaemonSet's init container does on each node.
/// Everything is checked before anything is written (a bad policy or an engine config it cannot
/// edit changes nothing); every change is logged and recorded for `uninstall`.
public struct NodeInstall {
    public var hostRoot: String
    public var engine: NodeEngine
    public var makeDefault = false
    public var restart = true
    /// The policy to install (the mounted ConfigMap's file); nil: leave the host's.
    public var policy: String?
    /// Where the hook files come from (a folder holding `hooks/`).
    public var share: String
    /// The binaries to install: this one, and the agent beside it.
    public var binary: String
    public var agent: String?

    public static let bin = "/usr/local/bin"
    /// A debug build of the agent is ~40 MB; a release build a fraction of that.
    static let binaryCap = 256 << 20

    public init(hostRoot: String, engine: NodeEngine, share: String, binary: String, agent: String?) {
        self.hostRoot = hostRoot
        self.engine = engine
        self.share = share
        self.binary = binary
        self.agent = agent
    }

    /// Returns whether the engine's configuration changed (it was restarted, or must be).
    @discardableResult
    public func install() throws(WardenError) -> Bool {
        let files = try HostFiles(hostRoot: hostRoot)
        // 1. Everything read and checked first.
        var policyBytes: [UInt8]? = nil
        if let policy {
            _ = try Policy.load(file: policy, checkOwnership: false)  // a policy that does not load is refused here
            policyBytes = try FileIO.readFile(policy)
        }
        let main = try FileIO.readFile(binary, cap: Self.binaryCap)
        let agentBytes = try agent.map { p throws(WardenError) in try FileIO.readFile(p, cap: Self.binaryCap) }
        let wrapper = Self.bin + "/seccomp-warden-" + (engine == .crio ? "crun" : "runc")
        var engineFiles = [(String, [UInt8])]()
        switch engine {
        case .containerd:
            let current = files.read(ContainerdConfig.path).map { String(decoding: $0, as: UTF8.self) }
            let plan: ContainerdConfig.Plan
            do { plan = try ContainerdConfig.plan(current: current, binary: wrapper, makeDefault: makeDefault) } catch { throw .input(error.description) }
            if let d = plan.dropIn { engineFiles.append((ContainerdConfig.dropIn, Array(d.utf8))) }
            engineFiles.append((ContainerdConfig.path, Array(plan.config.utf8)))
        case .crio:
            engineFiles.append((CrioConfig.dropIn, Array(CrioConfig.dropIn(binary: wrapper, makeDefault: makeDefault).utf8)))
        case .podman:
            for (from, to) in [("hooks/hooks.d/50-seccomp-warden-gate.json", "/etc/containers/oci/hooks.d/50-seccomp-warden-gate.json"),
                               ("hooks/hooks.d/51-seccomp-warden-poststart.json", "/etc/containers/oci/hooks.d/51-seccomp-warden-poststart.json"),
                               ("hooks/precreate.d/50-seccomp-warden-precreate.json", "/etc/containers/oci/hooks-precreate.d/50-seccomp-warden-precreate.json"),
                               ("hooks/podman/50-seccomp-warden.conf", "/etc/containers/containers.conf.d/50-seccomp-warden.conf")] {
                engineFiles.append((to, try FileIO.readFile(share + "/" + from)))
            }
        case .docker:
            engineFiles.append(("/etc/docker/daemon.json", try Self.dockerConfig(files.read("/etc/docker/daemon.json"), wrapper: wrapper, makeDefault: makeDefault)))
        }

        for path in [Self.bin + "/seccomp-warden", Self.bin + "/seccomp-warden-agent", "/etc/seccomp-warden/policy.json", HostFiles.ledgerPath] + engineFiles.map(\.0) {
            try files.refuseSymlinks(path)
        }
        for path in [Self.bin + "/seccomp-warden-runc", Self.bin + "/seccomp-warden-crun"] { try files.refuseSymlinks(path, last: false) }

        // 2. Then written, each only if it differs.
        try files.put(Self.bin + "/seccomp-warden", main, mode: 0o755)
        if let agentBytes { try files.put(Self.bin + "/seccomp-warden-agent", agentBytes, mode: 0o755) }
        try files.link(Self.bin + "/seccomp-warden-runc", to: "seccomp-warden")
        try files.link(Self.bin + "/seccomp-warden-crun", to: "seccomp-warden")
        if let policyBytes { try files.put("/etc/seccomp-warden/policy.json", policyBytes, mode: 0o644) }
        var changed = false
        for (path, bytes) in engineFiles where try files.put(path, bytes) { changed = true }
        try restartIfNeeded(changed, files: files)
        if files.log.isEmpty { files.note("nothing to change: \(engine.rawValue) already runs containers through seccomp-warden") }
        return changed
    }

    public func uninstall() throws(WardenError) {
        let files = try HostFiles(hostRoot: hostRoot)
        let changed = try files.revert()
        let engineChanged = changed.contains { $0.hasPrefix("/etc/containerd") || $0.hasPrefix("/etc/crio") || $0.hasPrefix("/etc/docker") }
        try restartIfNeeded(engineChanged, files: files)
        if changed.isEmpty { files.note("nothing to revert: no node install recorded under \(hostRoot)") }
    }

    /// daemon.json with `runtimes.warden` (and `default-runtime` with --default); other keys kept.
    static func dockerConfig(_ current: [UInt8]?, wrapper: String, makeDefault: Bool) throws(WardenError) -> [UInt8] {
        let doc = try JSONDocument(bytes: current ?? Array("{}".utf8), name: "/etc/docker/daemon.json")
        guard doc.root.kind == .object else { throw .input("not a JSON object", file: "/etc/docker/daemon.json") }
        let runtimes = doc.object(at: doc.root, key: "runtimes")
        if let existing = runtimes["warden"]?["path"]?.string, existing != wrapper {
            throw .input("runtimes.warden names \(existing), not seccomp-warden's wrapper: not changing it", file: "/etc/docker/daemon.json")
        }
        doc.set(.object([("path", .string(wrapper))]), at: runtimes, key: "warden")
        if makeDefault { doc.set(.string("warden"), at: doc.root, key: "default-runtime") }
        return doc.serialized(.indented) + [10]
    }

    /// Restarts the engine's unit through the host's systemctl (in pid 1's mount namespace when the
    /// host root is mounted elsewhere), or says what to restart with --no-restart.
    func restartIfNeeded(_ changed: Bool, files: HostFiles) throws(WardenError) {
        guard changed, let unit = engine.unit else { return }
        if !restart {
            files.note("restart needed: \(unit) reads its configuration at start (run on the host: systemctl restart \(unit))")
            return
        }
        if hostRoot != "/" && !hostRoot.isEmpty {
            let fd = open("/proc/1/ns/mnt", O_RDONLY | O_CLOEXEC)
            let rc = fd >= 0 ? sw_setns_mount(fd) : -errno
            guard rc == 0 else {
                throw .system("cannot enter the host's mount namespace to restart \(unit) (needs hostPID and privileges): \(errnoText(-rc)); restart it by hand: systemctl restart \(unit)")
            }
            close(fd)
        }
        let argv = ["systemctl", "restart", unit]
        var cargs = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, "systemctl", nil, nil, &cargs, environ)
        guard rc == 0 else { throw .system("cannot run systemctl restart \(unit): \(errnoText(rc))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else { throw .system("systemctl restart \(unit) failed (wait status \(status))") }
        files.note("restarted \(unit)")
    }
}
#endif
