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
        static let configuration = CommandConfiguration(
            abstract: "Print the effective policy as JSON, or (--routes) the capabilities it takes away and every route to each.")
        @OptionGroup var policyOptions: PolicyOptions
        @Flag(help: "List each capability the deny rules close and every syscall route to it, with its number on each ABI.")
        var routes = false

        func run() throws {
            try runReportingErrors {
                let p = try Policy.load(explicit: policyOptions.policy)
                guard routes else {
                    try FileIO.writeAll(fd: 1, p.json.serialized(.indented), name: "<stdout>")
                    return
                }
                let own = p.deny.flatMap(\.routes)
                func line(_ r: Route) -> String {
                    let numbers = Guarantee.abis.map { arch in
                        "\(arch.libseccompName) " + (Syscalls.number(r.syscall, arch: arch).map { String($0 & 0x3fff_ffff) } ?? "-")
                    }
                    return "  \(r) => \(r.action)  [\(numbers.joined(separator: ", "))]"
                }
                var covered = Set<Route>()
                for c in Builtin.capabilities {
                    let held = c.routes.filter { own.contains($0) }
                    guard !held.isEmpty else { continue }
                    covered.formUnion(held)
                    print("\(c.name): \(c.summary)\(held.count < c.routes.count ? " (partly: \(held.count) of \(c.routes.count) routes)" : "")")
                    for r in held { print(line(r)) }
                }
                let rest = own.filter { !covered.contains($0) }
                if !rest.isEmpty {
                    print("site rules:")
                    for r in rest { print(line(r)) }
                }
                print("syscalls newer than libseccomp: denied by the default (ENOSYS where a profile's default lets calls through)")
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
                // Every file that contributed, as read (root's, checked on the descriptor read), with its digest.
                for f in p.files { print("  \(f.role): \(f.path) (digest \(f.digest))") }
                for arch in p.architectures ?? [] {
                    let missing = p.unresolved(on: arch)
                    if !missing.isEmpty { print("  note: not syscalls on \(arch.rawValue) (skipped there): \(missing.joined(separator: ", "))") }
                }
                if let engine = p.trustedEngine {
                    print("  trusted engine: \(engine.rawValue) (namespace from \(engine.namespaceKey), image from \(engine.imageKey))")
                }
                for e in p.exemptions { print("  \(e.summary)") }
                for w in p.exemptionWarnings { printErr("seccomp-warden: warning: \(w)") }
            }
        }
    }
}
