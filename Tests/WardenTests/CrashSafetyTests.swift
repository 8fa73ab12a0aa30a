import Foundation
import Testing

@Suite("Crash-safe writes")
struct CrashSafetyTests {
    @Test("apply and the wrapper SIGKILLed at random moments (200 runs): old or new content, never worse")
    func killedMidWrite() throws {
        let r = try sh("\(Repo.root)/Tests/support/killtest.sh \(Repo.binary) \(Repo.sample("weak-allow"))/config.json 200")
        let summary = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        #expect(summary.hasPrefix("summary runs=200"), "\(r.stdout) \(r.stderr)")
        #expect(summary.hasSuffix("failures=0"), "\(r.stdout)")
        // Both outcomes happened: the kills really landed before and after the rename.
        #expect(!summary.contains(" old=0 ") && !summary.contains(" new=0 "), "\(summary)")
    }
}
