import WardenCore
/// A shell-style pattern over bytes: `*` matches any run of bytes (`/`, `:` and `@` included), `?`
/// exactly one byte, every other byte itself; a pattern with neither is a literal. No character
/// classes, no escapes: the facts it is matched against (Kubernetes namespaces, image references,
/// annotation values an admin names) never contain `*` or `?`.
///
/// Matching is iterative, with one resume point (the last `*` seen): it never backtracks further,
/// so it takes at most `value.count × pattern.count` steps, linear in the value for a given pattern.
/// Patterns are at most `maxPattern` bytes and values over `maxValue` bytes never match, so one
/// match is at most half a million byte comparisons (about a millisecond) whatever the container carries.
public struct Glob: Sendable, Equatable, CustomStringConvertible {
    public let pattern: String
    let bytes: [UInt8]

    /// The longest pattern a policy may write.
    public static let maxPattern = 512
    /// The longest value that can match: longer than any namespace (63 bytes) or image reference
    /// (a 255-byte name, a 128-byte tag and a digest).
    public static let maxValue = 1024

    /// Why a pattern is refused, for the policy loader's error.
    public enum Problem: Error, Equatable {
        case empty, tooLong, notPrintableASCII(offset: Int)
    }

    /// Printable ASCII only (no space, no control bytes, nothing a lookalike could hide behind).
    public init(_ pattern: String) throws(Problem) {
        let bytes = Array(pattern.utf8)
        if bytes.isEmpty { throw .empty }
        if bytes.count > Self.maxPattern { throw .tooLong }
        if let i = bytes.firstIndex(where: { $0 < 0x21 || $0 > 0x7e }) { throw .notPrintableASCII(offset: i) }
        self.pattern = pattern
        self.bytes = bytes
    }

    public var description: String { pattern }

    /// Whether the pattern is only `*`: it matches any non-empty value.
    public var matchesEverything: Bool { bytes.allSatisfy { $0 == UInt8(ascii: "*") } }

    public func matches(_ value: String) -> Bool {
        var value = value
        return value.withUTF8 { s in bytes.withUnsafeBufferPointer { p in Self.match(p, s) } }
    }

    static func match(_ p: UnsafeBufferPointer<UInt8>, _ s: UnsafeBufferPointer<UInt8>) -> Bool {
        if s.count > maxValue { return false }
        let star = UInt8(ascii: "*"), any = UInt8(ascii: "?")
        var pi = 0, si = 0
        // The last `*` seen, and the value position it is currently taken to end at.
        var resumeP = -1, resumeS = 0
        while si < s.count {
            if pi < p.count, p[pi] == star {
                resumeP = pi
                resumeS = si
                pi += 1
            } else if pi < p.count, p[pi] == any || p[pi] == s[si] {
                pi += 1
                si += 1
            } else if resumeP >= 0 {
                // The last star takes one more byte; everything after it is tried again from there.
                resumeS += 1
                si = resumeS
                pi = resumeP + 1
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == star { pi += 1 }
        return pi == p.count
    }
}
