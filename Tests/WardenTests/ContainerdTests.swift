import Foundation
import Testing

/// containerd (1.6, Debian's) through the runtime wrapper: the test starts its own containerd on a
/// local socket and runs `ctr run --rootfs --runc-binary <wrapper>`. `ctr --annotation` writes the
/// keys containerd's CRI plugin writes for a pod, as the kubelet would have them written; that
/// anyone on containerd's socket can write them is what README "Opting out" says.
@Suite("containerd runtime wrapper: exemptions on engine facts", .serialized)
struct ContainerdTests {
    static let ns = "io.kubernetes.cri.sandbox-namespace", img = "io.kubernetes.cri.image-name"

    @Test("an exemption on namespace and image as containerd's CRI writes them: exempt (Seccomp 0) only where every fact matches")
    func engineFacts() throws {
        let dir = try tempDir("containerd")
        let sock = dir + "/containerd.sock"
        let namespace = "warden-\(getpid())"
        defer {
            _ = try? sh("""
                for c in $(ctr -a \(sock) -n \(namespace) containers ls -q 2>/dev/null); do
                  ctr -a \(sock) -n \(namespace) tasks kill -s KILL $c 2>/dev/null; ctr -a \(sock) -n \(namespace) containers rm $c 2>/dev/null
                done
                kill $(cat \(dir)/containerd.pid 2>/dev/null) 2>/dev/null
                for i in $(seq 1 30); do kill -0 $(cat \(dir)/containerd.pid) 2>/dev/null || break; sleep 0.2; done
                rmdir /run/containerd/runc/\(namespace) 2>/dev/null; true
                """)
            cleanup(dir)
        }
        try FileManager.default.createSymbolicLink(atPath: dir + "/seccomp-warden-runc", withDestinationPath: Repo.binary)
        try """
            {"trustedEngine": "containerd-cri",
             "exemptions": [{"namespace": "debug-*", "image": "registry.example/debug:*", "reason": "debug pods bring their own tools"}]}
            """.write(toFile: dir + "/policy.json", atomically: false, encoding: .utf8)
        chmod(dir + "/policy.json", 0o600)
        // The shim runs the runtime binary with containerd's environment; the wrapper gets its own here.
        try """
            #!/bin/sh
            SECCOMP_WARDEN_POLICY=\(dir)/policy.json SECCOMP_WARDEN_AUDIT_LOG=\(dir)/audit.log SECCOMP_WARDEN_RUNTIME=$(command -v runc) \\
              exec \(dir)/seccomp-warden-runc "$@"
            """.write(toFile: dir + "/warden-runc", atomically: false, encoding: .utf8)
        chmod(dir + "/warden-runc", 0o755)
        try """
            version = 2
            root = "\(dir)/root"
            state = "\(dir)/state"
            [grpc]
              address = "\(sock)"
            [ttrpc]
              address = "\(sock).ttrpc"
            [debug]
              address = "\(dir)/debug.sock"
            [metrics]
              address = ""
            """.write(toFile: dir + "/config.toml", atomically: false, encoding: .utf8)
        let start = try sh("""
            source \(Repo.root)/Tests/support/runtime.sh
            make_rootfs \(dir)/rootfs || exit 1
            setsid containerd --config \(dir)/config.toml >\(dir)/containerd.log 2>&1 </dev/null & echo $! > \(dir)/containerd.pid
            for i in $(seq 1 60); do ctr -a \(sock) version >/dev/null 2>&1 && exit 0; sleep 0.25; done
            echo "containerd did not come up:"; tail -20 \(dir)/containerd.log; exit 1
            """)
        try #require(start.status == 0, "\(start.stdout)")

        var runs = 0
        func run(_ annotations: [(String, String)]) throws -> String {
            runs += 1
            let flags = annotations.map { "--annotation '\($0.0)=\($0.1)'" }.joined(separator: " ")
            let r = try sh("""
                ctr -a \(sock) -n \(namespace) run --rm --rootfs --runc-binary \(dir)/warden-runc \(flags) \(dir)/rootfs c\(runs) \
                  /bin/sh -c '/bin/probe status; /bin/probe unshare' 2>&1
                """)
            return r.stdout + (r.status == 0 ? "" : "[exit \(r.status)] \(r.stderr)")
        }

        // Every fact matches: exempt, and nothing filters the container.
        let exempt = try run([(Self.ns, "debug-alice"), (Self.img, "registry.example/debug:1.0")])
        #expect(exempt.contains("Seccomp:\t0"), "\(exempt)")
        #expect(exempt.contains("unshare ok"), "\(exempt)")
        let log = readText(dir + "/audit.log")
        #expect(log.contains("\"decision\":\"exempt\""), "\(log)")
        #expect(log.contains("debug pods bring their own tools") && log.contains("io.kubernetes.cri.sandbox-namespace"), "\(log)")

        // One fact off, or spelled in another case, or absent: the baseline.
        for annotations in [[(Self.ns, "debug-alice"), (Self.img, "registry.example/other:1.0")],
                            [(Self.ns, "default"), (Self.img, "registry.example/debug:1.0")],
                            [("io.kubernetes.cri.Sandbox-Namespace", "debug-alice"), (Self.img, "registry.example/debug:1.0")],
                            [(Self.ns, ""), (Self.img, "registry.example/debug:1.0")],
                            [("org.example.seccomp-warden/exempt", "yes")], []] {
            let out = try run(annotations)
            #expect(out.contains("Seccomp:\t2"), "\(annotations): \(out)")
            #expect(out.contains("unshare errno=1 EPERM"), "\(annotations): \(out)")
        }
    }
}
