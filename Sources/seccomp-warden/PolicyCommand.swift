import WardenCore
import ArgumentParser
import WardenHook
import WardenJSON
import WardenPolicy
import WardenSeccomp
import WardenSpec

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Show, validate or compare site policies.",
        subcommands: [Show.self, Validate.self, Diff.self]
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
                    // The policy's own routes (with their action: denied or logged) that lead to the capability.
                    let held = c.routes.compactMap { r in own.first { $0.syscall == r.syscall && $0.conditions == r.conditions } }
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
                print("  mode \(p.mode.rawValue): \(Self.modeMeaning(p.mode))")
                // The capabilities of the built-in baseline the deny rules hold: denied, logged, or partly.
                var denied = [String](), logged = [String](), partly = [String]()
                for c in p.coverage where c.held > 0 {
                    let name = c.held < c.total ? "\(c.capability.name) (\(c.held) of \(c.total) routes)" : c.capability.name
                    if c.held < c.total { partly.append(name) }
                    if c.logged == c.held || p.logsAll { logged.append(name) } else if c.held == c.total { denied.append(name) }
                }
                if !denied.isEmpty { print("  denied: \(denied.joined(separator: ", "))") }
                if !logged.isEmpty { print("  logged (SCMP_ACT_LOG): \(logged.joined(separator: ", "))") }
                if !partly.isEmpty { print("  partly held: \(partly.joined(separator: ", "))") }
                let site = Set(p.deny.flatMap(\.names)).subtracting(Builtin.routes.map(\.syscall))
                if !site.isEmpty { print("  site rules beyond the baseline: \(site.sorted().joined(separator: ", "))") }
                if !p.denySources.isEmpty { print("  deny files in Docker format, converted per container: \(p.denySources.count)") }
                if p.exemptions.isEmpty { print("  exemptions: none") }
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
                for w in p.baselineWarnings + p.exemptionWarnings { printErr("seccomp-warden: warning: \(w)") }
            }
        }
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say which routes, modes and exemptions change from policy OLD to policy NEW.",
            discussion: "Exit: 0 the same, 1 they differ, 2 a policy is invalid (as policy check says)."
        )
        @Argument(help: "The policy in force.") var old: String
        @Argument(help: "The policy to compare it with.") var new: String

        func run() throws {
            try runReportingErrors {
                let a = try Policy.load(explicit: old), b = try Policy.load(explicit: new)
                let lines = PolicyDiff.lines(a, b)
                if lines.isEmpty { print("\(a.source) and \(b.source): the same routes, mode and exemptions"); return }
                print("--- \(a.source) (digest \(a.digest))\n+++ \(b.source) (digest \(b.digest))")
                for l in lines { print(l) }
                throw ExitCode(1)
            }
        }
    }
}

extension PolicyCommand.Validate {
    static func modeMeaning(_ m: Policy.Mode) -> String {
        switch m {
        case .enforce: "the baseline's routes denied, refused containers stopped"
        case .observe: "the baseline's routes logged, not denied; nothing stopped"
        case .audit: "nothing changed or stopped; decisions logged"
        }
    }
}
