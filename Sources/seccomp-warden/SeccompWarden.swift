import WardenCore
import ArgumentParser
import WardenHook

struct SeccompWarden: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seccomp-warden",
        abstract: "Enforce a site-wide seccomp baseline on OCI containers, and prove it from the kernel's side.",
        discussion: """
            Exit codes: 0 success / compliant, 1 falls short of the policy (or refused), \
            2 bad input (config, state, profile or policy), 3 system error, 64 bad usage \
            (README.md, "Commands", has the table).
            Policy: --policy FILE, else $SECCOMP_WARDEN_POLICY, else /etc/seccomp-warden/policy.json, \
            else the built-in baseline.
            """,
        version: VersionText.lines,
        subcommands: [Apply.self, Check.self, PolicyCommand.self, HookCommand.self, Register.self, Verify.self, Explain.self, Convert.self, Report.self, Node.self, VersionCommand.self]
    )
}

/// What bare `seccomp-warden` prints to stderr before exiting 64 (EX_USAGE).
let shortUsage = """
    usage: seccomp-warden <command> [options]
    commands: apply, check, policy, verify, report, explain, convert, hook, register, node, version
    seccomp-warden --help (or help COMMAND) says more; man seccomp-warden for the manual.
    """

/// Options every command that reads a policy shares.
struct PolicyOptions: ParsableArguments {
    @Option(name: .long, help: "The site policy file (default: $SECCOMP_WARDEN_POLICY, /etc/seccomp-warden/policy.json, built-in).")
    var policy: String?
}
