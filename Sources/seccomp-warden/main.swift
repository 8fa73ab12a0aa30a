// Entry point. The hook and the runtime wrapper are on every container's critical path, so they
// are dispatched here before the argument parser is touched; so is `verify --pid/--container`.
import WardenCore
import WardenHook
#if canImport(Glibc)
import Glibc
#endif

// Built here, not with CommandLine.arguments: the standard library's `map` finds the type of its
// array by its mangled name at run time, a tenth of a warm hook's start (issue 14).
var arguments = [String]()
arguments.reserveCapacity(Int(CommandLine.argc))
for i in 0..<Int(CommandLine.argc) { arguments.append(CommandLine.unsafeArgv[i].map { String(cString: $0) } ?? "") }
if let code = FastPath.run(arguments) ?? VerifyFastPath.run(arguments) {
    exit(code)
}
// Bare `seccomp-warden` is a usage error like any other (EX_USAGE), not a help page on stdout.
if arguments.count == 1 {
    printErr(shortUsage)
    exit(64)
}
// `-V` as `--version` (ArgumentParser knows only the long flag).
if arguments.count == 2 && arguments[1] == "-V" {
    print(VersionText.lines)
    exit(0)
}
// As SeccompWarden.main(), but a usage error under `--json` is JSON on stdout too, like every other error.
do {
    var command = try SeccompWarden.parseAsRoot()
    try command.run()
} catch {
    let code = SeccompWarden.exitCode(for: error)
    if code.rawValue == 64 && (arguments.contains("--json") || arguments.contains("--format=json")
                               || zip(arguments, arguments.dropFirst()).contains { $0 == ("--format", "json") }) {
        usageErrorJSON(SeccompWarden.message(for: error), exit: code.rawValue)
    }
    SeccompWarden.exit(withError: error)
}
