import Foundation
import Testing

/// podman with `--hooks-dir`: precreate injects or tightens, the createRuntime gate and the
/// poststart check pass on what it produced. Local storage, an imported busybox image (FIELD-NOTES.md).
@Suite("podman hooks", .serialized)
struct PodmanTests {
    static let runtimes = ["runc", "crun"]

    /// A podman environment of its own: storage, hooks folder, policy, audit log.
    struct Env {
        let dir: String
        var flags: String {
            "--root \(dir)/root --runroot \(dir)/runroot --tmpdir \(dir)/tmp --storage-driver vfs --cgroup-manager cgroupfs --events-backend file"
        }
        var log: String { dir + "/audit.log" }

        /// `podman run` with the hooks; crun runs inside the cgroup2 mount namespace, as FIELD-NOTES says.
        func run(_ runtime: String, _ options: String, _ command: String) throws -> Result {
            let base = "podman \(flags) --hooks-dir \(dir)/hooks --runtime \(runtime) run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768"
            if runtime == "crun" {
                let inner = "\(base) --cgroups=disabled \(options) localhost/busybox sh -c '\(command)'"
                return try sh("unshare -m --propagation private sh -c \"umount -l /sys/fs/cgroup 2>/dev/null; mount -t cgroup2 none /sys/fs/cgroup && \(inner.replacingOccurrences(of: "\"", with: "\\\""))\" 2>&1")
            }
            return try sh("\(base) \(options) localhost/busybox sh -c '\(command)' 2>&1")
        }
    }

    /// The policy the hooks read: `policy show` (the built-in one), or the text given.
    func setUp(policy text: String? = nil) throws -> Env {
        let env = Env(dir: try tempDir("podman"))
        try FileManager.default.createDirectory(atPath: env.dir + "/hooks", withIntermediateDirectories: true)
        let policy = try text ?? warden(["policy", "show"]).stdout
        try policy.write(toFile: env.dir + "/policy.json", atomically: false, encoding: .utf8)
        chmod(env.dir + "/policy.json", 0o600)
        for (file, stage) in [("pre", "precreate"), ("gate", "createRuntime"), ("post", "poststart")] {
            let hook = """
                {"version": "1.0.0", "hook": {"path": "\(Repo.binary)", "args": ["seccomp-warden", "hook", "\(stage)", "--policy", "\(env.dir)/policy.json"],
                 "env": ["SECCOMP_WARDEN_AUDIT_LOG=\(env.log)"]}, "when": {"always": true}, "stages": ["\(stage)"]}
                """
            try hook.write(toFile: "\(env.dir)/hooks/\(file).json", atomically: false, encoding: .utf8)
        }
        let imp = try sh("""
            source \(Repo.root)/Tests/support/runtime.sh
            make_rootfs \(env.dir)/rootfs && tar -C \(env.dir)/rootfs -c . | podman \(env.flags) import - localhost/busybox
            """)
        #expect(imp.status == 0, "\(imp.stderr)")
        return env
    }

    func tearDown(_ env: Env) {
        _ = try? sh("podman \(env.flags) rm -af >/dev/null 2>&1; podman \(env.flags) rmi -af >/dev/null 2>&1; umount -R \(env.dir)/root 2>/dev/null; true")
        cleanup(env.dir)
    }

    @Test("seccomp=unconfined ends with Seccomp 2 and EPERM for unshare; default profile keeps working with deny rules added", arguments: runtimes)
    func unconfinedGetsBaseline(runtime: String) throws {
        let env = try setUp()
        defer { tearDown(env) }
        let r = try env.run(runtime, "--security-opt seccomp=unconfined", "/bin/probe status; /bin/probe unshare")
        #expect(r.stdout.contains("Seccomp:\t2"), "\(r.stdout)")
        #expect(r.stdout.contains("unshare errno=1 EPERM"), "\(r.stdout)")
        let log = readText(env.log)
        #expect(log.contains("\"stage\":\"precreate\",") && log.contains("\"decision\":\"injected\""), "\(log)")
        #expect(log.contains("\"stage\":\"createRuntime\"") && log.contains("\"stage\":\"poststart\""), "\(log)")
        #expect(!log.contains("\"decision\":\"denied\""), "\(log)")

        // podman's own default profile: tightened, ordinary commands still run, ptrace now denied.
        let d = try env.run(runtime, "", "echo hello | grep -c hello; mkdir /tmp/d && ls /tmp; /bin/probe ptrace")
        #expect(d.stdout.hasPrefix("1\nd\n"), "\(d.stdout)")
        #expect(d.stdout.contains("ptrace errno=1 EPERM"), "\(d.stdout)")
        #expect(readText(env.log).contains("\"decision\":\"tightened\""))
    }

    /// The policy `install.sh` puts in /etc/seccomp-warden, as shipped.
    static var examplePolicy: String { readText(Repo.root + "/examples/policy.json") }

    @Test("the old exemption annotation, set by the creator, exempts nothing under the shipped policy: Seccomp 2", arguments: runtimes)
    func creatorAnnotationIsNoExemption(runtime: String) throws {
        let env = try setUp(policy: Self.examplePolicy)
        defer { tearDown(env) }
        let r = try env.run(runtime, "--security-opt seccomp=unconfined --annotation org.example.seccomp-warden/exempt=yes",
                            "/bin/probe status; /bin/probe unshare")
        #expect(r.stdout.contains("Seccomp:\t2"), "\(r.stdout)")
        #expect(r.stdout.contains("unshare errno=1 EPERM"), "\(r.stdout)")
        let log = readText(env.log)
        #expect(log.contains("\"stage\":\"precreate\",") && log.contains("\"decision\":\"injected\""), "\(log)")
        #expect(!log.contains("\"decision\":\"exempt\""), "\(log)")
    }

    @Test("podman --annotation can write the CRI's keys: precreate takes no engine facts, Seccomp 2 under a policy trusting containerd-cri")
    func forgedEngineKeys() throws {
        let env = try setUp(policy: """
            {"trustedEngine": "containerd-cri",
             "exemptions": [{"namespace": "kube-system", "image": "registry.k8s.io/*", "reason": "system pods"}]}
            """)
        defer { tearDown(env) }
        let forged = "--annotation io.kubernetes.cri.sandbox-namespace=kube-system --annotation io.kubernetes.cri.image-name=registry.k8s.io/pause:3.9"
        let r = try env.run("runc", "--security-opt seccomp=unconfined " + forged, "/bin/probe status; /bin/probe unshare")
        #expect(r.stdout.contains("Seccomp:\t2"), "\(r.stdout)")
        #expect(r.stdout.contains("unshare errno=1 EPERM"), "\(r.stdout)")
        let log = readText(env.log)
        #expect(log.contains("\"stage\":\"precreate\",") && log.contains("\"decision\":\"injected\""), "\(log)")
    }

    @Test("positive control: an annotation the policy marks as trusted still exempts, and is logged with its reason", arguments: runtimes)
    func trustedAnnotationExemption(runtime: String) throws {
        let env = try setUp(policy: """
            {"trustedAnnotations": ["org.example/seccomp-exempt"],
             "exemptions": [{"annotations": {"org.example/seccomp-exempt": "yes"}, "reason": "test exemption"}]}
            """)
        defer { tearDown(env) }
        let r = try env.run(runtime, "--security-opt seccomp=unconfined --annotation org.example/seccomp-exempt=yes", "/bin/probe status; /bin/probe unshare")
        #expect(r.stdout.contains("Seccomp:\t0"), "\(r.stdout)")
        #expect(r.stdout.contains("unshare ok"), "\(r.stdout)")
        let log = readText(env.log)
        #expect(log.contains("\"decision\":\"exempt\""), "\(log)")
        #expect(log.contains("exemptions[0]: annotation org.example/seccomp-exempt=") && log.contains("test exemption"), "\(log)")
        // Another value is no exemption.
        let n = try env.run(runtime, "--security-opt seccomp=unconfined --annotation org.example/seccomp-exempt=yes2", "/bin/probe status")
        #expect(n.stdout.contains("Seccomp:\t2"), "\(n.stdout)")
    }
}
