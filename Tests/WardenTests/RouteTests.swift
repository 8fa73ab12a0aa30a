import WardenCore
import Foundation
import Testing
@testable import WardenSeccomp

/// The guarantee by every route, with real containers: after `apply`, every route to a baseline
/// capability fails inside the container (the syscall, clone/clone3/unshare with namespace flags,
/// io_uring, /dev/userfaultfd's ioctl, pidfd_getfd, the i386 ABI by `int $0x80`, the x32 ABI, argument
/// values past 32 bits, a syscall newer than libseccomp), and the container still runs a shell that forks.
@Suite("Every route, real runtimes", .serialized)
struct RouteTests {
    static let runtimes = ["runc", "crun"]

    /// Each probe and the answers that mean "denied by the filter" (anything else, "ok" above all, fails).
    /// EBADF/ENOENT would mean the call reached the kernel; a probe killed by the filter prints nothing.
    static let probes: [(name: String, denied: Set<String>)] = [
        ("unshare", ["EPERM"]), ("keyctl", ["EPERM"]), ("keyctl-hi", ["EPERM"]),
        ("clone-userns", ["EPERM"]), ("clone-userns-hi", ["EPERM"]), ("clone3-userns", ["ENOSYS", "EPERM"]),
        ("io_uring_setup", ["EPERM", "ENOSYS"]), ("uffd-ioctl", ["EPERM"]), ("uffd-ioctl-hi", ["EPERM"]),
        ("pidfd_getfd", ["EPERM"]), ("ptrace", ["EPERM"]), ("bpf", ["EPERM"]), ("umount2", ["EPERM"]),
        ("keyctl-i386", ["EPERM", "killed"]), ("unshare-i386", ["EPERM", "killed"]), ("keyctl-x32", ["ENOSYS", "EPERM", "killed"]),
        ("open_tree_attr", ["ENOSYS", "EPERM"]),
    ]

    /// The container's profiles, as (label, JSON for linux.seccomp or a file to convert, nil: none).
    static let profiles: [(String, String?)] = [
        ("no profile", nil),
        ("ALLOW, x86_64 only", #"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"]}"#),
        ("ALLOW, no architectures", #"{"defaultAction":"SCMP_ACT_ALLOW"}"#),
        ("ALLOW, all three", #"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"]}"#),
        ("LOG default", #"{"defaultAction":"SCMP_ACT_LOG","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"]}"#),
        ("keyctl by 64-bit halves", #"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],"syscalls":[{"names":["keyctl"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":4294967296,"op":"SCMP_CMP_LE"}]},{"names":["keyctl"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":134217728,"op":"SCMP_CMP_GT"},{"index":0,"value":8070450532247928832,"op":"SCMP_CMP_LT"}]}]}"#),
        ("seven clone flags in one entry", #"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],"syscalls":[{"names":["clone"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":131072,"valueTwo":131072,"op":"SCMP_CMP_MASKED_EQ"},{"index":0,"value":33554432,"valueTwo":33554432,"op":"SCMP_CMP_MASKED_EQ"},{"index":0,"value":67108864,"valueTwo":67108864,"op":"SCMP_CMP_MASKED_EQ"},{"index":0,"value":134217728,"valueTwo":134217728,"op":"SCMP_CMP_MASKED_EQ"},{"index":0,"value":536870912,"valueTwo":536870912,"op":"SCMP_CMP_MASKED_EQ"},{"index":0,"value":1073741824,"valueTwo":1073741824,"op":"SCMP_CMP_MASKED_EQ"},{"index":0,"value":268435456,"valueTwo":268435456,"op":"SCMP_CMP_MASKED_EQ"}]}]}"#),
        // Red team: ERRNO(0) does not run the call but reports success (clone "returns" as the child).
        ("errnoRet 0 on the routes", #"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],"syscalls":[{"names":["keyctl","unshare","clone3","ptrace","bpf","umount2","io_uring_setup","pidfd_getfd"],"action":"SCMP_ACT_ERRNO","errnoRet":0},{"names":["ioctl"],"action":"SCMP_ACT_ERRNO","errnoRet":0,"args":[{"index":1,"value":43520,"op":"SCMP_CMP_EQ"}]},{"names":["clone"],"action":"SCMP_ACT_ERRNO","errnoRet":0,"args":[{"index":0,"value":268435456,"valueTwo":268435456,"op":"SCMP_CMP_MASKED_EQ"}]}]}"#),
        ("Docker's default with CAP_SYS_ADMIN", "docker-default.json"),
        ("podman's default", "podman-default.json"),
    ]

    func shell(_ script: String) throws -> Result {
        try sh("source \(Repo.root)/Tests/support/runtime.sh\n" + script, env: ["WARDEN": Repo.binary])
    }

    /// One container running every probe, each in its own process (a killed probe prints nothing and
    /// the next one still runs), then a positive control: a shell that forks a child.
    var script: String {
        let each = Self.probes.map { "/bin/probe \($0.name) || true" }.joined(separator: "; ")
        return "\(each); /bin/sh -c \"echo forked\"; echo alive"
    }

    /// What each probe answered: "ok", an errno name, or "killed" when it printed nothing.
    func answers(_ out: String) -> [String: String] {
        var seen = [String: String]()
        for line in out.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2 else { continue }
            seen[String(parts[0])] = parts[1] == "ok" ? "ok" : String(parts.last!)
        }
        return Dictionary(uniqueKeysWithValues: Self.probes.map { ($0.name, seen[$0.name] ?? "killed") })
    }

    @Test("positive control: with no filter every probe reaches the kernel", arguments: runtimes)
    func probesWork(runtime: String) throws {
        let dir = try tempDir("route-ctl-\(runtime)")
        defer { cleanup(dir) }
        let r = try shell("""
            make_bundle \(Repo.sample("no-seccomp"))/config.json \(dir)/b /bin/sh -c '\(script)'
            run_in \(runtime) \(dir)/b warden-ctl-\(runtime)-$$
            """)
        let a = answers(r.stdout)
        #expect(r.stdout.contains("alive") && r.stdout.contains("forked"), "\(r.stdout) \(r.stderr)")
        for name in ["unshare", "keyctl", "keyctl-hi", "clone-userns", "clone3-userns", "io_uring_setup", "keyctl-i386", "unshare-i386"] {
            #expect(a[name] == "ok", "\(name): \(a[name] ?? "")\n\(r.stdout)")
        }
        for name in ["uffd-ioctl", "uffd-ioctl-hi", "pidfd_getfd"] { #expect(a[name] == "EBADF", "\(name): \(a[name] ?? "")") }
        #expect(a["open_tree_attr"] != "EPERM", "\(r.stdout)")
    }

    @Test("after apply every route is denied and a shell still forks", arguments: runtimes, profiles.indices)
    func everyRouteDenied(runtime: String, index: Int) throws {
        let (label, profile) = Self.profiles[index]
        let dir = try tempDir("route-\(runtime)-\(index)")
        defer { cleanup(dir) }
        var setup = "make_bundle \(Repo.sample("no-seccomp"))/config.json \(dir)/b /bin/sh -c '\(script)'\n"
        if let profile {
            if profile.hasSuffix(".json") {
                let caps = profile.hasPrefix("docker") ? "--caps CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FSETID,CAP_FOWNER,CAP_MKNOD,CAP_NET_RAW,CAP_SETGID,CAP_SETUID,CAP_SETFCAP,CAP_SETPCAP,CAP_NET_BIND_SERVICE,CAP_SYS_CHROOT,CAP_KILL,CAP_AUDIT_WRITE,CAP_SYS_ADMIN" : ""
                setup += "\"$WARDEN\" convert \(Repo.fixtures)/\(profile) --arch x86_64 \(caps) > \(dir)/profile.json || exit 9\n"
            } else {
                try profile.write(toFile: dir + "/profile.json", atomically: false, encoding: .utf8)
            }
            setup += """
                python3 - \(dir)/b/config.json \(dir)/profile.json <<'PY'
                import json, sys
                c = json.load(open(sys.argv[1])); c["linux"]["seccomp"] = json.load(open(sys.argv[2]))
                json.dump(c, open(sys.argv[1], "w"))
                PY

                """
        }
        let made = try shell(setup)
        #expect(made.status == 0, "\(made.stderr)")
        let apply = try warden(["apply", dir + "/b"])
        #expect(apply.status == 0, "\(label): \(apply.stdout) \(apply.stderr)")
        let check = try warden(["check", dir + "/b"])
        #expect(check.status == 0, "\(label): check after apply: \(check.stdout) \(check.stderr)")

        let r = try shell("run_in \(runtime) \(dir)/b warden-route-\(runtime)-\(index)-$$")
        #expect(r.stdout.contains("alive") && r.stdout.contains("forked"), "\(label): \(r.stdout) \(r.stderr)")
        let a = answers(r.stdout)
        for (name, denied) in Self.probes {
            #expect(denied.contains(a[name] ?? ""), "\(label) under \(runtime): \(name) answered \(a[name] ?? "?")")
        }
    }

    @Test("check names clone3 and io_uring when only those routes are open")
    func checkNamesOpenRoutes() throws {
        let dir = try tempDir("route-check")
        defer { cleanup(dir) }
        // The baseline's own deny rules under an ERRNO default, minus clone3 and io_uring: allowed.
        let apply = try warden(["apply", "--output", dir + "/full.json", Repo.sample("no-seccomp")])
        #expect(apply.status == 0, "\(apply.stderr)")
        let text = try String(contentsOfFile: dir + "/full.json", encoding: .utf8)
        var config = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        var linux = config["linux"] as! [String: Any]
        var seccomp = linux["seccomp"] as! [String: Any]
        var rules = seccomp["syscalls"] as! [[String: Any]]
        let open = ["clone3", "io_uring_setup", "io_uring_enter", "io_uring_register"]
        for i in rules.indices { rules[i]["names"] = (rules[i]["names"] as! [String]).filter { !open.contains($0) } }
        rules = rules.filter { !($0["names"] as! [String]).isEmpty }
        rules.append(["names": open, "action": "SCMP_ACT_ALLOW"])
        seccomp["syscalls"] = rules
        linux["seccomp"] = seccomp
        config["linux"] = linux
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        let check = try warden(["check", dir + "/config.json"])
        #expect(check.status == 1)
        let said = check.stdout + check.stderr
        for name in open { #expect(said.contains(name), "\(name) not named: \(said)") }
        #expect(!said.contains("keyctl"), "only the open routes are findings: \(said)")
    }

    @Test("defaultAllow refuse covers LOG and TRACE, which let calls through as ALLOW does", arguments: ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"])
    func refuseEveryPermissiveDefault(action: String) throws {
        let dir = try tempDir("route-refuse")
        defer { cleanup(dir) }
        try #"{"defaultAllow": "refuse"}"#.write(toFile: dir + "/policy.json", atomically: false, encoding: .utf8)
        let text = try String(contentsOfFile: Repo.sample("weak-allow") + "/config.json", encoding: .utf8)
            .replacingOccurrences(of: "\"SCMP_ACT_ALLOW\"", with: "\"\(action)\"")
        try text.write(toFile: dir + "/config.json", atomically: false, encoding: .utf8)
        let r = try warden(["check", "--policy", dir + "/policy.json", dir + "/config.json"], env: ["SECCOMP_WARDEN_POLICY": ""])
        #expect(r.status == 1, "\(action): \(r.stdout) \(r.stderr)")
        #expect((r.stdout + r.stderr).contains("refuses"), "\(r.stdout) \(r.stderr)")
    }

    @Test("policy show --routes lists each capability with every route; a policy can name capabilities")
    func capabilities() throws {
        let show = try warden(["policy", "show", "--routes"])
        #expect(show.status == 0, "\(show.stderr)")
        for needle in ["namespaces:", "clone3 => SCMP_ACT_ERRNO(38)", "io_uring_setup", "ioctl(arg1 & 0xffffffff == 0xaa00)", "pidfd_getfd", "fanotify_init"] {
            #expect(show.stdout.contains(needle), "\(needle) missing:\n\(show.stdout)")
        }
        let dir = try tempDir("route-cap")
        defer { cleanup(dir) }
        try #"{"deny": ["capability:io_uring"]}"#.write(toFile: dir + "/policy.json", atomically: false, encoding: .utf8)
        let check = try warden(["check", "--policy", dir + "/policy.json", Repo.sample("weak-allow")])
        #expect(check.status == 1)
        #expect((check.stdout + check.stderr).contains("io_uring_setup"), "\(check.stdout)")
        #expect(!(check.stdout + check.stderr).contains("keyctl"), "\(check.stdout)")
        try #"{"deny": ["capability:teleport"]}"#.write(toFile: dir + "/bad.json", atomically: false, encoding: .utf8)
        let bad = try warden(["policy", "check", dir + "/bad.json"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("deny[0]") && bad.stderr.contains("unknown capability"), "\(bad.stderr)")
    }

    @Test("a profile too large to decide in time: apply and check fail closed at the deadline, the file unchanged")
    func hugeProfileDeadline() throws {
        let dir = try tempDir("route-huge")
        defer { cleanup(dir) }
        // Red team: thousands of argument rules; libseccomp compiles them in super-linear time.
        var rules = (0..<6000).map { i in #"{"names":["ioctl"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":\#(UInt64(i) * 0x10001 + 0x1_0000_0000),"op":"SCMP_CMP_GT"},{"index":2,"value":281474976710655,"valueTwo":\#(i),"op":"SCMP_CMP_MASKED_EQ"}]}"# }
        rules += (0..<1200).map { i in #"{"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":\#((UInt64(1) << 40) | UInt64(i)),"op":"SCMP_CMP_LT"},{"index":1,"value":\#(i),"op":"SCMP_CMP_NE"}]}"# }
        let text = try String(contentsOfFile: Repo.sample("no-seccomp") + "/config.json", encoding: .utf8)
        var config = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        var linux = config["linux"] as! [String: Any]
        linux["seccomp"] = try JSONSerialization.jsonObject(with: Data(#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[\#(rules.joined(separator: ","))]}"#.utf8))
        config["linux"] = linux
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))
        for command in ["apply", "check"] {
            let started = Date()
            let r = try warden([command, dir + "/config.json"], env: ["SECCOMP_WARDEN_DEADLINE": "1"])
            #expect(Date().timeIntervalSince(started) < 30, "\(command) took too long")
            #expect(r.status != 0, "\(command): \(r.stdout)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/config.json")) == before)
        }
    }
}

/// Annotations a runtime reads that replace or change the filter: whoever creates the container writes them.
@Suite("Filter-changing annotations")
struct FilterAnnotationTests {
    @Test("a container carrying one is refused by check and apply, unless the policy allows the key",
          arguments: RuntimeReading.crun.filterAnnotations.map(\.key))
    func refused(key: String) throws {
        let dir = try tempDir("annot")
        defer { cleanup(dir) }
        let text = try String(contentsOfFile: Repo.sample("docker-default") + "/config.json", encoding: .utf8)
        var config = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        config["annotations"] = [key: "AAAA"]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))
        let check = try warden(["check", dir + "/config.json"])
        #expect(check.status == 1)
        #expect((check.stdout + check.stderr).contains(key), "\(check.stdout) \(check.stderr)")
        let apply = try warden(["apply", dir + "/config.json"])
        #expect(apply.status == 1, "\(apply.stdout) \(apply.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/config.json")) == before)
        // The site can allow a key it trusts (positive control: the same file then tightens).
        try #"{"allowAnnotations": ["\#(key)"]}"#.write(toFile: dir + "/policy.json", atomically: false, encoding: .utf8)
        let allowed = try warden(["apply", "--policy", dir + "/policy.json", dir + "/config.json"])
        #expect(allowed.status == 0, "\(allowed.stdout) \(allowed.stderr)")
    }

    @Test("allowAnnotations names only keys a runtime reads")
    func unknownKey() throws {
        let dir = try tempDir("annot-bad")
        defer { cleanup(dir) }
        try #"{"allowAnnotations": ["org.example/anything"]}"#.write(toFile: dir + "/policy.json", atomically: false, encoding: .utf8)
        let r = try warden(["policy", "check", dir + "/policy.json"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("allowAnnotations[0]"), "\(r.stderr)")
    }
}

/// The exact meet in a real container: Docker's default profile with CLONE_NEWUSER left out of its
/// clone mask, tightened, still lets the shell fork (the meet grows the mask by one bit instead of
/// denying clone) and still denies a new user namespace by every route.
@Suite("Exact meet, real runtimes", .serialized)
struct ExactMeetRuntimeTests {
    @Test("Docker's default with the clone mask missing CLONE_NEWUSER: forks, and unshare -U is denied", arguments: ["runc", "crun"])
    func cloneMaskForks(runtime: String) throws {
        let dir = try tempDir("exact-clone-\(runtime)")
        defer { cleanup(dir) }
        let script = "/bin/sh -c 'true & wait' && echo forked; unshare -U true && echo unshared || echo unshare-denied; /bin/probe clone-userns || true; /bin/probe unshare || true; echo alive"
        let setup = """
            source \(Repo.root)/Tests/support/runtime.sh
            make_bundle \(Repo.sample("no-seccomp"))/config.json \(dir)/b /bin/sh -c "\(script)"
            "$WARDEN" convert \(Repo.fixtures)/docker-default.json --arch x86_64 > \(dir)/profile.json || exit 9
            python3 - \(dir)/b/config.json \(dir)/profile.json <<'PY'
            import json, sys
            c = json.load(open(sys.argv[1])); p = json.load(open(sys.argv[2]))
            n = 0
            for e in p["syscalls"]:
                for a in e.get("args") or []:
                    if "clone" in e["names"] and a["op"] == "SCMP_CMP_MASKED_EQ" and a["value"] == 2114060288:
                        a["value"] = 2114060288 & ~0x10000000; n += 1
            assert n == 1, n
            c["linux"]["seccomp"] = p
            json.dump(c, open(sys.argv[1], "w"))
            PY
            """
        let made = try sh(setup, env: ["WARDEN": Repo.binary])
        #expect(made.status == 0, "\(made.stdout) \(made.stderr)")
        let apply = try warden(["apply", "--exact", "--diff", dir + "/b"])
        #expect(apply.status == 0, "\(apply.stdout) \(apply.stderr)")
        #expect(!apply.stdout.contains("stricter than the exact meet"), "\(apply.stdout)")
        // The clone rule grew by CLONE_NEWUSER: one rule, not a denial of every clone.
        let config = readText(dir + "/b/config.json")
        #expect(config.contains("\(0x7E02_0000 as UInt64)"), "the mask with CLONE_NEWUSER is back: \(apply.stdout)")
        let r = try sh("source \(Repo.root)/Tests/support/runtime.sh\nrun_in \(runtime) \(dir)/b warden-exact-\(runtime)-$$")
        #expect(r.stdout.contains("alive"), "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("forked"), "the shell forks: \(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("unshare-denied") && !r.stdout.contains("unshared"), "\(r.stdout)")
        for probe in ["clone-userns", "unshare"] {
            let line = r.stdout.split(separator: "\n").first { $0.hasPrefix(probe + " ") }
            #expect(line?.hasSuffix("EPERM") == true, "\(probe): \(line ?? "no answer")\n\(r.stdout)")
        }
    }
}
