import WardenJSON
import WardenPolicy
import WardenSpec
#if canImport(Glibc)
import Glibc
#endif

/// The runtime wrapper: called as `seccomp-warden-runc` / `seccomp-warden-crun` (a link or copy),
/// it tightens `<bundle>/config.json` on `create` and `run`, then execs the real runtime with the
/// same arguments. Every other subcommand is exec'd at once, with no JSON work.
public enum Wrapper {
    /// Global flags of runc and crun that take a value (both `--flag value` and `--flag=value`).
    static let globalFlagsWithValue: Set<String> = ["--root", "--log", "--log-format", "--criu", "--rootless",
                                                    "--cgroup-manager", "--log-level"]

    /// The runtime name a wrapper link stands for, from argv[0] (`seccomp-warden-runc` → `runc`).
    public static func runtimeName(argv0: String) -> String? {
        let base = argv0.split(separator: "/").last.map(String.init) ?? argv0
        guard base.hasPrefix("seccomp-warden-") else { return nil }
        let name = String(base.dropFirst("seccomp-warden-".count))
        return name.isEmpty ? nil : name
    }

    public struct Invocation: Equatable {
        public var subcommand: String?
        public var bundle: String?
        public var log: String?
        public var logFormat: String?
    }

    /// Finds the subcommand after the global flags, and for create/run the bundle.
    public static func parse(_ args: [String]) -> Invocation {
        var inv = Invocation()
        var i = 0
        while i < args.count {
            let a = args[i]
            if inv.subcommand == nil {
                if a.hasPrefix("-") {
                    let (name, inline) = split(a)
                    let value = inline ?? (globalFlagsWithValue.contains(name) && i + 1 < args.count ? args[i + 1] : nil)
                    if name == "--log" { inv.log = value }
                    if name == "--log-format" { inv.logFormat = value }
                    if inline == nil && globalFlagsWithValue.contains(name) { i += 1 }
                } else {
                    inv.subcommand = a
                }
            } else if inv.subcommand == "create" || inv.subcommand == "run" {
                let (name, inline) = split(a)
                if name == "--bundle" || name == "-b" {
                    inv.bundle = inline ?? (i + 1 < args.count ? args[i + 1] : nil)
                    if inline == nil { i += 1 }
                }
            }
            i += 1
        }
        return inv
    }

    static func split(_ a: String) -> (String, String?) {
        guard let eq = a.firstIndex(of: "=") else { return (a, nil) }
        return (String(a[..<eq]), String(a[a.index(after: eq)...]))
    }

    /// The real runtime: `$SECCOMP_WARDEN_RUNTIME`, else `name` on PATH; never this binary itself.
    public static func realRuntime(_ name: String) -> String? {
        let me = realpathString("/proc/self/exe")
        if let env = getenv("SECCOMP_WARDEN_RUNTIME"), env.pointee != 0 {
            let p = String(cString: env)
            return realpathString(p) == me ? nil : p
        }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            guard access(candidate, X_OK) == 0, let real = realpathString(candidate), real != me else { continue }
            return candidate
        }
        return nil
    }

    static func realpathString(_ p: String) -> String? {
        guard let r = realpath(p, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }

    public static func run(runtime name: String, argv: [String]) -> Int32 {
        let args = Array(argv.dropFirst())
        guard let real = realRuntime(name) else {
            printErr("seccomp-warden-\(name): cannot find the real \(name) (set SECCOMP_WARDEN_RUNTIME, or put \(name) on PATH)")
            return 127
        }
        let inv = parse(args)
        if inv.subcommand == "create" || inv.subcommand == "run" {
            if let refusal = tighten(inv, runtime: name) {
                printErr("seccomp-warden: \(refusal)")
                if let log = inv.log { writeRuntimeLog(log, format: inv.logFormat, message: "seccomp-warden: \(refusal)") }
                return 1
            }
        }
        return exec(real, args)
    }

    /// Tightens the bundle in place; returns the reason when the container must not start.
    static func tighten(_ inv: Invocation, runtime: String) -> String? {
        let stage = "wrapper-\(runtime)"
        var policy: Policy? = nil
        var bundle = inv.bundle ?? "."
        if !bundle.hasPrefix("/"), let cwd = getcwd(nil, 0) {
            bundle = String(cString: cwd) + (bundle == "." ? "" : "/" + bundle)
            free(cwd)
        }
        var id: String? = nil
        do {
            policy = try Policy.load()
            let config = try Bundle.loadConfig(bundle)
            id = try? config.annotations().first { $0.0 == "io.kubernetes.cri.container-name" }?.1
            let e = try Evaluation.evaluate(config, policy: policy!)
            switch e.verdict {
            case .injected, .tightened:
                if policy!.mode == .audit {
                    AuditLog.record(policy: policy, stage: stage, id: id, bundle: bundle, decision: "audit-only",
                                    summary: e.changes.map(\.description), reason: "would be \(e.verdict.rawValue)")
                    return nil
                }
                config.setSeccomp(e.profile!)
                try FileIO.atomicReplace(config.name, with: config.document.serialized(.indented))
            case .denied:
                let decision = policy!.mode == .audit ? "audit-only" : "denied"
                AuditLog.record(policy: policy, stage: stage, id: id, bundle: bundle, decision: decision, summary: [], reason: e.reason)
                return policy!.mode == .audit ? nil : "refused by policy: \(e.reason ?? "")"
            default: break
            }
            AuditLog.record(policy: policy, stage: stage, id: id, bundle: bundle, decision: e.verdict.rawValue,
                            summary: e.changes.map(\.description), reason: e.reason)
            return nil
        } catch {
            let audit = policy?.mode == .audit
            AuditLog.record(policy: policy, stage: stage, id: id, bundle: bundle, decision: audit ? "audit-only" : "denied",
                            summary: [], reason: "\(error)")
            return audit ? nil : "\(error)"
        }
    }

    /// containerd shows the last error of the runtime's --log file to Docker users.
    static func writeRuntimeLog(_ path: String, format: String?, message: String) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var tm = tm()
        var secs = ts.tv_sec
        gmtime_r(&secs, &tm)
        let time = pad(Int(tm.tm_year) + 1900, 4) + "-" + pad(Int(tm.tm_mon) + 1, 2) + "-" + pad(Int(tm.tm_mday), 2)
            + "T" + pad(Int(tm.tm_hour), 2) + ":" + pad(Int(tm.tm_min), 2) + ":" + pad(Int(tm.tm_sec), 2) + "Z"
        var line: [UInt8]
        if format == "json" {
            line = JSON.object([("level", .string("error")), ("msg", .string(message)), ("time", .string(time))]).serialized(.compact)
        } else {
            line = Array("time=\"\(time)\" level=error msg=\"\(message.replacingAll("\"", with: "\\\""))\"".utf8)
        }
        line.append(10)
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    static func exec(_ path: String, _ args: [String]) -> Int32 {
        FastPath.disarmDeadline()
        let all = [path] + args
        var cargs: [UnsafeMutablePointer<CChar>?] = all.map { strdup($0) }
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
