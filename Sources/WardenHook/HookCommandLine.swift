import WardenCore
import WardenJSON

/// The one parser of `seccomp-warden hook STAGE [--policy FILE]`, for the fast path and for
/// ArgumentParser's `help hook` alike (the help text lives here too). Strict: a hook file with a
/// wrong line must fail the container loudly, not run with a policy nobody chose.
public struct HookCommandLine: Equatable, Sendable {
    public var stage: String
    public var policy: String?

    public enum Parsed: Equatable, Sendable {
        case run(HookCommandLine)
        case help
        /// A bad command line: the message, for stderr; the hook exits 64 (EX_USAGE, as every usage error).
        case error(String)
    }

    public static let usage = "seccomp-warden hook <stage> [--policy FILE]"
    public static let abstract = "Run as an OCI hook: precreate, a gate stage, or the poststart check."
    public static let discussion = """
        Stages:
          precreate        podman's stage: the config on stdin, the complete
                           tightened config on stdout
          createRuntime, prestart, createContainer
                           gates: read the state on stdin and the bundle's
                           config.json, never rewrite it; in enforce mode a
                           profile weaker than the policy exits 1
          poststart        checks the running process's filter as the kernel
                           holds it (/proc, the loaded BPF); in enforce mode a
                           process that falls short is killed, exit 1
        Options:
          --policy FILE    the site policy, also --policy=FILE ("builtin": the
                           built-in baseline; default: $SECCOMP_WARDEN_POLICY,
                           /etc/seccomp-warden/policy.json, else built-in)
          -h, --help       this text
        An unknown stage or option, a missing value or a second --policy
        exits 64 before stdin is read. In audit mode a finding is logged and
        the container runs. Each decision is one JSON line in the audit log
        ($SECCOMP_WARDEN_AUDIT_LOG, the policy's auditLog, else
        /var/log/seccomp-warden/audit.log).
        """

    public static var helpText: String {
        "OVERVIEW: \(abstract)\n\nUSAGE: \(usage)\n\n\(discussion)\n"
    }

    /// Reads the arguments after `hook`.
    public static func parse(_ args: [String]) -> Parsed {
        var stage: String? = nil
        var policy: String? = nil
        var i = 0
        while i < args.count {
            let a = args[i]
            i += 1
            if a == "--help" || a == "-h" { return .help }
            if a.utf8.first == UInt8(ascii: "-") {
                // `--policy FILE` or `--policy=FILE`; nothing else, no prefixes, no joined letters.
                let bytes = Array(a.utf8)
                let eq = bytes.firstIndex(of: UInt8(ascii: "="))
                let name = String(decoding: bytes[..<(eq ?? bytes.endIndex)], as: UTF8.self)
                guard name == "--policy" else { return .error("unknown option \(RuntimeCLI.quoted(a))") }
                var value: String
                if let eq {
                    value = String(decoding: bytes[(eq + 1)...], as: UTF8.self)
                } else {
                    // The next argument, unless it is another option: `--policy --help` is a mistake, not a file.
                    guard i < args.count, args[i].utf8.first != UInt8(ascii: "-") else { return .error("--policy needs a value (a file)") }
                    value = args[i]
                    i += 1
                }
                guard !value.isEmpty else { return .error("--policy needs a value (a file)") }
                guard policy == nil else { return .error("--policy is given twice") }
                policy = value
                continue
            }
            guard stage == nil else { return .error("unexpected argument \(RuntimeCLI.quoted(a)) (one stage only)") }
            guard Hook.stages.contains(a) else {
                return .error("unknown stage \(RuntimeCLI.quoted(a)) (valid: \(Hook.stages.joined(separator: ", ")))")
            }
            stage = a
        }
        guard let stage else { return .error("missing the stage (valid: \(Hook.stages.joined(separator: ", ")))") }
        return .run(HookCommandLine(stage: stage, policy: policy))
    }

    /// Parses and runs: the hook's whole entry, shared by the fast path and ArgumentParser's command.
    public static func run(_ args: [String]) -> Int32 {
        switch parse(args) {
        case .help:
            try? FileIO.writeAll(fd: 1, Array(helpText.utf8), name: "<stdout>")
            return 0
        case .error(let message):
            printErr("seccomp-warden hook: \(message)\nusage: \(usage)")
            // A hook file with a wrong line stops every container it is called for: say so where they are traced.
            AuditLog.record(policy: nil, stage: "hook", id: nil, bundle: nil, .init(.denied, reason: "bad hook command line: \(message)"))
            return 64
        case .run(let line):
            return Hook.run(line)
        }
    }
}
