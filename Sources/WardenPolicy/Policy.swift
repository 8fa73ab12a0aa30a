import WardenJSON
import WardenSpec

/// The site policy: what to inject where a container has no profile, what no container may
/// escape, and how to treat what falls short.
public struct Policy {
    public enum Mode: String, CaseIterable, Sendable {
        /// Tighten where we can; refuse (stop the container) where we cannot.
        case enforce
        /// Decide and log the same, but never stop a container.
        case audit
    }

    /// What to do with a container profile whose defaultAction is SCMP_ACT_ALLOW.
    public enum DefaultAllow: String, CaseIterable, Sendable {
        case tighten
        case refuse
    }

    public var mode: Mode
    /// The allowed architectures; nil leaves the container's own list alone.
    public var architectures: [SeccompArch]?
    /// The profile given to a container that has none. The built-in one is parsed on first use:
    /// most hook runs (gates, poststart, every container that brings a profile) never need it.
    public var inject: LinuxSeccomp {
        get { injectOverride ?? Policy.builtinInject }
        set { injectOverride = newValue }
    }
    /// The policy's own inject profile; nil means the built-in one.
    var injectOverride: LinuxSeccomp? = nil
    /// When `inject` came from a Docker/podman-format profile: that profile, converted again for each
    /// container's own capabilities (`inject` is its conversion for Docker's default capabilities).
    public var injectSource: DockerProfile? = nil
    /// Rules no container may escape, as a profile whose default allows.
    public var deny: [LinuxSyscall]
    /// Deny sets named by file in Docker/podman format: converted again for each container's own
    /// capabilities, after the policy's other deny rules (`denyBase`).
    public var denySources: [DockerProfile] = []
    var denyBase: [LinuxSyscall] = []

    /// The deny rules for one container: the fixed ones plus each Docker-format set converted for it.
    public func deny(for context: ConversionContext) throws(WardenError) -> [LinuxSyscall] {
        var out = denyBase
        for source in denySources { out += Policy.denials(try source.convert(context)) }
        return out
    }

    /// The entries of a profile that deny (a deny set's allow rules, if any, say nothing).
    static func denials(_ p: LinuxSeccomp) -> [LinuxSyscall] {
        (p.syscalls ?? []).filter { $0.action.strictness >= SeccompAction.errno.strictness }
    }
    public var forbiddenFlags: [SeccompFlag]
    public var allowNotify: Bool
    /// Runtime annotations that change the filter (`RuntimeReading.filterAnnotations`) the site allows.
    public var allowAnnotations: [String] = []
    public var defaultAllow: DefaultAllow
    /// The engine whose annotations are facts (namespace, image) exemptions may match; nil: none.
    public var trustedEngine: ExemptionEngine? = nil
    /// Creator-set annotation keys exemptions may match (`policy check` warns about each).
    public var trustedAnnotations: [String] = []
    public var exemptions: [Exemption]
    public var auditLog: String?
    /// Where the policy came from, for messages and the audit log.
    public var source: String
    /// A short digest of the policy text (FNV-1a 64), logged with each decision. For a policy file,
    /// it covers every file that contributed (`files`).
    public var digest: String
    /// The files the policy was read from, with their digests: the policy file first, then each file
    /// it names (empty for the built-in policy).
    public var files: [PolicyFile] = []

    /// The deny rules as a profile: allow everything else.
    public var denyProfile: LinuxSeccomp {
        LinuxSeccomp(defaultAction: .allow, architectures: architectures, syscalls: deny)
    }

}

/// FNV-1a, 64 bits: a stable digest with no dependency.
public func fnv1a(_ bytes: [UInt8]) -> String { fnv1aHex(bytes) }
