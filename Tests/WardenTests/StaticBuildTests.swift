import Foundation
import Testing

/// The release binary as install.sh builds it (scripts/build-release) is one static executable, and
/// works with nothing else on the file system: no dynamic loader, no shared library, no /etc (no NSS).
/// It checks the binary bench/run built (.ci/run runs `bench/run --quick` before the tests), or
/// $SECCOMP_WARDEN_RELEASE_BIN; without either there is nothing to check here (scripts/build-release
/// itself refuses a dynamic result).
let staticReleaseBinary: String? = {
    let path = ProcessInfo.processInfo.environment["SECCOMP_WARDEN_RELEASE_BIN"] ?? Repo.root + "/.build-bench/release/seccomp-warden"
    return FileManager.default.isExecutableFile(atPath: path) ? path : nil
}()

@Suite("Static release binary", .enabled(if: staticReleaseBinary != nil))
struct StaticBuildTests {
    static var binary: String? { staticReleaseBinary }

    @Test("ldd says \"not a dynamic executable\"; it has no PT_INTERP (no dynamic loader)")
    func notDynamic() throws {
        let bin = try #require(Self.binary)
        let ldd = try sh("LC_ALL=C ldd \(bin) 2>&1; true")
        #expect(ldd.stdout.contains("not a dynamic executable"), "\(ldd.stdout)")
        let headers = try sh("LC_ALL=C readelf -l \(bin)")
        #expect(headers.status == 0 && headers.stdout.contains("LOAD"), "\(headers.stderr)")
        #expect(!headers.stdout.contains("INTERP"), "\(headers.stdout)")
    }

    @Test("it injects, judges and refuses in an empty chroot: no shared library, no /etc, no NSS module; only /proc")
    func emptyChroot() throws {
        let bin = try #require(Self.binary)
        let dir = try tempDir("static-chroot")
        defer { cleanup(dir) }
        try FileManager.default.copyItem(atPath: bin, toPath: dir + "/seccomp-warden")
        try FileManager.default.copyItem(atPath: Repo.sample("no-seccomp") + "/config.json", toPath: dir + "/none.json")
        try FileManager.default.copyItem(atPath: Repo.sample("weak-allow") + "/config.json", toPath: dir + "/weak.json")
        try FileManager.default.createDirectory(atPath: dir + "/proc", withIntermediateDirectories: false)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["none.json", "proc", "seccomp-warden", "weak.json"])
        // /proc is the one thing a static Swift executable needs: its runtime finds its own path through
        // /proc/self/exe (dladdr knows nothing without the dynamic loader). Mounted in a private mount
        // namespace, gone with it.
        let env = "env -i SECCOMP_WARDEN_POLICY=builtin SECCOMP_WARDEN_AUDIT_LOG=/audit.log SECCOMP_WARDEN_CACHE=off"
        func chrooted(_ args: String) throws -> Result {
            try sh("unshare -m --propagation private sh -c 'mount --bind /proc \(dir)/proc && exec \(env) /usr/sbin/chroot \(dir) /seccomp-warden \(args)'")
        }
        // precreate: config on stdin, the tightened config on stdout.
        let inject = try chrooted("hook precreate </\(dir)/none.json")
        #expect(inject.status == 0, "\(inject.stderr)")
        let out = try JSONSerialization.jsonObject(with: Data(inject.stdout.utf8)) as? [String: Any]
        let seccomp = (out?["linux"] as? [String: Any])?["seccomp"] as? [String: Any]
        #expect(seccomp?["defaultAction"] as? String == "SCMP_ACT_ERRNO", "\(inject.stdout.prefix(300))")
        // check (ArgumentParser's path): the weak profile falls short (exit 1), and says why.
        let check = try chrooted("check /weak.json")
        #expect(check.status == 1, "\(check.stdout) \(check.stderr)")
        #expect((check.stdout + check.stderr).contains("keyctl"), "\(check.stdout) \(check.stderr)")
        // The audit log was written inside the chroot: the precreate decision is recorded.
        let log = try String(contentsOfFile: dir + "/audit.log", encoding: .utf8)
        #expect(log.contains(#""decision":"injected""#), "\(log)")
    }
}
