import WardenCore
import Foundation
import Testing
@testable import WardenPolicy
@testable import WardenHost
@testable import WardenVerify
@testable import WardenSeccomp
@testable import WardenSpec

/// `verify` against real detached runc and crun containers, and the emulator against libseccomp.
@Suite("Verify", .serialized)
struct VerifyTests {
    static let runtimes = ["runc", "crun"]

    /// A detached container running `sleep`, deleted by `stop()`.
    struct Container {
        var runtime: String
        var id: String
        var bundle: String
        /// A state root other than the runtime's default, or nil.
        var root: String?
        var pid: Int32

        var rootFlag: String { root.map { "--root \($0) " } ?? "" }

        func stop() {
            let cmd = runtime == "runc" ? "runc \(rootFlag)delete -f \(id)" : "crun_ns \(rootFlag)delete -f \(id)"
            _ = try? shell(cmd)
        }
    }

    static func shell(_ script: String) throws -> Result {
        try sh("source \(Repo.root)/Tests/support/runtime.sh\n" + script, env: ["WARDEN": Repo.binary])
    }

    /// `script` in a private mount namespace of its own (`privateMounts`), else as `shell`.
    func shell(_ script: String, privateMounts: Bool = false) throws -> Result {
        guard privateMounts else { return try Self.shell(script) }
        let path = NSTemporaryDirectory() + "/warden-ns-\(UUID().uuidString).sh"
        try ("source \(Repo.root)/Tests/support/runtime.sh\n" + script).write(toFile: path, atomically: false, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try sh("unshare -m --propagation private bash \(path)", env: ["WARDEN": Repo.binary])
    }

    /// Makes a bundle from a sample running `sleep 600`, optionally tightened by `apply`.
    func bundle(_ sample: String, in dir: String, apply: Bool) throws -> String {
        let b = dir + "/b"
        let r = try shell("make_bundle \(Repo.sample(sample))/config.json \(b) /bin/sleep 600")
        #expect(r.status == 0, "\(r.stderr)")
        if apply {
            let a = try warden(["apply", b])
            #expect(a.status == 0, "\(a.stdout) \(a.stderr)")
        }
        return b
    }

    /// Starts the bundle detached (`run -d`) and reads the pid from the runtime's `state`.
    func start(_ runtime: String, bundle: String, tag: String, root: String? = nil) throws -> Container {
        let id = "warden-verify-\(tag)-\(runtime)-\(UInt32.random(in: 0...UInt32.max))"
        let rootFlag = root.map { "--root \($0) " } ?? ""
        let script = runtime == "runc"
            ? "cd \(bundle) && runc \(rootFlag)run -d \(id) </dev/null >\(bundle)/log 2>&1 && runc \(rootFlag)state \(id)"
            : "cd \(bundle) && crun_ns --cgroup-manager=disabled \(rootFlag)run -d \(id) </dev/null >\(bundle)/log 2>&1 && crun_ns \(rootFlag)state \(id)"
        let r = try shell(script)
        let state = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let pid = (state?["pid"] as? NSNumber)?.int32Value ?? 0
        let c = Container(runtime: runtime, id: id, bundle: bundle, root: root, pid: pid)
        if r.status != 0 || pid <= 0 {
            c.stop()
            Issue.record("\(runtime) run -d failed: \(r.stdout) \(r.stderr) \(readText(bundle + "/log"))")
            throw CancellationError()
        }
        // `run -d` can return while the init is still the runtime's own (runc:[2:INIT], or crun's,
        // threads without the filter yet): wait for the exec of the container's process (every bundle
        // here runs /bin/sleep) before judging it.
        for _ in 0..<100 {
            if readText("/proc/\(pid)/comm") == "sleep\n" { break }
            usleep(100_000)
        }
        return c
    }

    /// The process is alive, not stopped, and not traced.
    func expectRunningUntraced(_ c: Container) {
        let status = readText("/proc/\(c.pid)/status")
        #expect(status.contains("TracerPid:\t0\n"), "\(status)")
        let state = status.split(separator: "\n").first { $0.hasPrefix("State:") } ?? ""
        #expect(state.contains("S (sleeping)") || state.contains("R (running)"), "\(state)")
        #expect(kill(c.pid, 0) == 0)
    }

    @Test("Docker's default tightened by apply verifies clean, by --container and by --pid (runc's ENOSYS stub, crun without)", arguments: runtimes)
    func tightenedHolds(runtime: String) throws {
        let dir = try tempDir("verify-ok-\(runtime)")
        defer { cleanup(dir) }
        let b = try bundle("docker-default", in: dir, apply: true)
        let c = try start(runtime, bundle: b, tag: "ok")
        defer { c.stop() }
        let r = try warden(["verify", "--container", c.id])
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("HOLDS"), "\(r.stdout)")
        #expect(r.stdout.contains("every one denied at least as strictly as the policy"), "\(r.stdout)")
        expectRunningUntraced(c)

        let j = try warden(["verify", "--pid", String(c.pid), "--json"])
        #expect(j.status == 0, "\(j.stdout) \(j.stderr)")
        let doc = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any]
        let target = (doc?["targets"] as? [[String: Any]])?.first
        #expect(doc?["holds"] as? Bool == true)
        #expect(target?["container"] as? String == c.id)
        #expect(target?["seccompMode"] as? Int == 2)
        #expect(((target?["loadedFilters"] as? [Int]) ?? []).count >= 1, "\(j.stdout)")
        expectRunningUntraced(c)

        // explain on the live process: the loaded filter is the bundle's profile compiled, after runc's stub.
        let e = try warden(["explain", "--pid", String(c.pid), "--syscall", "clone3"])
        #expect(e.status == 0, "\(e.stderr)")
        #expect(e.stdout.contains("action: ERRNO(38)"), "\(e.stdout)")
        #expect(e.stdout.contains(runtime == "runc" ? "is, after runc's ENOSYS stub, its linux.seccomp compiled" : "is its linux.seccomp compiled"), "\(e.stdout)")
        #expect(e.stdout.contains("names [clone3] action SCMP_ACT_ERRNO(38)"), "\(e.stdout)")
        expectRunningUntraced(c)
    }

    @Test("a container with no seccomp gives exit 1 and names the missing filter", arguments: runtimes)
    func noSeccomp(runtime: String) throws {
        let dir = try tempDir("verify-none-\(runtime)")
        defer { cleanup(dir) }
        let b = try bundle("no-seccomp", in: dir, apply: false)
        let c = try start(runtime, bundle: b, tag: "none")
        defer { c.stop() }
        let r = try warden(["verify", "--container", c.id])
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("FALLS SHORT"), "\(r.stdout)")
        #expect(r.stdout.contains("Seccomp 0 (disabled): no seccomp filter"), "\(r.stdout)")
        #expect(r.stdout.contains("no process of the container is in filter mode"), "\(r.stdout)")
        expectRunningUntraced(c)
    }

    @Test("a profile that allows keyctl gives exit 1 and names keyctl from the loaded BPF", arguments: runtimes)
    func weakAllowsKeyctl(runtime: String) throws {
        let dir = try tempDir("verify-weak-\(runtime)")
        defer { cleanup(dir) }
        let b = try bundle("weak-allow", in: dir, apply: false)
        let c = try start(runtime, bundle: b, tag: "weak")
        defer { c.stop() }
        let r = try warden(["verify", "--pid", String(c.pid)])
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
        // /proc alone cannot see it: the filter is there.
        #expect(r.stdout.contains("Seccomp 2 (filter)"), "\(r.stdout)")
        #expect(r.stdout.contains("syscall keyctl"), "\(r.stdout)")
        #expect(r.stdout.contains("keyctl: the loaded filters give ALLOW, the policy requires ERRNO(1)"), "\(r.stdout)")
        // The profile's own denials are not findings.
        #expect(!r.stdout.contains("syscall reboot"), "\(r.stdout)")
        expectRunningUntraced(c)
        // `verify --pid` is read without ArgumentParser (VerifyFastPath); an option the fast path leaves
        // to ArgumentParser (--audit-log-limit) takes the old way: the same output and exit code.
        for format in [["--json"], ["--format", "table"]] {
            let fast = try warden(["verify", "--pid", String(c.pid)] + format)
            let parsed = try warden(["verify", "--pid", String(c.pid), "--audit-log-limit", "64"] + format)
            #expect(fast.status == 1 && parsed.status == 1, "\(fast.stderr) \(parsed.stderr)")
            #expect(fast.stdout == parsed.stdout && fast.stderr == parsed.stderr)
        }
        expectRunningUntraced(c)

        let e = try warden(["explain", "--pid", String(c.pid), "--syscall", "keyctl"])
        #expect(e.status == 0, "\(e.stderr)")
        #expect(e.stdout.contains("action: ALLOW"), "\(e.stdout)")
        #expect(e.stdout.contains("linux.seccomp.defaultAction SCMP_ACT_ALLOW"), "\(e.stdout)")
        let e2 = try warden(["explain", "--pid", String(c.pid), "--syscall", "reboot"])
        #expect(e2.stdout.contains("action: ERRNO(1)"), "\(e2.stdout)")
        #expect(e2.stdout.contains("linux.seccomp.syscalls[0]"), "\(e2.stdout)")
        expectRunningUntraced(c)
    }

    @Test("verify and explain name clone3 and io_uring when only those routes are open", arguments: runtimes)
    func onlyClone3AndIoUringOpen(runtime: String) throws {
        let dir = try tempDir("verify-open-\(runtime)")
        defer { cleanup(dir) }
        let b = try bundle("no-seccomp", in: dir, apply: true)
        // The applied baseline, with clone3 and io_uring moved to an ALLOW entry.
        let fix = try Self.shell("""
            python3 - \(b)/config.json <<'PY'
            import json, sys
            c = json.load(open(sys.argv[1])); s = c["linux"]["seccomp"]
            open_ = ["clone3", "io_uring_setup", "io_uring_enter", "io_uring_register"]
            for r in s["syscalls"]: r["names"] = [n for n in r["names"] if n not in open_]
            s["syscalls"] = [r for r in s["syscalls"] if r["names"]] + [{"names": open_, "action": "SCMP_ACT_ALLOW"}]
            json.dump(c, open(sys.argv[1], "w"))
            PY
            """)
        #expect(fix.status == 0, "\(fix.stderr)")
        let c = try start(runtime, bundle: b, tag: "open")
        defer { c.stop() }
        let r = try warden(["verify", "--pid", String(c.pid)])
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
        for name in ["clone3", "io_uring_setup", "io_uring_enter", "io_uring_register"] {
            #expect(r.stdout.contains(name), "\(name) not named: \(r.stdout)")
        }
        #expect(!r.stdout.contains("keyctl"), "only the open routes are findings: \(r.stdout)")
        let e = try warden(["explain", "--pid", String(c.pid), "--syscall", "clone3"])
        #expect(e.stdout.contains("every call: not denied"), "\(e.stdout)")
        let k = try warden(["explain", "--pid", String(c.pid), "--syscall", "keyctl", "--arch", "x86"])
        #expect(k.stdout.contains("every call: denied"), "\(k.stdout)")
        expectRunningUntraced(c)
    }

    @Test("red team: capabilities come from the kernel, not from a config.json edited after start; an exemption needs a root-only config")
    func capabilitiesFromKernel() throws {
        let dir = try tempDir("verify-caps")
        defer { cleanup(dir) }
        let b = try bundle("no-seccomp", in: dir, apply: false)
        // Allows unshare; the site denies it unless the container has CAP_SYS_ADMIN (a Docker-format deny set).
        let fix = try Self.shell("""
            python3 - \(b)/config.json <<'PY'
            import json, sys
            c = json.load(open(sys.argv[1]))
            c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"}]}
            for k in ("bounding", "effective", "permitted"): c["process"]["capabilities"][k] = ["CAP_CHOWN", "CAP_KILL"]
            c["process"]["capabilities"].pop("inheritable", None); c["process"]["capabilities"].pop("ambient", None)
            json.dump(c, open(sys.argv[1], "w"))
            PY
            cat > \(dir)/deny.json <<'J'
            {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"},
              {"names": ["unshare"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_SYS_ADMIN"]}}]}
            J
            echo '{"deny": ["\(dir)/deny.json"]}' > \(dir)/policy.json
            chmod 0644 \(dir)/deny.json \(dir)/policy.json
            """)
        #expect(fix.status == 0, "\(fix.stderr)")
        let c = try start("runc", bundle: b, tag: "caps")
        defer { c.stop() }
        let env = ["SECCOMP_WARDEN_POLICY": dir + "/policy.json"]
        let before = try warden(["verify", "--container", c.id], env: env)
        #expect(before.status == 1 && before.stdout.contains("unshare"), "\(before.stdout) \(before.stderr)")
        // The creator edits the bundle after the start: the running process still lacks CAP_SYS_ADMIN.
        let edit = try Self.shell("""
            python3 - \(b)/config.json <<'PY'
            import json, sys
            c = json.load(open(sys.argv[1])); c["process"]["capabilities"]["bounding"].append("CAP_SYS_ADMIN")
            json.dump(c, open(sys.argv[1], "w"))
            PY
            """)
        #expect(edit.status == 0)
        let after = try warden(["verify", "--container", c.id], env: env)
        #expect(after.status == 1 && after.stdout.contains("unshare"), "the edited config.json decided: \(after.stdout) \(after.stderr)")
        #expect(ConversionContext.capabilities(mask: 0x21) == ["CAP_CHOWN", "CAP_KILL"])
        #expect(Verifier.boundingSet(c.pid) == ["CAP_CHOWN", "CAP_KILL"])
        // rootOnly: a config others can write cannot exempt.
        chmod(b + "/config.json", 0o666)
        #expect(!Verifier.rootOnly(b + "/config.json"))
        chmod(b + "/config.json", 0o644)
    }

    @Test("red team: a Docker-format deny rule for amd64 holds when config.json lists aarch64 first: the gate refuses, verify falls short")
    func denySetArchitectureFromHost() throws {
        let dir = try tempDir("verify-arch")
        defer { cleanup(dir) }
        let b = try bundle("no-seccomp", in: dir, apply: false)
        // The profile allows ptrace and names aarch64 first; the site denies ptrace on amd64, x32 and x86.
        let fix = try Self.shell("""
            python3 - \(b)/config.json <<'PY'
            import json, sys
            c = json.load(open(sys.argv[1]))
            c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                                     "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"}]}
            json.dump(c, open(sys.argv[1], "w"))
            PY
            cat > \(dir)/deny.json <<'J'
            {"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
              {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
             "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["amd64", "x32", "x86"]}}]}
            J
            echo '{"deny": ["\(dir)/deny.json"]}' > \(dir)/policy.json
            chmod 0644 \(dir)/deny.json \(dir)/policy.json
            """)
        #expect(fix.status == 0, "\(fix.stderr)")
        let env = ["SECCOMP_WARDEN_POLICY": dir + "/policy.json", "SECCOMP_WARDEN_AUDIT_LOG": dir + "/audit.log"]
        let state = Data("{\"ociVersion\": \"1.0.2\", \"id\": \"arch\", \"status\": \"creating\", \"pid\": \(getpid()), \"bundle\": \"\(b)\"}".utf8)
        let gate = try warden(["hook", "createRuntime"], input: state, env: env)
        #expect(gate.status == 1 && gate.stderr.contains("ptrace"), "the gate passed ptrace: \(gate.stdout) \(gate.stderr)")
        // The kernel runs it as x86_64 all the same: ptrace is open, and verify says so.
        let c = try start("runc", bundle: b, tag: "arch")
        defer { c.stop() }
        let v = try warden(["verify", "--container", c.id], env: env)
        #expect(v.status == 1 && v.stdout.contains("ptrace"), "\(v.stdout) \(v.stderr)")
    }

    /// Runs a Python statement on the bundle's config.json, loaded as `c`, and writes it back.
    func editConfig(_ bundle: String, _ statement: String) throws {
        let r = try Self.shell("python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); \(statement); json.dump(c, open(sys.argv[1], \"w\"))' \(bundle)/config.json")
        #expect(r.status == 0, "\(r.stderr)")
    }

    /// A policy (root's, 0644) that exempts containers annotated org.example.seccomp-warden/exempt=yes.
    func writeExemptPolicy(_ path: String) throws {
        try #"{"trustedAnnotations": ["org.example.seccomp-warden/exempt"], "exemptions": [{"annotations": {"org.example.seccomp-warden/exempt": "yes"}, "reason": "lazy test"}]}"#
            .write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o644)
    }

    @Test("config.json is read only when the verdict needs it: an exemption reads it; an unreadable one exempts nothing and decides nothing")
    func configReadWhenNeeded() throws {
        let dir = try tempDir("verify-lazy")
        defer { cleanup(dir) }
        let weakDir = dir + "/weak", okDir = dir + "/ok"
        try FileManager.default.createDirectory(atPath: weakDir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: okDir, withIntermediateDirectories: true)
        let weak = try bundle("weak-allow", in: weakDir, apply: false)
        let ok = try bundle("docker-default", in: okDir, apply: true)
        try editConfig(weak, #"c["annotations"]={"org.example.seccomp-warden/exempt": "yes"}"#)
        try writeExemptPolicy(dir + "/exempt.json")
        let w = try start("runc", bundle: weak, tag: "lazy-weak")
        defer { w.stop() }
        let o = try start("runc", bundle: ok, tag: "lazy-ok")
        defer { o.stop() }
        func status(_ c: Container, policy: String? = nil) throws -> (Int32, String, String) {
            let r = try warden(["verify", "--container", c.id, "--json"], env: policy.map { ["SECCOMP_WARDEN_POLICY": $0] } ?? [:])
            let doc = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            let target = ((doc?["targets"] as? [[String: Any]]) ?? []).first
            return (r.status, target?["status"] as? String ?? "?", r.stdout + r.stderr)
        }
        // The exemption is in the config: a policy with exemptions reads it.
        let (s1, e1, o1) = try status(w, policy: dir + "/exempt.json")
        #expect(s1 == 0 && e1 == "exempt", "\(o1)")
        let (s2, e2, o2) = try status(w)
        #expect(s2 == 1 && e2 == "falls_short", "\(o2)")
        // config.json made unreadable after the start: the kernel's answer stands, and nothing is exempt.
        for b in [weak, ok] { try "{\"not json".write(toFile: b + "/config.json", atomically: false, encoding: .utf8) }
        let (s3, e3, o3) = try status(w, policy: dir + "/exempt.json")
        #expect(s3 == 1 && e3 == "falls_short", "an unreadable config.json exempted: \(o3)")
        let (s4, e4, o4) = try status(o)
        #expect(s4 == 0 && e4 == "holds", "\(o4)")
        #expect(o4.contains("NoNewPrivs 1 on every thread"), "\(o4)")
    }

    /// poststart reads config.json (with the gate's ownership checks) but parses it only for an
    /// exemption or a thread without NoNewPrivs: then a config that does not parse is an error, as before.
    @Test("poststart parses config.json only when the verdict needs it; when it does, one that does not parse is an error and the container is killed")
    func poststartConfigWhenNeeded() throws {
        let dir = try tempDir("post-lazy")
        defer { cleanup(dir) }
        let okDir = dir + "/ok", nnpDir = dir + "/nnp0"
        for d in [okDir, nnpDir] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        let ok = try bundle("docker-default", in: okDir, apply: true)
        let nnp = try bundle("docker-default", in: nnpDir, apply: true)
        try editConfig(nnp, #"c["process"]["noNewPrivileges"]=False"#)
        try writeExemptPolicy(dir + "/exempt.json")
        let o = try start("runc", bundle: ok, tag: "post-lazy-ok")
        defer { o.stop() }
        let n = try start("runc", bundle: nnp, tag: "post-lazy-nnp0")
        defer { n.stop() }
        // The kernel's side: every thread of one has NoNewPrivs 1, of the other 0.
        #expect(readText("/proc/\(o.pid)/status").contains("NoNewPrivs:\t1"))
        #expect(readText("/proc/\(n.pid)/status").contains("NoNewPrivs:\t0"))
        func poststart(_ c: Container, policy: String = "builtin") throws -> (rc: Int32, log: String) {
            let log = dir + "/audit-\(UInt32.random(in: 0...UInt32.max)).log"
            let state = "{\"ociVersion\":\"1.0.2\",\"id\":\"\(c.id)\",\"status\":\"running\",\"pid\":\(c.pid),\"bundle\":\"\(c.bundle)\"}"
            let r = try warden(["hook", "poststart", "--policy", policy], input: Data(state.utf8), env: ["SECCOMP_WARDEN_AUDIT_LOG": log])
            return (r.status, readText(log) + r.stderr)
        }
        // Positive controls: both compliant while their configs parse.
        let ok1 = try poststart(o), nnp1 = try poststart(n)
        #expect(ok1.rc == 0 && ok1.log.contains("\"decision\":\"compliant\""), "\(ok1)")
        #expect(nnp1.rc == 0 && nnp1.log.contains("\"decision\":\"compliant\"") && nnp1.log.contains("noNewPrivileges false"), "\(nnp1)")
        for b in [ok, nnp] { try "{\"not json".write(toFile: b + "/config.json", atomically: false, encoding: .utf8) }
        // NoNewPrivs 1 everywhere and no exemptions: the verdict is the kernel's, the config is not parsed.
        let ok2 = try poststart(o)
        #expect(ok2.rc == 0 && ok2.log.contains("\"decision\":\"compliant\"") && ok2.log.contains("NoNewPrivs 1 on every thread"), "\(ok2)")
        // A policy with exemptions parses it first: an error (exit 2), and the container is killed (enforce).
        let ok3 = try poststart(o, policy: dir + "/exempt.json")
        #expect(ok3.rc == 2 && ok3.log.contains(ok + "/config.json"), "\(ok3)")
        // NoNewPrivs 0 needs the config: the same error, and the container is killed.
        let nnp2 = try poststart(n)
        #expect(nnp2.rc == 2 && nnp2.log.contains(nnp + "/config.json"), "\(nnp2)")
        // Killed: its /proc entry gone, or a zombie.
        var gone = false
        for _ in 0..<50 where !gone {
            let status = readText("/proc/\(n.pid)/status")
            gone = status.isEmpty || status.contains("State:\tZ")
            if !gone { usleep(100_000) }
        }
        #expect(gone, "the container whose config was needed and did not parse still runs")
    }

    @Test("without CAP_SYS_ADMIN (or CAP_SYS_PTRACE) verify is an error (exit 2), not a /proc-only pass, and leaves the process untraced",
          arguments: ["cap_sys_admin", "cap_sys_ptrace"])
    func ptraceNotPermitted(cap: String) throws {
        let dir = try tempDir("verify-noptrace")
        defer { cleanup(dir) }
        let b = try bundle("weak-allow", in: dir, apply: true)
        let c = try start("runc", bundle: b, tag: "noptrace")
        defer { c.stop() }
        // Positive control: with every capability the same container holds.
        let ok = try warden(["verify", "--pid", String(c.pid)])
        #expect(ok.status == 0, "\(ok.stdout) \(ok.stderr)")
        let r = try sh("capsh --drop=\(cap) -- -c '\(Repo.binary) verify --pid \(c.pid)'", env: ["SECCOMP_WARDEN_POLICY": "builtin"])
        #expect(r.status == 2, "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("verify needs root privileges it does not have: \(cap.uppercased())"), "\(r.stderr)")
        #expect(!r.stdout.contains("HOLDS"), "\(r.stdout)")
        expectRunningUntraced(c)
    }

    @Test("--all finds every container started, under both runtimes' roots (default and --root)")
    func all() throws {
        let dir = try tempDir("verify-all")
        defer { cleanup(dir) }
        var started = [Container]()
        defer { for c in started { c.stop() } }
        for runtime in Self.runtimes {
            let d = dir + "/" + runtime
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
            let b = try bundle("weak-allow", in: d, apply: true)
            started.append(try start(runtime, bundle: b, tag: "all", root: dir + "/root-" + runtime))
        }
        // The private roots hold only this test's containers: all of them hold. (Started with plain
        // runc, no decision covers them: the backstop is BackstopTests' subject, left out here.)
        let r = try warden(["verify", "--all", "--no-accounting", "--root", dir + "/root-runc", "--root", dir + "/root-crun", "--json"])
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        let doc = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let targets = (doc?["targets"] as? [[String: Any]]) ?? []
        let found = Set(targets.compactMap { $0["container"] as? String })
        #expect(found == Set(started.filter { $0.root != nil }.map(\.id)), "\(r.stdout)")
        #expect(Set(targets.compactMap { $0["runtime"] as? String }) == ["runc", "crun"])

        // The default roots (no --root): found in /run/runc and /run/crun. In a mount namespace with
        // a /run of its own, so that this verify --all does not stop other tests' containers (their
        // "not traced" checks) and sees only these two.
        let tag = UInt32.random(in: 0...UInt32.max)
        let (idr, idc) = ("warden-verify-alldefault-runc-\(tag)", "warden-verify-alldefault-crun-\(tag)")
        let b = dir + "/runc/b", bc = dir + "/crun/b"
        let d = try shell("""
            mount -t tmpfs -o mode=0755 tmpfs /run && mkdir /run/runc /run/crun || exit 90
            trap 'runc delete -f \(idr) >/dev/null 2>&1; crun_ns delete -f \(idc) >/dev/null 2>&1' EXIT
            (cd \(b) && runc run -d \(idr) </dev/null >\(b)/log-default 2>&1) || exit 91
            (cd \(bc) && crun_ns --cgroup-manager=disabled run -d \(idc) </dev/null >\(bc)/log-default 2>&1) || exit 92
            for id in \(idr) \(idc); do
                if [ $id = \(idr) ]; then s=$(runc state $id); else s=$(crun_ns state $id); fi
                pid=$(echo "$s" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
                i=0; while [ $i -lt 100 ] && [ "$(cat /proc/$pid/comm)" != sleep ]; do sleep 0.1; i=$((i + 1)); done
            done
            "$WARDEN" verify --all --no-accounting --json
            """, privateMounts: true)
        #expect(d.status == 0, "\(d.stdout) \(d.stderr) \(readText(b + "/log-default")) \(readText(bc + "/log-default"))")
        let ddoc = try? JSONSerialization.jsonObject(with: Data(d.stdout.utf8)) as? [String: Any]
        let dtargets = (ddoc?["targets"] as? [[String: Any]]) ?? []
        #expect(Set(dtargets.compactMap { $0["container"] as? String }) == [idr, idc], "\(d.stdout)")
        #expect(dtargets.allSatisfy { $0["holds"] as? Bool == true }, "\(d.stdout)")

        let p = try warden(["verify", "--all", "--no-accounting", "--root", dir + "/root-runc", "--root", dir + "/root-crun", "--format", "prometheus"])
        #expect(p.status == 0, "\(p.stderr)")
        for c in started where c.root != nil {
            #expect(p.stdout.contains("seccomp_warden_container_seccomp_mode{container=\"\(c.id)\",runtime=\"\(c.runtime)\""), "\(p.stdout)")
        }
        #expect(p.stdout.contains("seccomp_warden_containers{result=\"holds\"} 2"), "\(p.stdout)")
        #expect(p.stdout.contains("seccomp_warden_verify_ok 1"), "\(p.stdout)")
        for c in started { expectRunningUntraced(c) }
    }

    @Test("errors: unknown container and pid give exit 2; exactly one target")
    func errors() throws {
        let r = try warden(["verify", "--container", "warden-no-such-container-\(UInt32.random(in: 0...UInt32.max))"])
        #expect(r.status == 2, "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("no container"), "\(r.stderr)")
        let p = try warden(["verify", "--pid", "999999999"])
        #expect(p.status == 2, "\(p.stderr)")
        // The fast path's errors are ArgumentParser's path's, word for word.
        let parsed = try warden(["verify", "--pid", "999999999", "--audit-log-limit", "64"])
        #expect(parsed.status == 2 && parsed.stderr == p.stderr, "\(parsed.stderr) / \(p.stderr)")
        let fastPrometheus = try warden(["verify", "--pid=999999999", "--format=prometheus"])
        #expect(fastPrometheus.status == 2 && fastPrometheus.stdout.contains("seccomp_warden_scrape_error 1"), "\(fastPrometheus.stdout)")
        // Lines the fast path leaves to ArgumentParser still get its usage errors (exit 64).
        for line in [["verify", "--pid", "x"], ["verify", "--pid", "1", "--bogus"]] {
            let u = try warden(line)
            #expect(u.status == 64, "\(line): \(u.status) \(u.stderr)")
        }
        let both = try warden(["verify", "--all", "--pid", "1"])
        #expect(both.status != 0 && both.status != 1)
    }

    @Test("explain names the action and the rule for a bundle, a profile and argument values")
    func explainFiles() throws {
        let weak = try warden(["explain", Repo.sample("weak-allow"), "--syscall", "swapon", "--arch", "x86"])
        #expect(weak.status == 0, "\(weak.stderr)")
        #expect(weak.stdout.contains("action: ERRNO(1)"), "\(weak.stdout)")
        #expect(weak.stdout.contains("linux.seccomp.syscalls[0]"), "\(weak.stdout)")
        let allowed = try warden(["explain", Repo.sample("arg-rules") + "/config.json", "--syscall", "personality", "--args", "8"])
        #expect(allowed.stdout.contains("action: ALLOW"), "\(allowed.stdout)")
        #expect(allowed.stdout.contains("when arg0 EQ 8"), "\(allowed.stdout)")
        let denied = try warden(["explain", Repo.sample("arg-rules"), "--syscall", "personality", "--args", "0x9"])
        #expect(denied.stdout.contains("action: ERRNO(1)"), "\(denied.stdout)")
        #expect(denied.stdout.contains("defaultAction"), "\(denied.stdout)")
        let none = try warden(["explain", Repo.sample("no-seccomp"), "--syscall", "keyctl"])
        #expect(none.stdout.contains("no seccomp profile"), "\(none.stdout)")
        let bad = try warden(["explain", Repo.sample("weak-allow"), "--syscall", "no_such_syscall"])
        #expect(bad.status == 2, "\(bad.stdout)")
    }

    // MARK: - The emulator against libseccomp

    /// The runtime-spec profiles under oci-samples that decode and compile, and the built-in (Docker's default).
    static func profiles() throws -> [(String, LinuxSeccomp)] {
        var out = [(String, LinuxSeccomp)]()
        for name in try FileManager.default.contentsOfDirectory(atPath: Repo.samples).sorted() {
            guard let config = try? Bundle.loadConfig(Repo.sample(name)), let p = try? config.seccomp() else { continue }
            guard (try? Compiler.compile(p)) != nil else { continue }
            out.append((name, p))
        }
        out.append(("built-in (Docker default, converted)", try Policy.builtinProfile()))
        return out
    }

    @Test("the emulated action of libseccomp's BPF equals the profile's own action for every x86_64 syscall and sampled args")
    func emulatorAgrees() throws {
        let profiles = try Self.profiles()
        #expect(profiles.count >= 4, "\(profiles.map(\.0))")
        #expect(profiles.contains { $0.0 == "docker-default" })
        let arch = Syscalls.token(.x86_64)
        let all = Syscalls.all(arch: .x86_64)
        #expect(all.count > 300)
        for (label, profile) in profiles {
            let program = try Compiler.compile(profile)
            let decisions = Dictionary(profile.decisions().map { ($0.name, $0.decision) }, uniquingKeysWith: { a, _ in a })
            var compared = 0
            for (nr, name) in all {
                let decision = decisions[name] ?? Decision(otherwise: profile.defaultRule)
                // Overlapping rules with different actions: libseccomp's order decides, not the profile.
                if decision.ambiguous || decision.rules.contains(where: { decision.overlapsOthers($0) }) { continue }
                var samples: [[UInt64]] = [[0, 0, 0, 0, 0, 0], [.max, .max, .max, .max, .max, .max]]
                for rule in decision.rules {
                    var sat: [UInt64] = [0, 0, 0, 0, 0, 0]
                    for c in rule.args {
                        sat[Int(c.index)] = PolicyProbes.satisfying(c)
                        for v in PolicyProbes.values(for: c) { var a: [UInt64] = [0, 0, 0, 0, 0, 0]; a[Int(c.index)] = v; samples.append(a) }
                    }
                    samples.append(sat)
                }
                // Then every value where a comparison the BPF made flips, until nothing new (capped).
                var seen = Set(samples)
                var next = 0
                while next < samples.count && next < 256 {
                    let args = samples[next]
                    next += 1
                    var flips = Flips(args: args, is32Bit: false)
                    let got = try program.run(SeccompData(nr: nr, arch: arch, args: args), observer: &flips)
                    for c in flips.candidates where seen.insert(c).inserted { samples.append(c) }
                    let want = Compiler.filterReturn(decision.action(for: args))
                    #expect(got == want, "\(label): \(name) (\(nr)) args \(args): BPF \(got), profile \(want)")
                    compared += 1
                }
            }
            #expect(compared >= all.count, "\(label)")
        }
    }

    @Test("the chain judge (the proof): a tightened Docker default holds; the weak profile misses the baseline; the runc ENOSYS stub is just part of the chain")
    func chainCheckOffline() throws {
        let policy = try Policy.builtin()
        let judge = try ChainJudge(policy: policy, config: nil)
        // The built-in injected profile, met with the deny rules: what apply gives a container with none.
        let injected = try Compiler.compile(try Tighten.tighten(nil, policy: policy).profile)
        #expect(judge.judge([injected]).findings.isEmpty)
        // The weak profile alone lets keyctl through on every architecture.
        let weak = try Compiler.compile(try #require(try Bundle.loadConfig(Repo.sample("weak-allow")).seccomp()))
        let result = judge.judge([weak])
        let keyctl = try #require(result.findings.first { $0.name == "keyctl" })
        #expect(keyctl.got == FilterReturn(0x7fff_0000))
        #expect(Set(keyctl.architectures) == [.x86_64, .x86, .x32])
        // A second, stricter filter in the chain covers what the first misses.
        #expect(judge.judge([injected, weak]).findings.isEmpty)
        // A stub in front (returns ENOSYS above the highest known syscall, else falls through) changes nothing.
        let stub: [BPFInstruction] = [
            .init(code: 0x20, jt: 0, jf: 0, k: 0),  // ld nr
            .init(code: 0x35, jt: 0, jf: 1, k: 1000),  // jge 1000 ? next : skip
            .init(code: 0x06, jt: 0, jf: 0, k: 0x0005_0026),  // ret ERRNO(ENOSYS)
        ]
        let stubbed = BPFProgram(stub + weak.instructions)
        #expect(judge.judge([stubbed]).findings.map(\.name) == result.findings.map(\.name))
        // A rule the policy does not mention (keyctl allowed only when arg0 == 5) is found: the proof's counterexample.
        var sneaky = try Tighten.tighten(nil, policy: policy).profile
        sneaky.syscalls = (sneaky.syscalls ?? []).map { r in
            var r = r
            r.names.removeAll { $0 == "keyctl" }
            return r
        }.filter { !$0.names.isEmpty }
        sneaky.syscalls!.append(LinuxSyscall(names: ["keyctl"], action: .allow, args: [LinuxSeccompArg(index: 0, value: 5, op: .equal)]))
        let sneakyResult = judge.judge([try Compiler.compile(sneaky)])
        let found = try #require(sneakyResult.findings.first { $0.name == "keyctl" })
        #expect(found.args[0] == 5)
    }

    @Test("find(pid:) parses only a state that holds the pid's digits, finds the same record as before, and is not fooled by a longer number")
    func findByPidDigits() throws {
        let dir = try tempDir("find-pid")
        defer { cleanup(dir) }
        let me = getpid()
        #expect(RuntimeState.containsNumber(Array("{\"init_process_pid\":\(me),".utf8), Array(String(me).utf8)))
        #expect(RuntimeState.containsNumber(Array("\(me)".utf8), Array(String(me).utf8)))
        #expect(!RuntimeState.containsNumber(Array("1\(me) \(me)1 \(me)0".utf8), Array(String(me).utf8)))
        #expect(!RuntimeState.containsNumber([], Array(String(me).utf8)))
        let root = dir + "/root"
        // a: another pid that contains ours; b: broken JSON, no pid; c: ours (runc); d: ours again (crun), later in order.
        for (id, name, text) in [("a", "state.json", "{\"init_process_pid\":\(me)1,\"cgroup_paths\":{}}"),
                                 ("b", "state.json", "{ not json"),
                                 ("c", "state.json", "{\"init_process_pid\": \(me),\"cgroup_paths\":{\"pids\":\"/x\"},\"config\":{\"labels\":[\"bundle=/nowhere\"]}}"),
                                 ("d", "status", "{\"pid\":\(me),\"bundle\":\"/elsewhere\"}")] {
            try FileManager.default.createDirectory(atPath: root + "/" + id, withIntermediateDirectories: true)
            try text.write(toFile: root + "/" + id + "/" + name, atomically: false, encoding: .utf8)
        }
        let found = try #require(RuntimeState.find(pid: me, roots: [root]))
        #expect(found.id == "c" && found.format == .runc && found.ownCgroup && found.bundle == "/nowhere")
        // The same as every record read in order would give, the broken one aside.
        try FileManager.default.removeItem(atPath: root + "/b")
        #expect(try RuntimeState.all(roots: [root]).first { $0.pid == me && $0.isRunning } == found)
        // A state that holds the digits but cannot be read: nil, as before.
        try "{\"init_process_pid\":\(me),".write(toFile: root + "/a/state.json", atomically: false, encoding: .utf8)
        #expect(RuntimeState.find(pid: me, roots: [root]) == nil)
        #expect(RuntimeState.find(pid: me, roots: [dir + "/absent"]) == nil)
    }
}
