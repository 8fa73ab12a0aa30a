import ArgumentParser
import WardenHook
import WardenJSON
import WardenPolicy
import WardenSeccomp
import WardenSpec

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Show or validate the site policy.",
        subcommands: [Show.self, Validate.self]
    )

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the effective policy as JSON.")
        @OptionGroup var policyOptions: PolicyOptions

        func run() throws {
            try runReportingErrors {
                let p = try Policy.load(explicit: policyOptions.policy)
                try FileIO.writeAll(fd: 1, p.json.serialized(.indented), name: "<stdout>")
            }
        }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Validate a policy file (default: the effective policy); exit 0 valid, 2 invalid."
        )
        @Argument(help: "The policy file.") var file: String?
        @OptionGroup var policyOptions: PolicyOptions

        func run() throws {
            try runReportingErrors {
                let p = try Policy.load(explicit: file ?? policyOptions.policy)
                // Compile what the policy would inject, to catch what libseccomp itself refuses.
                _ = try Compiler.compile(try Tighten.tighten(nil, policy: p).profile)
                print("\(p.source): valid (mode \(p.mode.rawValue), \(Set(p.deny.flatMap(\.names)).count) syscalls with deny rules, digest \(p.digest))")
                for arch in p.architectures ?? [] {
                    let missing = p.unresolved(on: arch)
                    if !missing.isEmpty { print("  note: not syscalls on \(arch.rawValue) (skipped there): \(missing.joined(separator: ", "))") }
                }
            }
        }
    }
}
