import ArgumentParser
import WardenHook
import WardenJSON

/// Runs a command body; a WardenError becomes its one line on stderr and its documented exit code.
func runReportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as WardenError {
        printErr("seccomp-warden: \(e)")
        throw ExitCode(e.exitCode)
    }
}
