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
            let findings: [String] = e.verdict == .denied ? [e.reason ?? "refused"]
                : e.verdict == .injected ? [findingText(.injected)] : e.changes.map(findingText)
            let ok = e.verdict == .compliant || e.verdict == .exempt
            if json {
                let out: JSON = .object([
                    ("schema", .int(Int64(jsonSchema))),
                    ("file", .string(config.name)),
                    ("compliant", .bool(ok)),
                    ("verdict", .string(ok ? e.verdict.rawValue : (e.verdict == .denied ? "denied" : "falls-short"))),
                    ("reason", e.reason.map { .string($0) } ?? .null),
                    ("findings", .array(findings.map { .string($0) })),
                    ("policy", .string(policy.source)),
                    ("policyDigest", .string(policy.digest)),
                ])
                try FileIO.writeAll(fd: 1, out.serialized(.indented), name: "<stdout>")
            } else if ok {
                print("\(config.name): \(e.summary)")
            } else {
                for f in findings { print("\(config.name): linux.seccomp: \(f)") }
            }
            if !ok { throw ExitCode(1) }
        }
    }

    func findingText(_ c: Change) -> String {
        switch c {
        case .injected: "no seccomp profile (the container runs unconfined)"
        default: "weaker than the policy: \(c)"
        }
    }
}
