import Foundation
import Testing

/// The converted default profile, tightened with the built-in baseline, under runc.
@Suite("Converted profile under runc", .serialized)
struct ConvertRuntimeTests {
    @Test("Docker's default profile, converted and tightened with the built-in baseline, runs a shell session")
    func convertedTightenedRuns() throws {
        let dir = try tempDir("rt-convert")
        defer { cleanup(dir) }
        let id = "warden-convert-\(UInt32.random(in: 0...UInt32.max))"
        let conv = try warden(["convert", Repo.fixtures + "/docker-default.json"])
        try #require(conv.status == 0, "\(conv.stderr)")
        try conv.stdout.write(toFile: dir + "/seccomp.json", atomically: false, encoding: .utf8)
        let r = try sh("""
            source \(Repo.root)/Tests/support/runtime.sh
            make_bundle \(Repo.sample("no-seccomp"))/config.json \(dir)/b /bin/sh -c 'mkdir /tmp/x && echo hi > /tmp/x/f && cat /tmp/x/f | grep -c hi; ls / | head -1; /bin/probe status; /bin/probe ptrace; /bin/probe unshare' >/dev/null
            python3 - \(dir)/b/config.json \(dir)/seccomp.json <<'PY'
            import json, sys
            c = json.load(open(sys.argv[1])); c.setdefault("linux", {})["seccomp"] = json.load(open(sys.argv[2]))
            json.dump(c, open(sys.argv[1], "w"), indent=2)
            PY
            "$WARDEN" apply "\(dir)/b" || exit 9
            run_in runc \(dir)/b \(id)
            """, env: ["WARDEN": Repo.binary, "SECCOMP_WARDEN_POLICY": "builtin"])
        #expect(r.stdout.contains("tightened"), "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("1\nbin\n"), "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("Seccomp:\t2"), "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("ptrace errno=1 EPERM"), "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("unshare errno=1 EPERM"), "\(r.stdout) \(r.stderr)")
    }
}
