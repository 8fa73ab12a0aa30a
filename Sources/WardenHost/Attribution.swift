#if os(Linux)
import WardenCore
import WardenJSON
import WardenSpec

/// Who a container is, as its runtime's state and its config's annotations say.
public struct ContainerLabel: Hashable, Sendable {
    public var id: String
    /// The runtime state root it was found under.
    public var root: String
    public var namespace: String?
    public var pod: String?
    public var container: String?
    public var image: String?

    /// The CRI annotations each engine writes into config.json: containerd's CRI plugin, CRI-O (which also
    /// passes kubelet's labels). A container's creator can write these keys too: they label, never authorize.
    static let keys: [(field: String, keys: [String])] = [
        ("namespace", ["io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace", "io.kubernetes.cri-o.Namespace"]),
        ("pod", ["io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"]),
        ("container", ["io.kubernetes.cri.container-name", "io.kubernetes.container.name"]),
        ("image", ["io.kubernetes.cri.image-name", "io.kubernetes.cri-o.ImageName"]),
    ]

    public init(id: String, root: String, annotations: [(String, String)]) {
        self.id = id
        self.root = root
        func value(_ field: String) -> String? {
            let keys = Self.keys.first { $0.field == field }?.keys ?? []
            return keys.lazy.compactMap { k in annotations.first { $0.0 == k }?.1 }.first
        }
        namespace = value("namespace")
        pod = value("pod")
        container = value("container")
        image = value("image")
    }
}

/// Where a record's pid led.
public enum Attribution: Hashable, Sendable {
    case container(ContainerLabel)
    /// Not attributed, and why (the process exited, its pid is another process's now, it is not in a
    /// container any runtime root knows).
    case unattributed(String)
}

/// Maps pids to the running containers under the runtimes' state roots, from one scan of /proc and
/// the roots: a pid is a container's when it is in the container's PID namespace (or one nested in
/// it), or in its own cgroup (`ContainerProcesses`). Only while the process lives: the kernel's record
/// keeps no more than the pid.
public final class Attributor {
    var byPid = [Int32: ContainerLabel]()
    let boot: Double?

    public init(roots: [String]) {
        boot = ProcFS.bootWallClock()
        for record in (try? RuntimeState.all(roots: roots)) ?? [] where record.isRunning {
            var annotations = [(String, String)]()
            if let path = record.configPath, let doc = try? JSONDocument(contentsOf: path) {
                annotations = (try? OCIConfig(document: doc).annotations()) ?? []
            }
            let label = ContainerLabel(id: record.id, root: record.root, annotations: annotations)
            for pid in ContainerProcesses.find(init: record.pid, ownCgroup: record.ownCgroup).pids where byPid[pid] == nil {
                byPid[pid] = label
            }
        }
    }

    /// The container of the process that made a call at `time` (seconds since the epoch) as `pid`.
    public func attribute(pid: Int32, at time: Double) -> Attribution {
        guard ProcFS.exists(pid), let start = ProcFS.startUptime(pid) else {
            return .unattributed("the process exited")
        }
        // A process that started after the call is another one with the same pid (boot time has 1 s steps).
        if let boot, boot + start > time + 1 { return .unattributed("pid \(pid) is another process now") }
        guard let label = byPid[pid] else { return .unattributed("not in a container under the runtime roots") }
        return .container(label)
    }
}
#endif
