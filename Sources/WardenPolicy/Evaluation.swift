import WardenCore
import WardenJSON
import WardenSeccomp
import WardenSpec

/// The decision for one container, named as the audit log names it.
public enum Verdict: String, Sendable {
    case injected, tightened, compliant, denied, exempt
    case auditOnly = "audit-only"
}

/// What the policy says about one config.json, before anything is written.
public struct Evaluation {
    public var verdict: Verdict
    /// The tightened profile (for injected/tightened), to be written by the caller.
    public var profile: LinuxSeccomp?
    public var changes: [Change]
    /// For denied and exempt: why.
    public var reason: String?
    /// Whether it came from the verdict cache (its changes are then the recorded descriptions).
    public var cached = false
    /// For injected/tightened: the compact text of `linux.seccomp` once the profile is written over this
    /// config's section (`OCIConfig.writtenSeccompText`), which a compact writer splices in. With
    /// `splice`, a cache hit gives this alone, without `profile`.
    public var written: [UInt8]? = nil

    /// Evaluates `config` against `policy`. Errors in the config are thrown (callers fail closed).
    /// `needsProfile: false` (a gate: it judges, never writes): the same verdict, without checking that
    /// libseccomp accepts the tightened profile, which is then not for writing.
    /// `cache`: where to look the verdict up first and keep it after (the hooks and the wrapper).
    /// `splice` (precreate): the caller writes `written`; a cache hit need not decode the profile.
    public static func evaluate(_ config: OCIConfig, policy: Policy, needsProfile: Bool = true,
                                cache: VerdictCache? = nil, splice: Bool = false) throws(WardenError) -> Evaluation {
        if let e = annotationVerdict(try config.annotations(), policy: policy) { return e }
        // A hit first: its input, this seccomp section byte for byte, decoded without error when it
        // was stored (an error is thrown, never stored), so decoding it again can only agree.
        try config.checkSeccompKeys()
        if let cache, let hit = cache.lookup(config, policy: policy, withProfile: needsProfile, splice: splice) { return hit }
        let current = try config.seccomp()
        var e = try judge(current, config, policy: policy, needsProfile: needsProfile)
        // Only for whom reads it: the splicing caller, or the cache (a later precreate).
        if needsProfile && (splice || cache != nil), let profile = e.profile {
            let text = config.writtenSeccompText(profile)
            if !text.isEmpty { e.written = text }
        }
        // A gate's "tightened" or "injected" is kept without its profile: that profile was neither checked
        // against libseccomp nor proved (a gate stops at the first change), so no writer may be served it
        // (`VerdictCache.evaluation`: such an entry is a miss for a writer).
        if let cache {
            var kept = e
            if !needsProfile { kept.profile = nil }
            cache.store(kept, for: config, policy: policy)
        }
        return e
    }

    /// A warm gate from config.json's bytes alone: the same checks as `evaluate` before its cache
    /// lookup, and the lookup, without parsing the whole config (three quarters of a gate's
    /// instructions, issue 14). nil for a miss or when only the parse can tell: then `evaluate`.
    public static func cachedGate(_ members: ConfigMembers, policy: Policy, cache: VerdictCache) -> Evaluation? {
        guard let annotations = members.annotations() else { return nil }
        if let e = annotationVerdict(annotations, policy: policy) { return e }
        // checkSeccompKeys' case variants and a linux that is not an object: sw_config_index refused those.
        return cache.lookupGate(members, policy: policy)
    }

    /// An exemption, or an annotation that changes the filter under some runtime and the policy does not allow.
    static func annotationVerdict(_ annotations: [(String, String)], policy: Policy) -> Evaluation? {
        if let ex = policy.exemption(for: annotations) {
            return Evaluation(verdict: .exempt, profile: nil, changes: [], reason: "exempt by \(ex.reason)")
        }
        for (key, _) in annotations where !policy.allowAnnotations.contains(key) {
            for reading in RuntimeReading.allCases {
                if let a = reading.filterAnnotations.first(where: { $0.key == key }) {
                    return Evaluation(verdict: .denied, profile: nil, changes: [],
                                      reason: "annotation \(key) changes the seccomp filter under \(reading.rawValue) (\(a.effect)); the policy does not allow it")
                }
            }
        }
        return nil
    }

    static func judge(_ current: LinuxSeccomp?, _ config: OCIConfig, policy: Policy, needsProfile: Bool) throws(WardenError) -> Evaluation {
        // What applies to this container: Docker-format sets converted for its capabilities, observe's inject.
        let policy = try policy.baseline(for: config, hasProfile: current != nil)
        do {
            let result = try Tighten.tighten(current, policy: policy, checkOutput: needsProfile)
            if result.changes.isEmpty {
                return Evaluation(verdict: .compliant, profile: nil, changes: [], reason: nil)
            }
            return Evaluation(verdict: result.injected ? .injected : .tightened, profile: result.profile,
                              changes: result.changes, reason: nil)
        } catch {
            return Evaluation(verdict: .denied, profile: nil, changes: [], reason: error.reason)
        }
    }

    /// One line: what was decided and why.
    public var summary: String {
        switch verdict {
        case .compliant: "compliant"
        case .exempt, .denied: "\(verdict.rawValue): \(reason ?? "")"
        default: "\(verdict.rawValue): \(changes.count) change\(changes.count == 1 ? "" : "s")"
        }
    }
}
