import WardenCore

public extension WardenError {
    /// The error under `--json`, on stdout: `{"schema":N,"error":{"file","line","column","path","message"},"exit":N}`
    /// (null where unknown; `exit` the code the command exits with), so a machine reading stdout gets JSON whatever happened.
    func json(schema: Int, exit: Int32? = nil) -> JSON {
        .object([
            ("schema", .int(Int64(schema))),
            ("error", .object([
                ("file", file.map { .string($0) } ?? .null),
                ("line", location.map { .int(Int64($0.line)) } ?? .null),
                ("column", location.map { .int(Int64($0.column)) } ?? .null),
                ("path", path.flatMap { $0.isRoot ? nil : .string("\($0)") } ?? .null),
                ("message", .string(message)),
            ])),
            ("exit", .int(Int64(exit ?? exitCode))),
        ])
    }
}
