import WardenCore
import WardenJSON
import WardenSpec

/// Which container a precreate decision is about. podman 4.3 hands precreate the config alone: an
/// empty environment, no state, no id or name among the annotations (it sets `io.container.manager`,
/// `io.podman.annotations.*` flags, `org.opencontainers.image.stopSignal`; the creator may add any).
/// The id is in fields podman itself derives from it, read here in this order:
/// - `linux.cgroupsPath`, last component: `…/libpod-ID` (cgroupfs) or `machine.slice:libpod:ID` (systemd);
/// - the source of podman's own mounts of `/run/.containerenv`, `/etc/hostname`, `/etc/hosts`:
///   `RUNROOT/DRIVER-containers/ID/userdata/…`.
/// The bundle podman will create is the folder of the `/dev/shm` mount's source,
/// `GRAPHROOT/DRIVER-containers/ID/userdata/shm`, when podman manages that mount (not with `--ipc=host`).
/// None of this decides anything: it makes the record traceable to the gate's and poststart's records,
/// which carry the runtime's own id and bundle.
public enum ContainerIdentity {
    public struct Found: Equatable, Sendable {
        public var id: String?
        /// Where the id was read, e.g. `config:linux.cgroupsPath`.
        public var idFrom: String?
        public var bundle: String?
    }

    public static func of(_ config: OCIConfig) -> Found {
        var found = Found()
        let root = config.document.root
        if let path = root["linux"]?["cgroupsPath"]?.string {
            let last = path.split(whereSeparator: { $0 == "/" || $0 == ":" }).last.map(String.init) ?? ""
            let id = last.hasPrefix("libpod-") ? String(last.dropFirst("libpod-".count)) : last
            if isID(id) && (last.hasPrefix("libpod-") || path.contains(":libpod:")) {
                found.id = id
                found.idFrom = "config:linux.cgroupsPath"
            }
        }
        let mounts = root["mounts"]?.elements ?? []
        func source(_ destination: String) -> (index: Int, text: String, parts: [Substring])? {
            guard let i = mounts.firstIndex(where: { $0["destination"]?.string == destination }),
                  let s = mounts[i]["source"]?.string, s.hasPrefix("/") else { return nil }
            return (i, s, s.split(separator: "/"))
        }
        if found.id == nil {
            for destination in ["/run/.containerenv", "/etc/hostname", "/etc/hosts"] {
                guard let (i, _, parts) = source(destination), parts.count >= 3, parts[parts.count - 2] == "userdata",
                      isID(String(parts[parts.count - 3])) else { continue }
                found.id = String(parts[parts.count - 3])
                found.idFrom = "config:mounts[\(i)].source"
                break
            }
        }
        // The folder of the shm mount's source, spelled as podman spelled it (podman names the bundle the same way).
        if let id = found.id, let (_, text, parts) = source("/dev/shm"), parts.count >= 3, text.hasSuffix("/shm"),
           parts.last == "shm", parts[parts.count - 2] == "userdata", parts[parts.count - 3] == Substring(id) {
            found.bundle = String(text.dropLast("/shm".count))
        }
        return found
    }

    /// The container a hook's stdin names, whatever else is wrong with it: the state's `id` and
    /// `bundle` (gates, poststart), or what `of(_:)` finds in precreate's config.
    public static func of(stage: String, input: [UInt8]) -> Found {
        guard let doc = try? JSONDocument(bytes: input, name: "<stdin>") else { return Found() }
        if stage == "precreate" { return of(OCIConfig(document: doc)) }
        let id = doc.root["id"]?.string
        return Found(id: id, idFrom: id == nil ? nil : "state", bundle: doc.root["bundle"]?.string)
    }

    /// podman's and CRI-O's container ids: 64 lowercase hex digits.
    static func isID(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }
}
