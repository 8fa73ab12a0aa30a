import Foundation
import Testing

/// Every input a fuzzer ever crashed on is replayed through every fuzz target (plain build).
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    static let files: [String] = {
        let dir = Repo.root + "/Tests/fuzz-regressions"
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted().map { dir + "/" + $0 }
    }()

    @Test("replays cleanly", arguments: ["json", "model", "policy", "docker", "tighten"])
    func replay(target: String) throws {
        #expect(!Self.files.isEmpty)
        let bin = URL(fileURLWithPath: Repo.binary).deletingLastPathComponent().path + "/warden-fuzz"
        let r = try run(bin, Self.files, env: ["WARDEN_FUZZ_TARGET": target])
        #expect(r.status == 0, "\(r.stderr.suffix(2000))")
    }
}
