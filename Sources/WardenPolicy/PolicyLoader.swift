import WardenCore
import WardenJSON
import WardenSpec
import WardenSeccomp
#if canImport(Glibc)
import Glibc
#endif

extension Policy {
    /// Where the policy comes from: `--policy`, else `$SECCOMP_WARDEN_POLICY`, else the system
    /// file if it exists, else the built-in baseline (so the tool works with no file at all).
    public static let systemPath = "/etc/seccomp-warden/policy.json"

    public static func resolvePath(explicit: String?) -> String? {
        if let explicit { return explicit }
        if let env = getenv("SECCOMP_WARDEN_POLICY"), env.pointee != 0 { return String(cString: env) }
        if FileIO.exists(systemPath) { return systemPath }
        return nil
    }

    /// `builtin` as the path (in `--policy` or the environment) names the built-in policy.
    public static func load(explicit: String? = nil) throws(WardenError) -> Policy {
        guard let path = resolvePath(explicit: explicit), path != "builtin" else { return try builtin() }
        return try load(file: path)
    }

    public static func builtin() throws(WardenError) -> Policy {
        let text = Array(builtinPolicyJSON.utf8)
        let doc = try JSONDocument(bytes: text, name: "<built-in policy>")
        // Its rules are the binary's constants, checked by the tests (`builtinValidates`), not at every start.
        do { return try Policy(node: doc.root, source: "built-in", digest: fnv1a(text), validating: false) } catch { throw error.inFile("<built-in policy>") }
    }

    /// Loads a policy file. Like sudo with sudoers, it must be owned by root and writable by no one
    /// else, and so must every file it names (`inject`, `deny`), each in a folder with the same
    /// property under folders only root can change (`PolicyFileReader`): each file is opened once and
    /// checked with `fstat` on the descriptor it is read from. Names in it are relative to its folder.
    /// The digest covers every file read.
    public static func load(file path: String, checkOwnership: Bool = true) throws(WardenError) -> Policy {
        let files = PolicyFileReader(writers: checkOwnership ? .root : .anyone)
        let bytes = try files.read(path, role: "policy")
        let doc = try JSONDocument(bytes: bytes, name: path)
        do {
            var policy = try Policy(node: doc.root, source: path, digest: "", files: files)
            policy.files = files.files
            policy.digest = files.digest
            return policy
        } catch {
            throw error.inFile(path)
        }
    }

    static let knownKeys: [String] = ["mode", "architectures", "inject", "deny", "forbiddenFlags", "allowNotify",
                                      "defaultAllow", "exemptions", "auditLog", "comment", "allowAnnotations",
                                      "trustedEngine", "trustedAnnotations"]

    /// `files` reads the files the policy names; by default from the current folder, unchecked
    /// (a policy from memory: the built-in one, tests, fuzzing).
    init(node root: JSONNode, source: String, digest: String,
         files: PolicyFileReader = PolicyFileReader(writers: .anyone), validating: Bool = true) throws(WardenError) {
        try root.rejectUnknownKeys(Self.knownKeys, what: "the policy")
        self.source = source
        self.digest = digest
        mode = .enforce
        if let m = root["mode"] {
            mode = try lookup(Mode.self, m.expectString(), what: "mode", path: m.path)
        }
        architectures = Builtin.architectures
        if let a = root["architectures"] {
            if a.isNull {
                architectures = nil
            } else {
                architectures = []
                for item in try a.expectArray() {
                    architectures!.append(try lookup(SeccompArch.self, item.expectString(), what: "architecture", path: item.path))
                }
                if architectures!.isEmpty { throw .input("must list at least one architecture (or be null)", path: a.path) }
            }
        }
        // inject: "builtin", a profile object, or the path of a profile file; runtime-spec or Docker/podman
        // format (converted for Docker's default capabilities on this machine).
        // Unset (injectOverride nil): the built-in profile, parsed only if a container needs it.
        if let i = root["inject"] {
            if let s = i.string {
                if s != "builtin" {
                    let doc = try Self.included(files, s, field: i.path, role: "inject")
                    do { (injectOverride, injectSource) = try Self.readInject(doc.root) } catch { throw error.inFile(s) }
                }
            } else {
                (injectOverride, injectSource) = try Self.readInject(i)
            }
            if let listener = i["listenerPath"] { throw .input("an injected profile cannot use a seccomp agent", path: listener.path) }
        }
        // deny: a list of rules; the string "builtin" in it stands for the built-in deny rules, any
        // other string for a profile file (runtime-spec, Docker or podman format) whose denying rules
        // are added; a Docker-format one is converted for each container's own capabilities.
        // {"capability": NAME, "action": "log"} or a rule with "action": "log" (or SCMP_ACT_LOG): those
        // syscalls are logged instead of denied, wherever else the list denies them.
        // ["builtin"] alone (the built-in policy's own) is the built-in rules as they are: left to
        // `deny`'s default, like no "deny" at all.
        var builtinAlone = false
        if mode != .observe, let d = root["deny"], d.kind == .array {
            let items = d.elements
            builtinAlone = items.count == 1 && items[0].string == "builtin"
        }
        if let d = root["deny"], !builtinAlone {
            var rules = [(LinuxSyscall, JSONPath, [String]?)]()
            var base = [Bool]()
            for item in try d.expectArray() {
                func add(_ new: [LinuxSyscall], own: [String]? = nil, fixed: Bool = true) {
                    rules += new.map { ($0, item.path, own) }
                    base += new.map { _ in fixed }
                }
                if item.string == "builtin" { add(Builtin.denyRules); continue }
                // "capability:NAME": one capability of the built-in baseline, with every route to it.
                if let s = item.string, s.hasPrefix("capability:") {
                    add(Builtin.rules(try Self.capability(String(s.dropFirst("capability:".count)), path: item.path).routes))
                    continue
                }
                if let file = item.string {
                    let doc = try Self.included(files, file, field: item.path, role: item.path.description)
                    do {
                        let converted = try loadProfile(node: doc.root, context: .dockerDefault)
                        let docker = DockerProfile.isDockerFormat(doc.root)
                        add(Self.denials(converted), fixed: !docker)
                        if docker { denySources.append(try DockerProfile(node: doc.root)) }
                    } catch { throw error.inFile(file) }
                    continue
                }
                if let c = item["capability"] {
                    try item.rejectUnknownKeys(["capability", "action", "comment"], what: "a capability entry")
                    let cap = try Self.capability(try c.expectString(), path: c.path)
                    if let a = item["action"] {
                        guard try a.expectString() == "log" else {
                            throw .input("a capability entry's action must be \"log\" (leave it out to deny)", path: a.path)
                        }
                        logged.formUnion(cap.routes.map(\.syscall))
                    }
                    add(Builtin.rules(cap.routes))
                    continue
                }
                let rule: LinuxSyscall
                if let a = item["action"], let s = a.string, s == "log" || s == SeccompAction.log.rawValue {
                    // Logged, not denied: parsed as a denial, then turned into SCMP_ACT_LOG with the rest.
                    try item.rejectUnknownKeys(["names", "action", "args", "comment"], what: "a logged rule")
                    guard let n = item["names"] else { throw .input("missing required field names", path: item.path / "names") }
                    var r = LinuxSyscall(names: [], action: .errno)
                    for name in try n.expectArray() { r.names.append(try name.expectString(nonEmpty: true)) }
                    if r.names.isEmpty { throw .input("must list at least one syscall", path: n.path) }
                    if let list = item["args"], !list.isNull {
                        var out = [LinuxSeccompArg]()
                        for arg in try list.expectArray() { out.append(try LinuxSeccompArg(node: arg)) }
                        r.args = out
                    }
                    logged.formUnion(r.names)
                    rule = r
                } else {
                    rule = try LinuxSyscall(node: item)
                }
                guard rule.action.strictness >= SeccompAction.errno.strictness else {
                    throw .input("a deny rule must deny: use SCMP_ACT_ERRNO, SCMP_ACT_TRAP or SCMP_ACT_KILL*, or \"log\" to log it, not \(rule.action.rawValue)",
                                 path: item.path / "action")
                }
                add([rule], own: rule.names)
            }
            // Observed syscalls log, in every rule that names them (the rules kept their origins).
            let out = Self.observed(rules.indices.map { (rules[$0].0, $0) }, all: mode == .observe, logged: logged)
            denyStorage = out.map(\.0)
            denyOriginsStorage = out.map { (rules[$0.1].1, rules[$0.1].2) }
            denyBaseStorage = out.filter { base[$0.1] }.map(\.0)
        } else if mode == .observe {  // (no "deny": under observe every built-in rule logs)
            denyStorage = Self.observed(Builtin.denyRules.map { ($0, 0) }, all: true, logged: logged).map(\.0)
            denyBaseStorage = denyStorage
        }
        // Otherwise the built-in rules as they are (`deny`'s default), built only if read.
        forbiddenFlags = [.specAllow]
        if let f = root["forbiddenFlags"] {
            forbiddenFlags = []
            for item in try f.expectArray() {
                forbiddenFlags.append(try lookup(SeccompFlag.self, item.expectString(), what: "flag", path: item.path))
            }
        }
        allowNotify = try root["allowNotify"]?.expectBool() ?? false
        for item in try root["allowAnnotations"]?.expectArray() ?? [] {
            let key = try item.expectString(nonEmpty: true)
            guard RuntimeReading.allCases.contains(where: { $0.filterAnnotations.contains { $0.key == key } }) else {
                throw .input("\"\(key)\" is not an annotation any runtime reads to change the filter", path: item.path)
            }
            allowAnnotations.append(key)
        }
        defaultAllow = .tighten
        if let d = root["defaultAllow"] {
            defaultAllow = try lookup(DefaultAllow.self, d.expectString(), what: "defaultAllow choice", path: d.path)
        }
        (trustedEngine, trustedAnnotations, exemptions) = try Self.readExemptions(root)
        auditLog = try root["auditLog"].map { n throws(WardenError) in try n.expectString(nonEmpty: true) }
        if validating { try validate(root: root) }
    }

    /// A file the policy names, read as the policy is: a file that cannot be read is reported at the
    /// policy's field that names it (`deny[2]: the file it names, /etc/…/x.json: cannot open: …`).
    static func included(_ files: PolicyFileReader, _ name: String, field: JSONPath, role: String) throws(WardenError) -> JSONDocument {
        let bytes: [UInt8]
        do { bytes = try files.read(name, role: role) } catch {
            var e = error
            e.message = "the file it names, \(e.file ?? name): \(e.message)"
            e.file = nil
            e.path = field
            throw e
        }
        return try JSONDocument(bytes: bytes, name: name)
    }

    /// A capability of the built-in baseline by name.
    static func capability(_ name: String, path: JSONPath) throws(WardenError) -> Capability {
        guard let c = Builtin.capability(named: name) else {
            throw .input("unknown capability \"\(name)\" (known: \(Builtin.capabilities.map(\.name).joined(separator: ", ")))", path: path)
        }
        return c
    }

    /// `inject` from either format; a Docker/podman-format one is kept for per-container conversion.
    static func readInject(_ node: JSONNode) throws(WardenError) -> (LinuxSeccomp, DockerProfile?) {
        let profile = try loadProfile(node: node, context: .dockerDefault)
        return (profile, DockerProfile.isDockerFormat(node) ? try DockerProfile(node: node) : nil)
    }

    /// Cross-field checks: names libseccomp knows, no contradictory unconditional deny rules.
    func validate(root: JSONNode) throws(WardenError) {
        var unconditional = [String: RuleAction]()
        let origins = denyOrigins
        for (i, rule) in deny.enumerated() {
            // The entry the user wrote (deny[N], and its names[J] when the rule is theirs as written).
            let origin = i < origins.count ? origins[i] : (path: JSONPath.root / "deny" / i, names: rule.names)
            for name in rule.names {
                if !Syscalls.isKnown(name) {
                    let j = origin.names?.firstIndex(of: name)
                    throw .input("unknown syscall \"\(name)\" (libseccomp does not know it)", path: j.map { origin.path / "names" / $0 } ?? origin.path)
                }
                if (rule.args ?? []).isEmpty {
                    if let prior = unconditional[name], !prior.sameEffect(rule.ruleAction) {
                        throw .input("contradictory rules: \(name) is denied with \(prior) and with \(rule.ruleAction)",
                                     path: origin.path)
                    }
                    unconditional[name] = rule.ruleAction
                }
            }
        }
        // An allow rule naming a syscall libseccomp does not know is skipped, as runc skips it; a
        // rule that denies more than the default must not silently miss its syscall.
        // The policy's own inject profile only: the built-in one is a constant (an allow-list under ERRNO).
        guard let inject = injectOverride else { return }
        for (i, rule) in (inject.syscalls ?? []).enumerated() where rule.action.strictness > inject.defaultAction.strictness {
            for (j, name) in rule.names.enumerated() where !Syscalls.isKnown(name) {
                throw .input("unknown syscall \"\(name)\" (libseccomp does not know it)", path: .root / "inject" / "syscalls" / i / "names" / j)
            }
        }
    }

    /// The built-in inject profile, parsed once, on first use.
    static let builtinInject: LinuxSeccomp = {
        do { return try builtinProfile() } catch { fatalError("the built-in inject profile does not parse: \(error)") }
    }()

    static func builtinProfile() throws(WardenError) -> LinuxSeccomp {
        let doc = try JSONDocument(bytes: Array(builtinProfileJSON.utf8), name: "<built-in profile>")
        return try LinuxSeccomp(node: doc.root)
    }

    /// Names on `arch` that do not resolve (informational: Docker's lists have such names too).
    public func unresolved(on arch: SeccompArch) -> [String] {
        var out = [String]()
        for rule in deny {
            for name in rule.names where Syscalls.number(name, arch: arch) == nil && !out.contains(name) { out.append(name) }
        }
        return out
    }
}

/// The built-in policy, as a file would say it.
let builtinPolicyJSON = """
{
  "mode": "enforce",
  "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  "inject": "builtin",
  "deny": ["builtin"],
  "forbiddenFlags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
  "allowNotify": false,
  "defaultAllow": "tighten",
  "trustedEngine": null,
  "trustedAnnotations": [],
  "exemptions": []
}
"""
