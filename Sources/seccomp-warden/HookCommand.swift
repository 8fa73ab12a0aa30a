import ArgumentParser
import WardenHook

/// Documents the hook entry; the call itself is dispatched in main.swift before argument parsing.
struct HookCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hook",
        abstract: "Run as an OCI hook: precreate (config on stdin, tightened config on stdout) or a gate stage.",
        discussion: """
            Stages: precreate, createRuntime, prestart, createContainer. Gate stages read the state on stdin \
            and <bundle>/config.json, and never rewrite it: in enforce mode a profile weaker than the policy \
            exits 1 with one line saying what falls short; in audit mode it is logged and the container runs. \
            Each decision is one JSON line in the audit log ($SECCOMP_WARDEN_AUDIT_LOG, the policy's auditLog, \
            else /var/log/seccomp-warden/audit.log).
            """
    )
    @Argument(help: "The hook stage.") var stage: String
    @Option(help: "The site policy file.") var policy: String?

    func run() throws {
        let code = Hook.run(stage: stage, arguments: policy.map { ["--policy", $0] } ?? [])
        if code != 0 { throw ExitCode(code) }
    }
}
