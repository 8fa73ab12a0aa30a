import WardenCore
import WardenJSON
#if canImport(Glibc)
import Glibc
#endif

/// What a Docker-format profile is converted for: the container's capabilities (its bounding set,
/// as Docker reads `process.capabilities.bounding`), the host architecture and the host kernel.
public struct ConversionContext: Sendable {
    /// The capabilities present, `CAP_*` names.
    public var capabilities: [String]
    public var arch: SeccompArch
    /// nil: this machine's kernel, from uname(2), read when a rule's `minKernel` needs it.
    public var kernel: KernelVersion?

    public init(capabilities: [String] = ConversionContext.dockerDefaultCapabilities,
                arch: SeccompArch = .native, kernel: KernelVersion? = nil) {
        self.capabilities = capabilities
        self.arch = arch
        self.kernel = kernel
    }

    /// Capability names by bit number (linux/capability.h), for a process's CapBnd from /proc.
    public static let capabilityNames = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
        "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ]

    /// The names of the bits set in a capability mask (an unknown bit is named by its number, and
    /// counts as present to nothing Docker's rules name).
    public static func capabilities(mask: UInt64) -> [String] {
        (0..<64).compactMap { bit in
            mask & (1 << UInt64(bit)) == 0 ? nil : bit < capabilityNames.count ? capabilityNames[bit] : "CAP_\(bit)"
        }
    }

    /// The capabilities Docker gives a container by default (moby oci/caps DefaultCapabilities).
    public static let dockerDefaultCapabilities = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ]

    /// Docker's default capabilities on this machine: what `convert` assumes with no --caps or --bundle.
    public static let dockerDefault = ConversionContext()

    /// The context of a bundle's config.json: its bounding set (none listed: no capabilities), and the
    /// architecture: `arch` if given, else the first of its `linux.seccomp.architectures` when that is
    /// a host architecture (Docker and podman write the host's archMap entry first), else this machine's.
    public static func of(_ config: OCIConfig, arch: SeccompArch? = nil, kernel: KernelVersion? = nil) -> ConversionContext {
        var chosen = arch ?? .native
        if arch == nil, let first = config.document.root["linux"]?["seccomp"]?["architectures"]?.elements.first?.string,
           let a = SeccompArch(rawValue: first), hostArchitectures.contains(a) {
            chosen = a
        }
        return ConversionContext(capabilities: config.boundingCapabilities ?? [], arch: chosen, kernel: kernel)
    }

    /// Architectures a Docker host runs as (archMap's main entries); a 32-bit sub-architecture listed
    /// first in a bundle is not taken for the host.
    static let hostArchitectures: Set<SeccompArch> = [.x86_64, .aarch64, .mips64, .mips64n32, .mipsel64, .mipsel64n32,
                                                     .ppc64, .ppc64le, .s390x, .riscv64]

    /// This machine's kernel release, as uname(2) reports it.
    public static func hostRelease() -> String? {
        var u = utsname()
        guard uname(&u) == 0 else { return nil }
        return withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// The kernel this context converts for.
    public func kernelVersion() throws(WardenError) -> KernelVersion {
        if let kernel { return kernel }
        guard let release = Self.hostRelease() else { throw .system("uname: cannot read the kernel release") }
        guard let v = KernelVersion(release: release) else { throw .system("cannot parse the kernel release \"\(release)\"") }
        return v
    }
}

extension DockerProfile {
    /// The runtime-spec profile Docker would give a container in `context` (moby profiles/seccomp
    /// setupSeccomp): the archMap entry for the host architecture with its sub-architectures, and
    /// each rule that passes its filters. A rule is dropped if its `excludes` lists the host
    /// architecture or any capability the container has, or the kernel is at least its
    /// `excludes.minKernel`; it is kept only if its `includes` lists the host architecture (when it
    /// lists any), every capability it lists is present, and the kernel is at least `includes.minKernel`.
    /// `defaultErrnoRet` and `listenerPath`/`listenerMetadata` carry over as moby does since 23.0
    /// (moby#42604) and podman does; `flags` as podman does. dockerd 20.10 drops all four, so there a
    /// `defaultErrnoRet` other than 1 (EPERM, runc's default) gives a different filter.
    public func convert(_ context: ConversionContext) throws(WardenError) -> LinuxSeccomp {
        var out = LinuxSeccomp(defaultAction: defaultAction, defaultErrnoRet: defaultErrnoRet,
                               architectures: architectures, flags: flags,
                               listenerPath: listenerPath, listenerMetadata: listenerMetadata)
        let archName = context.arch.dockerName
        if let archMap, let entry = archMap.first(where: { $0.architecture == context.arch.rawValue }) {
            var list = [context.arch]
            for (i, sub) in entry.subArchitectures.enumerated() {
                let a = try lookup(SeccompArch.self, sub, what: "architecture", path: entry.path / "subArchitectures" / i)
                if !list.contains(a) { list.append(a) }
            }
            out.architectures = list
        }
        let caps = Set(context.capabilities)
        var kernel: KernelVersion? = nil
        func hostKernel() throws(WardenError) -> KernelVersion {
            if let kernel { return kernel }
            let k = try context.kernelVersion()
            kernel = k
            return k
        }
        var rules = [LinuxSyscall]()
        for call in syscalls {
            if call.excludes.arches.contains(archName) { continue }
            if call.excludes.caps.contains(where: caps.contains) { continue }
            if let min = call.excludes.minKernel, try hostKernel() >= min { continue }
            if !call.includes.arches.isEmpty && !call.includes.arches.contains(archName) { continue }
            if !call.includes.caps.allSatisfy(caps.contains) { continue }
            if let min = call.includes.minKernel, try hostKernel() < min { continue }
            if call.nameAndNames {
                throw .input("both name and names are given; use one of them (Docker refuses such a rule)", path: call.path / "name")
            }
            rules.append(call.rule)
        }
        out.syscalls = rules.isEmpty ? nil : rules
        return out
    }
}

/// The one reader for a seccomp profile wherever one is taken: a runtime-spec profile as it is, or a
/// Docker/podman-format profile (detected by its fields: archMap, defaultErrno, or rules with
/// includes/excludes/name/comment/errno) converted for `context`.
public func loadProfile(node: JSONNode, context: ConversionContext) throws(WardenError) -> LinuxSeccomp {
    if DockerProfile.isDockerFormat(node) {
        return try DockerProfile(node: node).convert(context)
    }
    return try LinuxSeccomp(node: node)
}

/// Reads a profile file with `loadProfile(node:context:)`; errors name the file.
public func loadProfile(file: String, context: ConversionContext) throws(WardenError) -> LinuxSeccomp {
    let doc = try JSONDocument(contentsOf: file)
    do { return try loadProfile(node: doc.root, context: context) } catch { throw error.inFile(file) }
}
