import WardenCore
import WardenJSON

/// A seccomp profile in Docker's format (what `docker run --security-opt seccomp=FILE` takes), with
/// podman's additions: `archMap`, rules filtered by `includes`/`excludes` on `caps`, `arches` and
/// `minKernel`, the old single `name`, `comment`, and errno names (`defaultErrno`, `errno`).
/// It becomes a runtime-spec profile only for one context (capabilities, architecture, kernel):
/// see `convert(_:)`, which follows moby's profiles/seccomp `setupSeccomp`.
public struct DockerProfile: Sendable {
    public var defaultAction: SeccompAction
    public var defaultErrnoRet: UInt32?
    /// The plain `architectures` list (Docker keeps it as is); nil when absent or empty.
    public var architectures: [SeccompArch]?
    /// `archMap`; nil when absent or empty. Architectures stay strings until one is chosen, so an
    /// entry for an architecture this build does not know (SCMP_ARCH_LOONGARCH64) is no error.
    public var archMap: [ArchMapEntry]?
    public var flags: LinuxSeccomp.Flags
    public var listenerPath: String?
    public var listenerMetadata: String?
    public var syscalls: [DockerSyscall]
    /// Where the profile was read from (errors during conversion name paths under it).
    public var path: JSONPath

    public struct ArchMapEntry: Sendable {
        public var architecture: String
        public var subArchitectures: [String]
        public var path: JSONPath
    }
}

/// One `syscalls[]` entry of a Docker-format profile.
public struct DockerSyscall: Sendable {
    public var names: [String]
    public var action: SeccompAction
    public var errnoRet: UInt32?
    public var args: [LinuxSeccompArg]?
    public var comment: String?
    public var includes: DockerFilter
    public var excludes: DockerFilter
    public var path: JSONPath
    /// Both the old `name` and `names` were given (an error if the rule applies, as in Docker).
    public var nameAndNames: Bool

    /// The runtime-spec rule this entry becomes when it applies.
    public var rule: LinuxSyscall { LinuxSyscall(names: names, action: action, errnoRet: errnoRet, args: args) }
}

/// `includes` / `excludes`: conditions on the container's capabilities, the host architecture
/// (Docker's names: amd64, arm64, x86, x32, s390x, …) and the host kernel.
public struct DockerFilter: Sendable, Equatable {
    public var caps: [String] = []
    public var arches: [String] = []
    public var minKernel: KernelVersion?

    public init(caps: [String] = [], arches: [String] = [], minKernel: KernelVersion? = nil) {
        self.caps = caps
        self.arches = arches
        self.minKernel = minKernel
    }

    public var isEmpty: Bool { caps.isEmpty && arches.isEmpty && minKernel == nil }
}

/// A kernel version as Docker compares it: `<kernel>.<major>` only, so 3.12.25-gentoo, 3.12-1-amd64
/// and 3.12 are all equal.
public struct KernelVersion: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var kernel: UInt64
    public var major: UInt64

    public init(_ kernel: UInt64, _ major: UInt64) {
        self.kernel = kernel
        self.major = major
    }

    public static func < (a: KernelVersion, b: KernelVersion) -> Bool {
        (a.kernel, a.major) < (b.kernel, b.major)
    }

    public var description: String { "\(kernel).\(major)" }

    /// A profile's `minKernel`, as moby's KernelVersion.UnmarshalJSON takes it: exactly two
    /// decimal parts of at most 255 each, not 0.0. The empty string means "no condition" (nil).
    public static func parseMinKernel(_ s: String, path: JSONPath = .root) throws(WardenError) -> KernelVersion? {
        if s.isEmpty { return nil }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        let expected = "invalid kernel version \"\(s)\", expected \"<kernel>.<major>\""
        guard parts.count == 2 else { throw .input(expected, path: path) }
        guard parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              let k = UInt8(parts[0]), let m = UInt8(parts[1]) else {
            throw .input(expected + " (each part a number 0...255)", path: path)
        }
        if k == 0 && m == 0 { throw .input(expected + ": version cannot be 0.0", path: path) }
        return KernelVersion(UInt64(k), UInt64(m))
    }

    /// A kernel release as uname(2) gives it (`6.1.0-18-amd64`), or `--kernel X.Y`: the leading
    /// digits of the first two dot-separated parts (Go's `Sscanf(release, "%d.%d")`).
    public init?(release: String) {
        var fields = [UInt64]()
        var rest = Substring(release)
        for i in 0..<2 {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let v = UInt64(digits) else { return nil }
            fields.append(v)
            rest = rest.dropFirst(digits.count)
            if i == 0 {
                guard rest.first == "." else { return nil }
                rest = rest.dropFirst()
            }
        }
        self.init(fields[0], fields[1])
    }
}

/// podman's errno names for `defaultErrno` / `errno` (Linux's generic numbering, as on x86_64 and aarch64).
public let errnoNames: [String: UInt32] = [
    "EPERM": 1, "ENOENT": 2, "ESRCH": 3, "EINTR": 4, "EIO": 5, "ENXIO": 6, "E2BIG": 7, "ENOEXEC": 8,
    "EBADF": 9, "ECHILD": 10, "EAGAIN": 11, "EWOULDBLOCK": 11, "ENOMEM": 12, "EACCES": 13, "EFAULT": 14,
    "ENOTBLK": 15, "EBUSY": 16, "EEXIST": 17, "EXDEV": 18, "ENODEV": 19, "ENOTDIR": 20, "EISDIR": 21,
    "EINVAL": 22, "ENFILE": 23, "EMFILE": 24, "ENOTTY": 25, "ETXTBSY": 26, "EFBIG": 27, "ENOSPC": 28,
    "ESPIPE": 29, "EROFS": 30, "EMLINK": 31, "EPIPE": 32, "EDOM": 33, "ERANGE": 34, "EDEADLK": 35,
    "EDEADLOCK": 35, "ENAMETOOLONG": 36, "ENOLCK": 37, "ENOSYS": 38, "ENOTEMPTY": 39, "ELOOP": 40,
    "ENOMSG": 42, "EIDRM": 43, "ECHRNG": 44, "EL2NSYNC": 45, "EL3HLT": 46, "EL3RST": 47, "ELNRNG": 48,
    "EUNATCH": 49, "ENOCSI": 50, "EL2HLT": 51, "EBADE": 52, "EBADR": 53, "EXFULL": 54, "ENOANO": 55,
    "EBADRQC": 56, "EBADSLT": 57, "EBFONT": 59, "ENOSTR": 60, "ENODATA": 61, "ETIME": 62, "ENOSR": 63,
    "ENONET": 64, "ENOPKG": 65, "EREMOTE": 66, "ENOLINK": 67, "EADV": 68, "ESRMNT": 69, "ECOMM": 70,
    "EPROTO": 71, "EMULTIHOP": 72, "EDOTDOT": 73, "EBADMSG": 74, "EOVERFLOW": 75, "ENOTUNIQ": 76,
    "EBADFD": 77, "EREMCHG": 78, "ELIBACC": 79, "ELIBBAD": 80, "ELIBSCN": 81, "ELIBMAX": 82,
    "ELIBEXEC": 83, "EILSEQ": 84, "ERESTART": 85, "ESTRPIPE": 86, "EUSERS": 87, "ENOTSOCK": 88,
    "EDESTADDRREQ": 89, "EMSGSIZE": 90, "EPROTOTYPE": 91, "ENOPROTOOPT": 92, "EPROTONOSUPPORT": 93,
    "ESOCKTNOSUPPORT": 94, "EOPNOTSUPP": 95, "ENOTSUP": 95, "EPFNOSUPPORT": 96, "EAFNOSUPPORT": 97,
    "EADDRINUSE": 98, "EADDRNOTAVAIL": 99, "ENETDOWN": 100, "ENETUNREACH": 101, "ENETRESET": 102,
    "ECONNABORTED": 103, "ECONNRESET": 104, "ENOBUFS": 105, "EISCONN": 106, "ENOTCONN": 107,
    "ESHUTDOWN": 108, "ETOOMANYREFS": 109, "ETIMEDOUT": 110, "ECONNREFUSED": 111, "EHOSTDOWN": 112,
    "EHOSTUNREACH": 113, "EALREADY": 114, "EINPROGRESS": 115, "ESTALE": 116, "EUCLEAN": 117,
    "ENOTNAM": 118, "ENAVAIL": 119, "EISNAM": 120, "EREMOTEIO": 121, "EDQUOT": 122, "ENOMEDIUM": 123,
    "EMEDIUMTYPE": 124, "ECANCELED": 125, "ENOKEY": 126, "EKEYEXPIRED": 127, "EKEYREVOKED": 128,
    "EKEYREJECTED": 129, "EOWNERDEAD": 130, "ENOTRECOVERABLE": 131, "ERFKILL": 132, "EHWPOISON": 133,
]

// MARK: - Decoding

extension DockerProfile {
    /// Keys that only Docker's or podman's format has: their presence selects this reader.
    static let topLevelMarkers: Set<String> = ["archMap", "defaultErrno"]
    static let syscallMarkers: Set<String> = ["name", "comment", "includes", "excludes", "errno"]

    /// Whether `node` (a profile object) is written in Docker's or podman's format rather than the runtime-spec's.
    public static func isDockerFormat(_ node: JSONNode) -> Bool {
        guard node.kind == .object else { return false }
        if node.keys.contains(where: topLevelMarkers.contains) { return true }
        guard let list = node["syscalls"], list.kind == .array else { return false }
        return list.elements.contains { $0.kind == .object && $0.keys.contains(where: syscallMarkers.contains) }
    }

    public init(node: JSONNode) throws(WardenError) {
        _ = try node.expectObject()
        path = node.path
        guard let da = node["defaultAction"], !da.isNull else {
            throw .input("missing required field defaultAction", path: node.path / "defaultAction")
        }
        defaultAction = try lookup(SeccompAction.self, da.expectString(), what: "action", path: da.path)
        if defaultAction == .notify {
            throw .input("SCMP_ACT_NOTIFY cannot be the default action", path: da.path)
        }
        // podman: defaultErrno (a name or a number, as a string) wins over defaultErrnoRet.
        defaultErrnoRet = try Self.errno(node, nameKey: "defaultErrno", numberKey: "defaultErrnoRet")
        if defaultErrnoRet != nil && !defaultAction.takesErrnoRet {
            let key = node["defaultErrno"].map { $0.isNull || $0.string == "" ? "defaultErrnoRet" : "defaultErrno" } ?? "defaultErrnoRet"
            throw .input("\(key) is only allowed with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not \(defaultAction.rawValue)", path: node.path / key)
        }

        // An empty list is none, as Docker reads it.
        architectures = try node.architectureList().flatMap { $0.isEmpty ? nil : $0 }
        archMap = nil
        if let m = node["archMap"], !m.isNull {
            var entries = [ArchMapEntry]()
            for item in try m.expectArray() {
                _ = try item.expectObject()
                guard let a = item["architecture"] else {
                    throw .input("missing required field architecture", path: item.path / "architecture")
                }
                var subs = [String]()
                if let s = item["subArchitectures"], !s.isNull {
                    for sub in try s.expectArray() { subs.append(try sub.expectString(nonEmpty: true)) }
                }
                entries.append(ArchMapEntry(architecture: try a.expectString(nonEmpty: true), subArchitectures: subs, path: item.path))
            }
            if !entries.isEmpty { archMap = entries }
        }
        if architectures != nil && archMap != nil {
            throw .input("both architectures and archMap are given; use one of them (Docker refuses such a profile)", path: node.path / "archMap")
        }

        flags = try LinuxSeccomp.Flags(node: node["flags"])
        listenerPath = try node["listenerPath"].flatMap { $0.isNull || $0.string == "" ? nil : $0 }.map { n throws(WardenError) in try n.expectString(nonEmpty: true) }
        listenerMetadata = try node["listenerMetadata"].flatMap { $0.isNull || $0.string == "" ? nil : $0 }.map { n throws(WardenError) in try n.expectString() }
        if let meta = node["listenerMetadata"], listenerMetadata != nil, listenerPath == nil {
            throw .input("listenerMetadata is set but listenerPath is not", path: meta.path)
        }

        syscalls = []
        if let s = node["syscalls"], !s.isNull {
            for item in try s.expectArray() { syscalls.append(try DockerSyscall(node: item)) }
        }
        if listenerPath == nil, let rule = syscalls.first(where: { $0.action == .notify }) {
            throw .input("SCMP_ACT_NOTIFY needs listenerPath", path: rule.path / "action")
        }
    }

    /// podman's `getErrno`: the string field (a decimal number or an errno name) if non-empty, else the number field.
    static func errno(_ node: JSONNode, nameKey: String, numberKey: String) throws(WardenError) -> UInt32? {
        if let n = node[nameKey], !n.isNull {
            let s = try n.expectString()
            if !s.isEmpty {
                let value: UInt32
                if let v = UInt32(s) {
                    value = v
                } else if let v = errnoNames[s] {
                    value = v
                } else {
                    throw .input("unknown errno \"\(s)\" (a number, or a name such as EPERM, ENOSYS)", path: n.path)
                }
                guard value <= maxErrno else { throw .input("\(value) is out of range (0...\(maxErrno))", path: n.path) }
                return value
            }
        }
        if let e = node[numberKey], !e.isNull {
            return try e.expectUInt32(max: maxErrno)
        }
        return nil
    }
}

extension DockerSyscall {
    public init(node: JSONNode) throws(WardenError) {
        _ = try node.expectObject()
        path = node.path
        let single = try node["name"].flatMap { $0.isNull ? nil : $0 }.map { n throws(WardenError) in try n.expectString() } ?? ""
        var list = [String]()
        var seen = Set<String>()
        if let n = node["names"], !n.isNull {
            for item in try n.expectArray() {
                let name = try item.expectString(nonEmpty: true)
                guard seen.insert(name).inserted else { throw .input("duplicate syscall name \"\(name)\"", path: item.path) }
                list.append(name)
            }
        }
        // Both: Docker refuses the profile, but only when the rule applies; convert(_:) checks that.
        nameAndNames = !single.isEmpty && !list.isEmpty
        if !single.isEmpty && list.isEmpty { list = [single] }
        guard !list.isEmpty else { throw .input("missing required field names (or the old single name)", path: node.path / "names") }
        names = list
        action = try node.ruleAction()
        errnoRet = try DockerProfile.errno(node, nameKey: "errno", numberKey: "errnoRet")
        if errnoRet != nil && !action.takesErrnoRet {
            let key = node["errno"].map { $0.isNull || $0.string == "" ? "errnoRet" : "errno" } ?? "errnoRet"
            throw .input("\(key) is only allowed with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not \(action.rawValue)", path: node.path / key)
        }
        args = try node.ruleArgs()
        comment = try node["comment"].flatMap { $0.isNull ? nil : $0 }.map { n throws(WardenError) in try n.expectString() }
        includes = try DockerFilter(node: node["includes"])
        excludes = try DockerFilter(node: node["excludes"])
    }
}

extension DockerFilter {
    init(node: JSONNode?) throws(WardenError) {
        guard let node, !node.isNull else { return }
        _ = try node.expectObject()
        func strings(_ key: String) throws(WardenError) -> [String] {
            guard let l = node[key], !l.isNull else { return [] }
            var out = [String]()
            for item in try l.expectArray() { out.append(try item.expectString()) }
            return out
        }
        caps = try strings("caps")
        arches = try strings("arches")
        if let k = node["minKernel"], !k.isNull {
            minKernel = try KernelVersion.parseMinKernel(try k.expectString(), path: k.path)
        }
    }
}
