import WardenCore
import WardenJSON
import WardenPolicy
import WardenSpec
#if canImport(Glibc)
import Glibc
#endif

/// The runtime wrapper: called as `seccomp-warden-runc` / `seccomp-warden-crun` (a link or copy),
/// it tightens `<bundle>/config.json` on `create`, `run` and `restore`, then execs the real runtime
/// with the same arguments. It reads the command line with the runtime's own grammar (RuntimeCLI)
/// and refuses one it cannot place exactly. Every other subcommand is exec'd at once, unread.
public enum Wrapper {
    /// The runtime name the wrapper stands for, from argv[0]: a wrapper link (`seccomp-warden-runc` →
    /// `runc`), or the runtime itself (`runc`, `/usr/sbin/runc`: installed in its place by
    /// `install.sh --divert`), for a runtime the wrapper has a table for.
    public static func runtimeName(argv0: String) -> String? {
        let base = baseName(argv0)
        if base.hasPrefix("seccomp-warden-") {
            let name = String(base.dropFirst("seccomp-warden-".count))
            return name.isEmpty ? nil : name
        }
        return RuntimeCLI.grammar(for: base) != nil ? base : nil
    }

    /// The last component of `path` ("b" of "a/b/"), or `path` when it has none. Scanned as bytes: a
    /// `split` at every start costs the run-time lookup of `[Substring]`'s type (issue 14).
    static func baseName(_ path: String) -> String {
        let b = Array(path.utf8)
        var end = b.count
        while end > 0 && b[end - 1] == UInt8(ascii: "/") { end -= 1 }
        guard end > 0 else { return path }
        var start = end
        while start > 0 && b[start - 1] != UInt8(ascii: "/") { start -= 1 }
        return String(decoding: b[start..<end], as: UTF8.self)
    }

    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// The real runtime: `$SECCOMP_WARDEN_RUNTIME`; else, in the runtime's place, `<path>.real`
    /// (`divertedRuntime`); else `name` on PATH. Never this binary itself.
    public static func realRuntime(_ name: String, argv0: String) -> String? {
        let me = realpathString("/proc/self/exe")
        if let env = getenv("SECCOMP_WARDEN_RUNTIME"), env.pointee != 0 {
            let p = String(cString: env)
            return realpathString(p) == me ? nil : p
        }
        let path = getenv("PATH").map { String(cString: $0) } ?? defaultPath
        if baseName(argv0) == name {
            return divertedRuntime(name, argv0: argv0, me: me, searchPath: path)
        }
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            guard access(candidate, X_OK) == 0, let real = realpathString(candidate), real != me else { continue }
            return candidate
        }
        return nil
    }

    /// Called as the runtime itself, the real one is the diverted file beside the path the caller ran
    /// (`install.sh --divert`: dpkg diverts /usr/sbin/runc to /usr/sbin/runc.real): `<argv[0]>.real`
    /// when argv[0] is a path, else `<dir>/<name>.real` for the first PATH folder whose `<name>` is this
    /// binary, else `<this binary>.real`. Nothing else: a PATH search would find this binary again.
    static func divertedRuntime(_ name: String, argv0: String, me: String?, searchPath: String) -> String? {
        guard let me else { return nil }
        var invoked: [String] = []
        if argv0.contains("/") {
            invoked.append(argv0)
        } else if let dir = searchPath.split(separator: ":").first(where: { realpathString("\($0)/\(name)") == me }) {
            invoked.append("\(dir)/\(name)")
        }
        if baseName(me) == name { invoked.append(me) }
        for path in invoked {
            let candidate = path + ".real"
            if access(candidate, X_OK) == 0, let real = realpathString(candidate), real != me { return candidate }
        }
        return nil
    }

    static func realpathString(_ p: String) -> String? {
        guard let r = realpath(p, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }

    /// argv after argv[0], byte for byte: `CommandLine.arguments` replaces invalid UTF-8, and the
    /// runtime must get exactly what the wrapper was given.
    public static func rawArguments() -> [[UInt8]] {
        guard CommandLine.argc > 1 else { return [] }
        return (1..<Int(CommandLine.argc)).map { i in
            guard let p = CommandLine.unsafeArgv[i] else { return [] }
            return Array(UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: strlen(p)))
        }
    }

    public static func run(runtime name: String, argv0: String, arguments args: [[UInt8]]) -> Int32 {
        guard let real = realRuntime(name, argv0: argv0) else {
            if baseName(argv0) == name {
                printErr("\(name) (seccomp-warden): cannot find the real \(name) at \(argv0.contains("/") ? argv0 : name).real (install.sh --divert puts it there; or set SECCOMP_WARDEN_RUNTIME)")
            } else {
                printErr("seccomp-warden-\(name): cannot find the real \(name) (set SECCOMP_WARDEN_RUNTIME, or put \(name) on PATH)")
            }
            return 127
        }
        // The subcommand and the bundle, found exactly where the runtime will find them, or a refusal.
        let inv = RuntimeCLI.parse(bytes: args, runtime: name)
        let refusal: String?
        switch inv.action {
        case .passThrough: refusal = nil
        case .refuse(let reason): refusal = refuseArguments(reason, inv, runtime: name)
        case .tighten(let bundle): refusal = tighten(bundle: bundle, inv, runtime: name)
        }
        if let refusal {
            printErr("seccomp-warden: \(refusal)")
            if let log = inv.log { writeRuntimeLog(log, format: inv.logFormat, message: "seccomp-warden: \(refusal)") }
            return 1
        }
        return exec(real, args)
    }

    /// A command line the wrapper cannot read as the runtime would: the container does not start
    /// (in audit and observe mode it is logged and the runtime runs unchanged, as with a config it cannot read).
    static func refuseArguments(_ reason: String, _ inv: RuntimeCLI.Invocation, runtime: String) -> String? {
        let policy = try? Policy.load()
        let message = "cannot read the command line as \(runtime) would, so cannot tell which config.json it reads: \(reason)"
        let result = Enforcement.failure(message, exitCode: 1, mode: policy?.mode, stage: .wrapper(runtime: runtime))
        AuditLog.record(policy: policy, stage: "wrapper-\(runtime)", id: inv.containerID, bundle: nil, result.audit, idFrom: "argv")
        return result.refusal
    }

    /// Tightens the bundle in place; returns the reason when the container must not start.
    /// The bundle folder is opened once (`Bundle.open`: every folder on its path, the folder and
    /// config.json writable by root only, or the bundle is refused); config.json is read, replaced and
    /// read back through that folder's descriptor, so the file the runtime then opens by the same path
    /// is the one that was proved.
    static func tighten(bundle given: String?, _ inv: RuntimeCLI.Invocation, runtime: String) -> String? {
        let stage = Enforcement.Stage.wrapper(runtime: runtime)
        var policy: Policy? = nil
        var bundle = given ?? "."
        if !bundle.hasPrefix("/"), let cwd = getcwd(nil, 0) {
            bundle = String(cString: cwd) + (bundle == "." ? "" : "/" + bundle)
            free(cwd)
        }
        var digest: String? = nil
        var result: Enforcement.Result
        do {
            let loaded = try Policy.load()
            policy = loaded
            // A bundle the cache knows as compliant, exempt or refused is answered from its bytes, as a
            // gate is (`Evaluation.cachedGate`): nothing is written then, so nothing more is parsed.
            if let cache = VerdictCache.standard(), let (_, bytes) = try? Bundle.read(bundle, writers: .rootAndSelf),
               let members = ConfigMembers(bytes), let e = Evaluation.cachedGate(members, policy: loaded, cache: cache),
               e.verdict == .compliant || e.verdict == .exempt || e.verdict == .denied {
                result = Enforcement.decide(e, mode: loaded.mode, stage: stage, container: inv.containerID)
                AuditLog.record(policy: policy, stage: stage.name, id: inv.containerID, bundle: bundle, result.audit, idFrom: "argv",
                                configDigest: fnv1aHex(bytes))
                return result.refusal
            }
            let opened = try Bundle.open(bundle, writers: .rootAndSelf)
            let config = opened.config
            digest = opened.digest
            let e = try Evaluation.evaluate(config, policy: loaded, cache: .standard())
            result = Enforcement.decide(e, mode: loaded.mode, stage: stage, container: inv.containerID)
            if case .rewrite(let r) = result.outcome {
                guard let profile = r.profile else { throw WardenError.system("no tightened profile to write") }
                config.setSeccomp(profile)
                digest = try opened.replace(with: config.document.serialized(.indented))
            }
        } catch {
            result = Enforcement.failure("\(error)", exitCode: 1, mode: policy?.mode, stage: stage)
        }
        AuditLog.record(policy: policy, stage: stage.name, id: inv.containerID, bundle: bundle, result.audit, idFrom: "argv",
                        configDigest: digest)
        return result.refusal
    }

    /// containerd shows the last error of the runtime's --log file to Docker users. The log is
    /// written only if it is a regular file (never a FIFO, never through a symlink), and the message
    /// is escaped for its format: JSON by jansson, logrus's text line with the message Go-quoted.
    static func writeRuntimeLog(_ path: String, format: String?, message: String) {
        let time = AuditLog.rfc3339(AuditLog.now(), fractionDigits: 0)
        var line: [UInt8]
        if format == "json" {
            line = JSON.object([("level", .string("error")), ("msg", .string(message)), ("time", .string(time))]).serialized(.compact)
        } else {
            // runc's text format (logrus): the message Go-quoted, so a newline in it cannot start a line.
            line = Array("time=\"\(time)\" level=error msg=\(RuntimeCLI.quoted(message))".utf8)
        }
        line.append(10)
        if let problem = LogFile.append(path, line) {
            printErr("seccomp-warden: runtime log \(path): \(problem)")
        }
    }

    static func exec(_ path: String, _ args: [[UInt8]]) -> Int32 {
        FastPath.disarmDeadline()
        var cargs: [UnsafeMutablePointer<CChar>?] = [strdup(path)]
        for a in args {
            let c = UnsafeMutablePointer<CChar>.allocate(capacity: a.count + 1)
            for (i, b) in a.enumerated() { c[i] = CChar(bitPattern: b) }
            c[a.count] = 0
            cargs.append(c)
        }
        cargs.append(nil)
        execv(path, &cargs)
        printErr("seccomp-warden: cannot exec \(path): \(errnoText(errno))")
        return 127
    }
}

/// Zero-padded decimal, without Foundation's String(format:).
func pad(_ v: Int, _ width: Int) -> String {
    let digits = "\(v)"
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}
