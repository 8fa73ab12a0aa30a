import WardenCore
import ArgumentParser
import WardenHook
import WardenJSON
import WardenPolicy
import WardenSpec

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inject or tighten a bundle's seccomp profile against the policy, in place (atomic).",
        discussion: """
            Exit: 0 done or already compliant, 1 refused by policy, 2 bad input, 3 system error.
            The policy's mode decides: enforce writes denials and refuses; observe writes SCMP_ACT_LOG where \
            the baseline would deny and never refuses; audit writes nothing and never refuses (it says what \
            enforce would do).
            """
    )

    @Argument(help: "A bundle folder or a config.json.") var path: String
    @OptionGroup var policyOptions: PolicyOptions
    @Flag(help: "Decide and report, but write nothing.") var dryRun = false
    @Flag(help: "Print each change: syscalls newly denied, rules changed, flags removed.") var diff = false
    @Option(help: "Write the result to FILE ('-' for stdout) instead of in place.") var output: String?
    @Option(help: "Replace the container's profile with FILE (runtime-spec, Docker or podman format) before tightening.") var profile: String?
    @Flag(help: "Refuse (exit 1, nothing written) where the result would be stricter than the exact meet of the container's profile and the policy.") var exact = false

    func run() throws {
        try runReportingErrors {
            FastPath.armDeadline(60)
            let policy = try Policy.load(explicit: policyOptions.policy)
            // In place, the bundle is opened as the wrapper opens it: its folder, config.json and every
            // folder above them writable by root only, or refused; read, replaced and read back through
            // the folder's descriptor. Written elsewhere or not at all, it is only read.
            let inPlace = output == nil && !dryRun
            let opened = try Bundle.open(path, writers: inPlace ? .rootAndSelf : .anyone)
            let config = opened.config
            if let profile { config.setSeccomp(try loadProfile(file: profile, context: .of(config))) }
            let e = try Evaluation.evaluate(config, policy: policy)
            let toStdout = output == "-"
            func say(_ s: String) { if toStdout { printErr(s) } else { print(s) } }
            say("\(config.name): \(e.summary)")
            if diff { for c in e.changes { say("  \(c)") } }
            if e.verdict == .denied {
                guard policy.mode.refuses else {
                    say("\(config.name): \(policy.mode.rawValue) mode: would be refused; nothing written")
                    return
                }
                throw WardenError(.refused, file: config.name, "refused: \(e.reason ?? "")")
            }
            // Where the meet could not be written exactly, the result is stricter than both sides ask for.
            let departures = e.changes.filter { if case .overApproximated = $0 { true } else { false } }
            if exact, let first = departures.first {
                throw WardenError(.refused, file: config.name, "refused by --exact: \(first)" + (departures.count > 1 ? " (and \(departures.count - 1) more)" : ""))
            }
            if dryRun { return }
            // Audit changes nothing: it only says what enforce would do.
            if !policy.mode.writesProfiles {
                if e.profile != nil || profile != nil { say("\(config.name): audit mode: nothing written") }
                return
            }
            if let profile = e.profile { config.setSeccomp(profile) }
            let bytes = config.document.serialized(.indented)
            switch output {
            case "-": try FileIO.writeAll(fd: 1, bytes, name: "<stdout>")
            case let file?: try FileIO.writeFile(file, bytes)
            case nil: if e.profile != nil || profile != nil { try opened.replace(with: bytes) }
            }
        }
    }
}
