import WardenCore
import ArgumentParser
import WardenHook
import WardenJSON
import WardenPolicy
import WardenSpec

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a bundle against the policy without changing it.",
        discussion: "Exit: 0 compliant (or exempt), 1 falls short (each finding on a line), 2 bad input, 3 system error."
    )

    @Argument(help: "A bundle folder or a config.json.") var path: String
    @OptionGroup var policyOptions: PolicyOptions
    @Flag(help: "Print a JSON object for machines.") var json = false

    func run() throws {
        try runReportingErrors(json: json) {
            FastPath.armDeadline(60)
            let policy = try Policy.load(explicit: policyOptions.policy)
            let config = try Bundle.loadConfig(path)
            let e = try Evaluation.evaluate(config, policy: policy)
            // An injection's own changes are not the container's findings: it simply had no profile.
            let findings: [Finding] = e.verdict == .denied ? [.refused(e.reason ?? "refused")]
                : e.verdict == .injected ? [Change.injected.finding] : e.changes.map(\.finding)
            let ok = e.verdict == .compliant || e.verdict == .exempt
            if json {
                let out: JSON = .object([
                    ("schema", .int(Int64(checkSchema))),
                    ("file", .string(config.name)),
                    ("compliant", .bool(ok)),
                    ("verdict", .string(ok ? e.verdict.rawValue : (e.verdict == .denied ? "denied" : "falls-short"))),
                    ("reason", e.reason.map { .string($0) } ?? .null),
                    ("findings", .array(findings.map { f in
                        .object([("code", .string(f.code)), ("syscall", f.syscall.map { .string($0) } ?? .null), ("detail", .string(f.detail))])
                    })),
                    ("policy", .string(policy.source)),
                    ("policyDigest", .string(policy.digest)),
                ])
                try FileIO.writeAll(fd: 1, out.serialized(.indented), name: "<stdout>")
            } else if ok {
                print("\(config.name): \(e.summary)")
            } else {
                for f in findings { print("\(config.name): linux.seccomp: \(f.detail)") }
            }
            if !ok { throw ExitCode(1) }
        }
    }

    /// `check --json`'s layout: 2 since findings are objects (code, syscall, detail), not lines.
    let checkSchema = 2
}
