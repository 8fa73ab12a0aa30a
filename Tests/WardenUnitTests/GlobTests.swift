import WardenCore
import Testing
@testable import WardenPolicy

@Suite("Glob matcher")
struct GlobTests {
    static let rows: [(pattern: String, value: String, matches: Bool)] = [
        // Literals: byte for byte.
        ("kube-system", "kube-system", true),
        ("kube-system", "kube-system2", false),
        ("kube-system", "kube-syste", false),
        ("kube-system", "Kube-system", false),
        ("kube-system", "", false),
        // *: any run, empty included, across / : @.
        ("kube-*", "kube-system", true),
        ("kube-*", "kube-", true),
        ("kube-*", "kube", false),
        ("*", "anything/at:all@sha256:00", true),
        ("*-system", "kube-system", true),
        ("*-system", "kube-system-evil", false),
        ("a*b*c", "abc", true),
        ("a*b*c", "aXXbYYc", true),
        ("a*b*c", "aXXcYYb", false),
        ("a*b*c", "abcabc", true),
        ("a*b*c", "abcab", false),
        ("**", "x", true),
        ("a**b", "ab", true),
        // ?: exactly one byte.
        ("kube-?ystem", "kube-system", true),
        ("kube-?ystem", "kube-ystem", false),
        ("kube-?ystem", "kube-ssystem", false),
        ("???", "abc", true),
        ("???", "ab", false),
        // Image references: tags, digests, registries.
        ("registry.k8s.io/kube-proxy:*", "registry.k8s.io/kube-proxy:v1.29.0", true),
        ("registry.k8s.io/kube-proxy:*", "registry.k8s.io/kube-proxy@sha256:" + String(repeating: "a", count: 64), false),
        ("registry.k8s.io/kube-proxy@sha256:*", "registry.k8s.io/kube-proxy@sha256:" + String(repeating: "a", count: 64), true),
        ("registry.k8s.io/kube-proxy@sha256:" + String(repeating: "a", count: 64),
         "registry.k8s.io/kube-proxy@sha256:" + String(repeating: "a", count: 63) + "b", false),
        ("registry.k8s.io/kube-proxy:*", "evil.example/registry.k8s.io/kube-proxy:v1", false),
        ("registry.k8s.io/kube-proxy:*", "registry.k8s.io/kube-proxy-evil:v1", false),
        // What * really covers: a prefix pattern without ':' takes sibling repositories too (README says so).
        ("registry.k8s.io/kube-proxy*", "registry.k8s.io/kube-proxy-evil:v1", true),
        // Lookalikes are other bytes: Cyrillic е (U+0435), Kelvin sign (canonically equal to K in Swift).
        ("kube-system", "kubе-system", false),
        ("K", "\u{212A}", false),
        ("kube-?ystem", "kube-ѕystem", false),
        ("kube-*", "kube-ѕystem", true),
    ]

    @Test("table", arguments: rows)
    func table(row: (pattern: String, value: String, matches: Bool)) throws {
        #expect(try Glob(row.pattern).matches(row.value) == row.matches, "\(row.pattern) ~ \(row.value)")
    }

    @Test("refused patterns", arguments: [
        ("", Glob.Problem.empty), (String(repeating: "a", count: 513), .tooLong),
        ("kube system", .notPrintableASCII(offset: 4)), ("kubе", .notPrintableASCII(offset: 3)),
        ("a\tb", .notPrintableASCII(offset: 1)), ("\u{212A}", .notPrintableASCII(offset: 0)),
    ])
    func refused(pattern: String, problem: Glob.Problem) {
        #expect(throws: problem) { try Glob(pattern) }
    }

    @Test("values longer than maxValue never match, even under *")
    func longValues() throws {
        #expect(try Glob("*").matches(String(repeating: "a", count: Glob.maxValue)))
        #expect(try !Glob("*").matches(String(repeating: "a", count: Glob.maxValue + 1)))
    }

    /// One pathological input: the value is built in the test (the test log names the case only).
    struct Slow: Sendable, CustomTestStringConvertible {
        var name: String
        var pattern: String
        var value: @Sendable () -> String
        var matches: Bool
        var testDescription: String { name }
    }

    /// The input that held a regular expression over a minute (`^(\w+\s?)*$` against 35 characters),
    /// as globs that make a backtracking matcher exponential, and the worst cases for this one.
    @Test("pathological inputs finish at once", arguments: [
        Slow(name: "20 stars, 35 bytes, no match", pattern: String(repeating: "*a", count: 20) + "*b",
             value: { String(repeating: "a", count: 35) }, matches: false),
        Slow(name: "20 stars, maxValue bytes, no match", pattern: String(repeating: "*a", count: 20) + "*b",
             value: { String(repeating: "a", count: Glob.maxValue) }, matches: false),
        Slow(name: "one star then 510 literal bytes, maxValue bytes", pattern: "*" + String(repeating: "a", count: 510) + "b",
             value: { String(repeating: "a", count: Glob.maxValue) }, matches: false),
        Slow(name: "256 star-questions, maxValue bytes", pattern: String(repeating: "*?", count: 256),
             value: { String(repeating: "a", count: Glob.maxValue - 1) + "!" }, matches: true),
        Slow(name: "16 MB value", pattern: "*", value: { String(repeating: "a", count: 16 << 20) }, matches: false),
    ])
    func pathological(_ c: Slow) throws {
        let glob = try Glob(c.pattern)
        let value = c.value()
        var result = !c.matches
        let took = ContinuousClock().measure { result = glob.matches(value) }
        #expect(took < .milliseconds(500), "\(took)")
        #expect(result == c.matches)
    }
}
