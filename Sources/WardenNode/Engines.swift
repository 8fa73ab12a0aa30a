/// The engines `node install` registers the wrapper with, and how each reads its configuration.
public enum NodeEngine: String, CaseIterable, Sendable {
    case containerd, crio, podman, docker

    /// The systemd unit to restart when its configuration changed (podman has no daemon).
    public var unit: String? {
        switch self {
        case .containerd: "containerd"
        case .crio: "crio"
        case .docker: "docker"
        case .podman: nil
        }
    }
}

/// containerd's config.toml. containerd 1.6 reads `imports`, but an imported file's plugin table
/// *replaces* config.toml's whole table of that plugin (its config merge: "maps merged by keys, but
/// values are replaced entirely"): a drop-in for the CRI plugin would erase a node's own CRI settings
/// (sandbox_image, registry mirrors, SystemdCgroup). So the drop-in is used only when config.toml has
/// no CRI plugin table; otherwise config.toml itself is edited (a marked block, the original kept).
public enum ContainerdConfig {
    public static let path = "/etc/containerd/config.toml"
    public static let dropIn = "/etc/containerd/conf.d/50-seccomp-warden.toml"
    static let cri = "plugins.\"io.containerd.grpc.v1.cri\""
    static let begin = "# seccomp-warden node install: begin (node uninstall gives config.toml back)"
    static let end = "# seccomp-warden node install: end"

    public struct Plan: Equatable {
        /// config.toml as it must be.
        public var config: String
        /// The drop-in, when containerd reads it through `imports`.
        public var dropIn: String?
    }

    static func runtimeTables(binary: String) -> String {
        """
        [\(cri).containerd.runtimes.warden]
          runtime_type = "io.containerd.runc.v2"
        [\(cri).containerd.runtimes.warden.options]
          BinaryName = "\(binary)"

        """
    }

    /// The edit, as a function of config.toml now (nil: absent); applying it twice changes nothing.
    public static func plan(current: String?, binary: String, makeDefault: Bool) throws(NodeError) -> Plan {
        let text = current ?? "version = 2\n"
        // config.toml without the block an earlier install added.
        var out = [String]()
        var skipping = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line == begin { skipping = true; continue }
            if skipping { if line == end { skipping = false }; continue }
            out.append(line)
        }
        if out.contains(where: { $0.contains("runtimes.warden]") }) {
            throw NodeError("\(path) already has a runtime named warden that node install did not write: not changing it")
        }
        if !out.contains(where: { $0.trimmingSpaces.hasPrefix("[\(cri)") }) {
            // CRI settings in a form this edit does not read ('single quotes', [ spaces ], an inline
            // table, dotted keys): the import would replace the whole CRI table and erase them.
            if out.contains(where: { !$0.trimmingSpaces.hasPrefix("#") && $0.contains("io.containerd.grpc.v1.cri") }) {
                throw NodeError("\(path) sets the CRI plugin (io.containerd.grpc.v1.cri) in a form node install does not edit (it edits [plugins.\"io.containerd.grpc.v1.cri\"...] tables): an import would erase those settings; not changing it")
            }
            var dropText = "# Written by seccomp-warden node install; read through config.toml's imports.\nversion = 2\n" + runtimeTables(binary: binary)
            if makeDefault { dropText += "[\(cri).containerd]\n  default_runtime_name = \"warden\"\n" }
            return Plan(config: withImport(out), dropIn: dropText)
        }
        // config.toml has the CRI plugin's table: edit it.
        var block = [begin] + runtimeTables(binary: binary).split(separator: "\n").map(String.init)
        if makeDefault {
            if let header = out.firstIndex(where: { $0.trimmingSpaces == "[\(cri).containerd]" }) {
                var i = header + 1
                var replaced = false
                while i < out.count && !out[i].trimmingSpaces.hasPrefix("[") {
                    if out[i].trimmingSpaces.hasPrefix("default_runtime_name") {
                        out[i] = "  default_runtime_name = \"warden\""
                        replaced = true
                    }
                    i += 1
                }
                if !replaced { out.insert("  default_runtime_name = \"warden\"", at: header + 1) }
            } else {
                block += ["[\(cri).containerd]", "  default_runtime_name = \"warden\""]
            }
        }
        while out.last == "" { out.removeLast() }
        return Plan(config: (out + [""] + block + [end, ""]).joined(separator: "\n"), dropIn: nil)
    }

    /// config.toml with the drop-in in its top-level `imports` (added after `version`, before any table).
    static func withImport(_ lines: [String]) -> String {
        var out = lines
        let quoted = "\"\(dropIn)\""
        if let i = out.firstIndex(where: { $0.trimmingSpaces.hasPrefix("imports") && $0.contains("=") }) {
            if !out[i].contains(quoted), let open = out[i].firstIndex(of: "[") {
                let rest = out[i][out[i].index(after: open)...]
                let empty = rest.trimmingSpaces.hasPrefix("]")
                out[i] = String(out[i][...open]) + quoted + (empty ? "" : ", ") + rest
            }
        } else {
            let firstTable = out.firstIndex { $0.trimmingSpaces.hasPrefix("[") } ?? out.count
            let version = out[..<firstTable].firstIndex { $0.trimmingSpaces.hasPrefix("version") }
            out.insert("imports = [\(quoted)]", at: version.map { $0 + 1 } ?? 0)
        }
        var text = out.joined(separator: "\n")
        if !text.hasSuffix("\n") { text += "\n" }
        return text
    }
}

/// CRI-O reads every file of crio.conf.d after crio.conf: a drop-in of its own.
public enum CrioConfig {
    public static let dropIn = "/etc/crio/crio.conf.d/50-seccomp-warden.conf"

    public static func dropIn(binary: String, makeDefault: Bool) -> String {
        var out = "# Written by seccomp-warden node install.\n"
        if makeDefault { out += "[crio.runtime]\ndefault_runtime = \"warden\"\n\n" }
        out += """
            [crio.runtime.runtimes.warden]
            runtime_path = "\(binary)"
            runtime_type = "oci"
            runtime_root = "/run/crun"

            """
        return out
    }
}

public struct NodeError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed())
    }
}
