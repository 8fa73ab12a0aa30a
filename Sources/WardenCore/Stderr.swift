#if canImport(Glibc)
import Glibc
#endif

/// Writes one line to stderr, unbuffered.
public func printErr(_ line: String) {
    var bytes = Array(line.utf8)
    bytes.append(10)
    try? FileIO.writeAll(fd: 2, bytes, name: "<stderr>")
}
