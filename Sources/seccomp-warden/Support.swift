import WardenCore
import ArgumentParser
import WardenHook
import WardenJSON
import WardenSpec

/// The layout number of every `--json` output (`"schema"`, first key): raised when a field changes
/// meaning or goes away. The audit log's lines carry their own.
let jsonSchema = 1

/// Runs a command body; a WardenError becomes its one line on stderr and its documented exit code,
/// and under `--json` also its JSON object on stdout.
func runReportingErrors(json: Bool = false, _ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as WardenError {
        reportError(e, json: json)
        throw ExitCode(e.exitCode)
    }
}

func reportError(_ e: WardenError, json: Bool, command: String? = nil, exit: Int32? = nil) {
    printErr("seccomp-warden\(command.map { " " + $0 } ?? ""): \(e)")
    if json { reportJSON(e.json(schema: jsonSchema, exit: exit)) }
}

/// A usage error (64) under `--json`: the same object as any error, with no file or path.
func usageErrorJSON(_ message: String, exit: Int32) {
    reportJSON(WardenError(.input, message).json(schema: jsonSchema, exit: exit))
}

private func reportJSON(_ json: JSON) {
    try? FileIO.writeAll(fd: 1, json.serialized(.indented), name: "<stdout>")
}

/// `--arch` of every command: one table (`SeccompArch(spelling:)`); anything else is a usage error (64).
extension SeccompArch: ExpressibleByArgument {
    public init?(argument: String) { self.init(spelling: argument) }
}

/// A Prometheus label value, escaped as the text exposition format asks: backslash, quote, newline.
func prometheusLabel(_ s: String) -> String {
    var o = ""
    for c in s {
        switch c {
        case "\\": o += "\\\\"
        case "\"": o += "\\\""
        case "\n": o += "\\n"
        default: o.append(c)
        }
    }
    return o
}
