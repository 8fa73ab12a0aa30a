import Foundation
import Testing

/// Docker through the runtime wrapper: the test starts its own dockerd on a local socket
/// (FIELD-NOTES.md) with `--add-runtime warden=<seccomp-warden-runc>`, and stops it by pid.
@Suite("Docker runtime wrapper", .serialized)
struct DockerTests {
    @Test("unconfined gets the baseline; Docker's default still runs; a refused container shows the reason")
    func docker() throws {
        let dir = try tempDir("docker")
        let sock = "unix://\(dir)/docker.sock"
        defer {
            _ = try? sh("""
                kill $(cat \(dir)/docker.pid 2>/dev/null) 2>/dev/null
                for i in $(seq 1 30); do [ -e \(dir)/docker.pid ] || break; sleep 0.5; done
                umount -R \(dir)/exec 2>/dev/null; umount -R \(dir)/data 2>/dev/null; true
                """)
            cleanup(dir)
        }
        // The wrapper is the same binary under the name seccomp-warden-runc.
        try FileManager.default.createSymbolicLink(atPath: dir + "/seccomp-warden-runc", withDestinationPath: Repo.binary)
        var policy = try warden(["policy", "show"]).stdout
        policy = policy.replacingOccurrences(of: "\"defaultAllow\": \"tighten\"", with: "\"defaultAllow\": \"refuse\"")
        try policy.write(toFile: dir + "/policy.json", atomically: false, encoding: .utf8)
        chmod(dir + "/policy.json", 0o600)
        let start = try sh("""
            export SECCOMP_WARDEN_POLICY=\(dir)/policy.json SECCOMP_WARDEN_AUDIT_LOG=\(dir)/audit.log
            setsid dockerd --data-root \(dir)/data --exec-root \(dir)/exec -H \(sock) --pidfile \(dir)/docker.pid \
              --storage-driver vfs --iptables=false --ip6tables=false --bridge=none --ip-forward=false --ip-masq=false \
              --add-runtime warden=\(dir)/seccomp-warden-runc >\(dir)/dockerd.log 2>&1 </dev/null &
            for i in $(seq 1 60); do docker -H \(sock) info >/dev/null 2>&1 && exit 0; sleep 0.5; done
            echo "dockerd did not come up:"; tail -20 \(dir)/dockerd.log; exit 1
            """)
        try #require(start.status == 0, "\(start.stdout)")
        let docker = "docker -H \(sock)"
        let imp = try sh("source \(Repo.root)/Tests/support/runtime.sh; make_rootfs \(dir)/rootfs && tar -C \(dir)/rootfs -c . | \(docker) import - local/busybox")
        try #require(imp.status == 0, "\(imp.stderr)")
        let run = "\(docker) run --rm --network none --runtime warden"

        let unconfined = try sh("\(run) --security-opt seccomp=unconfined local/busybox sh -c '/bin/probe status; /bin/probe unshare' 2>&1")
        #expect(unconfined.stdout.contains("Seccomp:\t2"), "\(unconfined.stdout)")
        #expect(unconfined.stdout.contains("unshare errno=1 EPERM"), "\(unconfined.stdout)")

        let dflt = try sh("\(run) local/busybox sh -c 'echo hello | grep -c hello; /bin/probe ptrace' 2>&1")
        #expect(dflt.stdout.hasPrefix("1\n"), "\(dflt.stdout)")
        #expect(dflt.stdout.contains("ptrace errno=1 EPERM"), "\(dflt.stdout)")

        try #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["reboot"], "action": "SCMP_ACT_ERRNO"}]}"#
            .write(toFile: dir + "/weak.json", atomically: false, encoding: .utf8)
        let refused = try sh("\(run) --security-opt seccomp=\(dir)/weak.json local/busybox echo should-not-run 2>&1")
        #expect(refused.status != 0)
        #expect(!refused.stdout.contains("should-not-run\n"))
        #expect(refused.stdout.contains("seccomp-warden: refused by policy"), "\(refused.stdout)")

        let log = readText(dir + "/audit.log")
        for d in ["injected", "tightened", "denied"] { #expect(log.contains("\"decision\":\"\(d)\""), "\(d): \(log)") }
    }
}
