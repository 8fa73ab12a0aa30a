import WardenCore
import ArgumentParser
import WardenHook
import WardenJSON
import WardenSpec
#if canImport(Glibc)
import Glibc
#endif

struct Register: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add the createRuntime gate and the poststart verify hooks to a bundle's config.json (plain runc/crun).",
        discussion: "Idempotent: a stage that already runs seccomp-warden is left alone. The file is replaced atomically."
    )

    @Argument(help: "A bundle folder or a config.json.") var path: String
    @Option(help: "A policy file for the hooks to use (default: their own lookup).") var policy: String?
    @Option(help: "The audit log the hooks write (default: the policy's).") var auditLog: String?

    func run() throws {
        try runReportingErrors {
            // It rewrites config.json in place: only a bundle nobody but root can change (see `Bundle.open`).
            let opened = try Bundle.open(path, writers: .rootAndSelf)
            let config = opened.config
            let doc = config.document
            let me = selfPath()
            let hooks = doc.object(at: doc.root, key: "hooks")
            var added = [String]()
            for stage in ["createRuntime", "poststart"] {
                var entries = [JSON]()
                if let existing = hooks[stage] {
                    for e in try existing.expectArray() { entries.append(e.value) }
                }
                let already = entries.contains { e in
                    if case .array(let args)? = e["args"] { return args.contains(.string("hook")) && args.contains(.string(stage)) && e["path"] == .string(me) }
                    return false
                }
                if already { continue }
                var args: [JSON] = [.string("seccomp-warden"), .string("hook"), .string(stage)]
                if let policy { args += [.string("--policy"), .string(policy)] }
                var entry: [(String, JSON)] = [("path", .string(me)), ("args", .array(args))]
                if let auditLog {
                    entry.append(("env", .array([.string("SECCOMP_WARDEN_AUDIT_LOG=\(auditLog)"),
                                                 .string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")])))
                }
                // No runtime `timeout` on poststart: crun 1.8.1 waits for a timed hook with
                // sigtimedwait(SIGCHLD) and takes only a signal from the hook's pid, and a short-lived
                // container's exit merges with the hook's into one SIGCHLD naming the container: crun
                // then waits out the whole timeout and fails the run ("timeout expired", 6 of 40 runs of
                // `true` here). The hook bounds itself (its 8 s deadline) either way.
                if stage != "poststart" { entry.append(("timeout", .int(10))) }
                entries.append(.object(entry))
                doc.set(.array(entries), at: hooks, key: stage)
                added.append(stage)
            }
            if !added.isEmpty { try opened.replace(with: doc.serialized(.indented)) }
            print("\(config.name): " + (added.isEmpty ? "hooks already registered" : "registered \(added.joined(separator: ", "))"))
        }
    }

    func selfPath() -> String {
        guard let r = realpath("/proc/self/exe", nil) else { return CommandLine.arguments[0] }
        defer { free(r) }
        return String(cString: r)
    }
}
