import WardenJSON
#if canImport(Glibc)
import Glibc
#endif

public enum WardenVersion {
    public static let string = "0.1.0"
}

/// The critical-path entry points, dispatched before any argument parsing library runs.
public enum FastPath {
    /// Returns an exit code when argv names a fast-path entry (hook, runtime wrapper), else nil.
    public static func run(_ argv: [String]) -> Int32? {
        if let argv0 = argv.first, let runtime = Wrapper.runtimeName(argv0: argv0) {
            return Wrapper.run(runtime: runtime, argv: argv)
        }
        if argv.count >= 3 && argv[1] == "hook" && !argv[2].hasPrefix("-") {
            return Hook.run(stage: argv[2], arguments: Array(argv.dropFirst(3)))
        }
        return nil
    }
}

/// Writes one line to stderr, unbuffered.
public func printErr(_ line: String) {
    var bytes = Array(line.utf8)
    bytes.append(10)
    try? FileIO.writeAll(fd: 2, bytes, name: "<stderr>")
}
