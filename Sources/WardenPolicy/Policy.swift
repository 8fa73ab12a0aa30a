import WardenCore
import WardenJSON
import WardenSpec

/// The site policy: what to inject where a container has no profile, what no container may
/// escape, and how to treat what falls short. Built only by its loader (`Policy.load`, `builtin`);
/// nothing outside this module changes one, and `baseline(for:)` gives what applies to one container.
public struct Policy {
    public enum Mode: String, CaseIterable, Sendable {
        /// Tighten where we can; refuse (stop the container) where we cannot.
        case enforce
        /// Decide and log the same, but never stop a container and never change its profile.
        case audit
        /// Write SCMP_ACT_LOG where the baseline would deny: the workload runs as before, the kernel
        /// logs each call the baseline would deny (`seccomp-warden report`); never stop a container.
        case observe

        /// Whether a container the policy refuses is stopped (enforce), or only logged.
        public var refuses: Bool { self == .enforce }
        /// Whether profiles are written (enforce: denials; observe: LOG rules), or only logged (audit).
        public var writesProfiles: Bool { self != .audit }
    }

    /// What to do with a container profile whose defaultAction is SCMP_ACT_ALLOW.
    public enum DefaultAllow: String, CaseIterable, Sendable {
        case tighten
        case refuse
    }

    public internal(set) var mode: Mode
    /// The allowed architectures; nil leaves the container's own list alone.
    public internal(set) var architectures: [SeccompArch]?
    /// The profile given to a container that has none. The built-in one is parsed on first use:
    /// most hook runs (gates, poststart, every container that brings a profile) never need it.
    public internal(set) var inject: LinuxSeccomp {
        get { injectOverride ?? Policy.builtinInject }
        set { injectOverride = newValue }
    }
    /// The policy's own inject profile; nil means the built-in one.
    var injectOverride: LinuxSeccomp? = nil
    /// When `inject` came from a Docker/podman-format profile: that profile, converted again for each
    /// container's own capabilities (`inject` is its conversion for Docker's default capabilities).
    public internal(set) var injectSource: DockerProfile? = nil
    /// Rules no container may escape, as a profile whose default allows.
    public internal(set) var deny: [LinuxSyscall] {
        get { denyStorage ?? Builtin.denyRules }
        set { denyStorage = newValue }
    }
    /// nil: the built-in rules as they are, built on first use (a hook served from the verdict cache
    /// never reads them).
    var denyStorage: [LinuxSyscall]? = nil
    /// For each rule of `deny`, where the user wrote it: the policy's `deny[N]` (its `names` are the
    /// user's `names` when the rule is theirs as written), so errors name the entry written, not the one
    /// after expansion.
    var denyOrigins: [(path: JSONPath, names: [String]?)] {
        get { denyOriginsStorage ?? deny.map { _ in (JSONPath.root, nil) } }
        set { denyOriginsStorage = newValue }
    }
    var denyOriginsStorage: [(path: JSONPath, names: [String]?)]? = nil
    /// Syscalls whose deny rules log (SCMP_ACT_LOG) instead of denying: `"action": "log"` entries.
    /// Under `mode: observe` every deny rule logs.
    public internal(set) var logged: Set<String> = []
    /// Deny sets named by file in Docker/podman format: converted again for each container's own
    /// capabilities, after the policy's other deny rules (`denyBase`).
    public internal(set) var denySources: [DockerProfile] = []
    var denyBase: [LinuxSyscall] {
        get { denyBaseStorage ?? Builtin.denyRules }
        set { denyBaseStorage = newValue }
    }
    var denyBaseStorage: [LinuxSyscall]? = nil

    /// The deny rules for one container: the fixed ones plus each Docker-format set converted for it.
    public func deny(for context: ConversionContext) throws(WardenError) -> [LinuxSyscall] {
        var out = denyBase
        for source in denySources { out += observed(Policy.denials(try source.convert(context))) }
        return out
    }

    /// The policy as it applies to one container: the Docker-format deny sets and inject profile
    /// converted for its own capabilities and this machine's architecture, as Docker would (the
    /// daemon's, never a list in config.json: whoever creates the container writes that, and a deny
    /// rule for amd64 must not drop out because the config names aarch64 first); and under observe, for a container with
    /// no profile, an inject profile that allows (its allow-list's argument rules, made to log, could
    /// not be kept exact, and every socket call would be reported as one that enforce denies).
    public func baseline(for config: OCIConfig, hasProfile: Bool) throws(WardenError) -> Policy {
        var view = self
        if !denySources.isEmpty {
            do { view.deny = try deny(for: .of(config, arch: .native)) } catch { throw error.inFile(source) }
            view.denyBase = view.deny
            view.denySources = []
        }
        if !hasProfile, let injectSource {
            do { view.inject = try injectSource.convert(.of(config, arch: .native)) } catch { throw error.inFile(source) }
            view.injectSource = nil
        }
        if !hasProfile && logsAll {
            view.inject = LinuxSeccomp(defaultAction: .allow, architectures: view.inject.architectures)
        }
        return view
    }

    /// This policy with other deny rules and architectures (the fuzzer's and the benchmarks' policies).
    public func replacing(deny rules: [LinuxSyscall], architectures archs: [SeccompArch]?) -> Policy {
        var p = self
        p.deny = rules
        p.denyBase = rules
        p.denySources = []
        p.denyOrigins = []
        p.architectures = archs
        // Another policy than the files the digest names: the verdict cache keys on the digest.
        p.digest = digest + " replaced " + fnv1a(JSON.object([("deny", .array(rules.map(\.json))),
                                                           ("architectures", archs.map { .array($0.map { .string($0.rawValue) }) } ?? .null)]).serialized(.compact))
        return p
    }

    /// Whether every deny rule logs instead of denying.
    public var logsAll: Bool { mode == .observe }

    /// `rules` with SCMP_ACT_LOG for the syscalls the policy observes (every one under `mode: observe`):
    /// a rule naming some of them is split in two.
    public func observed(_ rules: [LinuxSyscall]) -> [LinuxSyscall] {
        Self.observed(rules.map { ($0, 0) }, all: logsAll, logged: logged).map(\.0)
    }

    static func observed(_ rules: [(LinuxSyscall, Int)], all logsAll: Bool, logged: Set<String>) -> [(LinuxSyscall, Int)] {
        guard logsAll || !logged.isEmpty else { return rules }
        var out = [(LinuxSyscall, Int)]()
        // Under observe, an ENOSYS answer (clone3: glibc then falls back to clone, whose flags are
        // logged) stays: it changes nothing a caller notices, and logging it would report every
        // thread a program starts. A syscall named in a "log" entry logs whatever its answer.
        func logs(_ name: String, _ rule: LinuxSyscall) -> Bool {
            logged.contains(name) || (logsAll && !rule.ruleAction.sameEffect(Builtin.enosys))
        }
        for (rule, origin) in rules {
            let logging = rule.names.filter { logs($0, rule) }
            let denying = rule.names.filter { !logs($0, rule) }
            if !denying.isEmpty { var d = rule; d.names = denying; out.append((d, origin)) }
            if !logging.isEmpty {
                out.append((LinuxSyscall(names: logging, action: .log, args: rule.args), origin))
            }
        }
        return out
    }

    /// The entries of a profile that deny (a deny set's allow rules, if any, say nothing).
    static func denials(_ p: LinuxSeccomp) -> [LinuxSyscall] {
        (p.syscalls ?? []).filter { $0.action.strictness >= SeccompAction.errno.strictness }
    }
    public internal(set) var forbiddenFlags: [SeccompFlag]
    public internal(set) var allowNotify: Bool
    /// Runtime annotations that change the filter (`RuntimeReading.filterAnnotations`) the site allows.
    public internal(set) var allowAnnotations: [String] = []
    public internal(set) var defaultAllow: DefaultAllow
    /// The engine whose annotations are facts (namespace, image) exemptions may match; nil: none.
    public internal(set) var trustedEngine: ExemptionEngine? = nil
    /// Creator-set annotation keys exemptions may match (`policy check` warns about each).
    public internal(set) var trustedAnnotations: [String] = []
    public internal(set) var exemptions: [Exemption]
    public internal(set) var auditLog: String?
    /// Where the policy came from, for messages and the audit log.
    public internal(set) var source: String
    /// A short digest of the policy text (FNV-1a 64), logged with each decision. For a policy file,
    /// it covers every file that contributed (`files`).
    public internal(set) var digest: String
    /// The files the policy was read from, with their digests: the policy file first, then each file
    /// it names (empty for the built-in policy).
    public internal(set) var files: [PolicyFile] = []

    /// The deny rules as a profile: allow everything else.
    public var denyProfile: LinuxSeccomp {
        LinuxSeccomp(defaultAction: .allow, architectures: architectures, syscalls: deny)
    }

}

/// FNV-1a, 64 bits: a stable digest with no dependency.
public func fnv1a(_ bytes: [UInt8]) -> String { fnv1aHex(bytes) }
