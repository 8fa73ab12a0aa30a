import ArgumentParser
import WardenCore
import WardenJSON
import WardenNode
#if canImport(Glibc)
import Glibc
#endif

/// `node install` / `node uninstall`: a node's set-up, as a DaemonSet's init container runs it.
struct Node: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Install seccomp-warden on a node (from a DaemonSet's init container), or remove it.",
        subcommands: [NodeInstallCommand.self, NodeUninstallCommand.self]
    )
}

struct NodeOptions: ParsableArguments {
    @Option(help: "Where the host's root is mounted (/ on the host itself).") var hostRoot: String
    @Option(help: "The engine to register the wrapper with: containerd, crio, podman or docker.") var engine: String = "containerd"
    @Flag(help: "Do not restart the engine; print what to restart.") var noRestart = false

    func validate() throws {
        guard NodeEngine(rawValue: engine) != nil else { throw ValidationError("--engine takes containerd, crio, podman or docker") }
    }

    /// This binary, the agent beside it, the share folder above it (`../share/seccomp-warden`).
    func installer(share: String?) -> NodeInstall {
        let exe = ProcFSPath.selfExe()
        let dir = FileIO.dirname(of: exe)
        let agent = dir + "/seccomp-warden-agent"
        var n = NodeInstall(hostRoot: hostRoot, engine: NodeEngine(rawValue: engine)!,
                            share: share ?? FileIO.dirname(of: dir) + "/share/seccomp-warden", binary: exe,
                            agent: FileIO.exists(agent) ? agent : nil)
        n.restart = !noRestart
        return n
    }
}

struct NodeInstallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Copy the binaries and wrapper links, the policy and the engine's drop-in under --host-root.",
        discussion: """
            Writes only what differs (idempotent), logs every change on stdout, and records it in \
            HOST/etc/seccomp-warden/node-install.ledger for `node uninstall`; a file it changes for the \
            first time keeps its original as FILE.seccomp-warden-orig. containerd: a runtime handler \
            `warden` (BinaryName: the wrapper) in /etc/containerd/conf.d/50-seccomp-warden.toml through \
            config.toml's imports when config.toml has no CRI plugin table, else in a marked block of \
            config.toml itself (containerd 1.6 replaces a whole plugin table from an import). CRI-O: \
            /etc/crio/crio.conf.d/50-seccomp-warden.conf. podman: the hook folders and a \
            containers.conf.d drop-in. docker: daemon.json's runtimes. --default makes `warden` the \
            engine's default runtime. The engine is restarted (systemctl, in pid 1's mount namespace) \
            only when its configuration changed. Exit: 0 done, 2 bad input (nothing changed), 3 system error.
            """
    )
    @OptionGroup var node: NodeOptions
    @Flag(help: "Make the wrapper the engine's default runtime (every container, not only RuntimeClass seccomp-warden).") var `default` = false
    @Option(help: "The policy to install as /etc/seccomp-warden/policy.json (e.g. the mounted ConfigMap's file).") var policy: String?
    @Option(help: "The folder holding hooks/ (default: ../share/seccomp-warden beside this binary's folder).") var share: String?

    func run() throws {
        var n = node.installer(share: share)
        n.makeDefault = self.default
        n.policy = policy
        do throws(WardenError) { try n.install() } catch {
            reportError(error, json: false, command: "node install", exit: error.exitCode)
            throw ExitCode(error.exitCode)
        }
    }
}

struct NodeUninstallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uninstall",
        abstract: "Revert exactly what node install recorded under --host-root (a file changed since is left alone, and named)."
    )
    @OptionGroup var node: NodeOptions

    func run() throws {
        do throws(WardenError) { try node.installer(share: nil).uninstall() } catch {
            reportError(error, json: false, command: "node uninstall", exit: error.exitCode)
            throw ExitCode(error.exitCode)
        }
    }
}

enum ProcFSPath {
    static func selfExe() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        return n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "/usr/local/bin/seccomp-warden"
    }
}
