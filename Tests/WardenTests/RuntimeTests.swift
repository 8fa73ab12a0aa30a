import Foundation
import Testing

/// Real containers: the kernel's answer before and after `apply`, under runc and crun.
@Suite("Real runtimes", .serialized)
struct RuntimeTests {
    static let runtimes = ["runc", "crun"]

    /// Runs `script` with the shell helpers loaded and the CLI as $WARDEN.
    func shell(_ script: String) throws -> Result {
        try sh("source \(Repo.root)/Tests/support/runtime.sh\n" + script, env: ["WARDEN": Repo.binary])
    }

    @Test("no seccomp: unshare(0) succeeds; after apply: Seccomp 2, EPERM, and a shell still works", arguments: runtimes)
    func injectThenEnforced(runtime: String) throws {
        let dir = try tempDir("rt-\(runtime)")
        defer { cleanup(dir) }
        let id = "warden-\(runtime)-\(UInt32.random(in: 0...UInt32.max))"
        let before = try shell("""
            make_bundle \(Repo.sample("no-seccomp"))/config.json \(dir)/b /bin/sh -c '/bin/probe status; /bin/probe unshare'
            run_in \(runtime) \(dir)/b \(id)a
            """)
        #expect(before.stdout.contains("Seccomp:\t0"), "\(before.stdout) \(before.stderr)")
        #expect(before.stdout.contains("unshare ok"), "\(before.stdout) \(before.stderr)")

        let apply = try warden(["apply", dir + "/b"])
        #expect(apply.status == 0, "\(apply.stderr)")
        #expect(apply.stdout.contains("injected"))

        let after = try shell("run_in \(runtime) \(dir)/b \(id)b")
        #expect(after.stdout.contains("Seccomp:\t2"), "\(after.stdout) \(after.stderr)")
        #expect(after.stdout.contains("unshare errno=1 EPERM"), "\(after.stdout) \(after.stderr)")

        let shellWorks = try shell("""
            python3 - \(dir)/b/config.json <<'PY'
            import json, sys
            c = json.load(open(sys.argv[1])); c["process"]["args"] = ["/bin/sh", "-c", "mkdir /tmp/x && echo hi > /tmp/x/f && cat /tmp/x/f | grep -c hi && ls / | head -1"]
            json.dump(c, open(sys.argv[1], "w"))
            PY
            run_in \(runtime) \(dir)/b \(id)c
            """)
        #expect(shellWorks.stdout.hasPrefix("1\n"), "\(shellWorks.stdout) \(shellWorks.stderr)")
    }

    @Test("a seccomp key differing only in case is what runc loads (Go's JSON ignores case); check and apply refuse the config")
    func caseVariantKey() throws {
        let dir = try tempDir("rt-case")
        defer { cleanup(dir) }
        let id = "warden-case-\(UInt32.random(in: 0...UInt32.max))"
        for (n, key) in ["Syscalls", "\u{17F}yscalls"].enumerated() {
            let before = try shell("""
                make_bundle \(Repo.sample("no-seccomp"))/config.json \(dir)/b\(n) /bin/probe unshare
                python3 - \(dir)/b\(n)/config.json '\(key)' <<'PY'
                import json, sys
                c = json.load(open(sys.argv[1]))
                c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["unshare"], "action": "SCMP_ACT_ERRNO"}], sys.argv[2]: []}
                json.dump(c, open(sys.argv[1], "w"))
                PY
                run_in runc \(dir)/b\(n) \(id)-\(n)
                """)
            // Positive control: runc took the empty list beside "syscalls", so unshare is allowed.
            #expect(before.stdout.contains("unshare ok"), "\(key): \(before.stdout) \(before.stderr)")
            let text = readText(dir + "/b\(n)/config.json")
            for command in [["check"], ["apply"]] {
                let r = try warden(command + [dir + "/b\(n)"])
                #expect(r.status == 2, "\(key) \(command): \(r.stdout) \(r.stderr)")
                #expect(r.stderr.contains("only in case"), "\(r.stderr)")
            }
            #expect(readText(dir + "/b\(n)/config.json") == text)
        }
    }

    @Test("a weak ALLOW profile that allows keyctl is tightened: keyctl gets EPERM", arguments: runtimes)
    func weakTightened(runtime: String) throws {
        let dir = try tempDir("rt-weak-\(runtime)")
        defer { cleanup(dir) }
        let id = "warden-weak-\(runtime)-\(UInt32.random(in: 0...UInt32.max))"
        let before = try shell("""
            make_bundle \(Repo.sample("weak-allow"))/config.json \(dir)/b /bin/probe keyctl
            run_in \(runtime) \(dir)/b \(id)a
            """)
        // Positive control: the container ran and the probe made the call (its answer is on stdout), not EPERM.
        #expect(before.stdout.contains("keyctl "), "\(before.stdout) \(before.stderr)")
        #expect(!before.stdout.contains("EPERM"), "\(before.stdout) \(before.stderr)")
        let apply = try warden(["apply", "--diff", dir + "/b"])
        #expect(apply.status == 0)
        #expect(apply.stdout.contains("keyctl"))
        let after = try shell("run_in \(runtime) \(dir)/b \(id)b")
        #expect(after.stdout.contains("keyctl errno=1 EPERM"), "\(after.stdout) \(after.stderr)")
    }

    @Test("Docker's default profile, tightened, still runs a shell and denies ptrace", arguments: runtimes)
    func dockerDefault(runtime: String) throws {
        let dir = try tempDir("rt-docker-\(runtime)")
        defer { cleanup(dir) }
        let id = "warden-dd-\(runtime)-\(UInt32.random(in: 0...UInt32.max))"
        _ = try shell("make_bundle \(Repo.sample("docker-default"))/config.json \(dir)/b /bin/sh -c 'echo alive; /bin/probe ptrace; /bin/probe unshare'")
        #expect(try warden(["apply", dir + "/b"]).status == 0)
        let r = try shell("run_in \(runtime) \(dir)/b \(id)")
        #expect(r.stdout.contains("alive"), "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("ptrace errno=1 EPERM"), "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("unshare errno=1 EPERM"), "\(r.stdout) \(r.stderr)")
    }
}
