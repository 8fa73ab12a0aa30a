import WardenCore
import ArgumentParser
import WardenHook

/// `hook`: main.swift hands every `hook` line to the fast path before ArgumentParser runs; this entry
/// only lists the command in `seccomp-warden --help` and answers `seccomp-warden help hook`. Its text
/// and its parser are HookCommandLine's, so the two can never disagree.
struct HookCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hook",
        abstract: HookCommandLine.abstract,
        usage: HookCommandLine.usage,
        discussion: HookCommandLine.discussion
    )
    @Argument(parsing: .captureForPassthrough, help: .hidden) var arguments: [String] = []

    func run() throws {
        let code = HookCommandLine.run(arguments)
        if code != 0 { throw ExitCode(code) }
    }
}
