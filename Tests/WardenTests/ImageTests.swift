import Foundation
import Testing

/// The node image (`Containerfile`, built by `scripts/build-image` with podman, no registry): the
/// agent runs from it as a podman container with the DaemonSet's mounts and privileges (host PID
/// namespace, SYS_PTRACE and SYS_ADMIN only, seccomp unconfined, read-only root, the state root
/// read-only) and sees a container started on the host. Builds the static release executables
/// (scripts/build-release, in .build-bench) unless SECCOMP_WARDEN_IMAGE_BIN names a folder with both.
@Suite("Node image", .serialized)
struct ImageTests {
    @Test("the agent from the image, with the DaemonSet's mounts, reports a container started on the host, drops it when deleted, exits 0 on SIGTERM")
    func agentFromImage() throws {
        let dir = try tempDir("image")
        let p = "--root \(dir)/storage --runroot \(dir)/runroot --tmpdir \(dir)/tmp --storage-driver vfs --cgroup-manager cgroupfs --events-backend file"
        let tag = "localhost/seccomp-warden:test-\(getpid())"
        let name = "warden-agent-\(getpid())"
        let root = dir + "/state"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        chmod(root, 0o700)
        let id = "image-\(UInt32.random(in: 0...UInt32.max))"
        defer {
            _ = try? sh("""
                runc --root \(root) delete -f \(id) >/dev/null 2>&1
                podman \(p) rm -f \(name) >/dev/null 2>&1
                podman \(p) rmi -f \(tag) >/dev/null 2>&1; true
                """)
            _ = try? sh("chmod -R u+w \(dir) 2>/dev/null; rm -rf \(dir)")
        }
        let build = try sh("PODMAN_OPTS='\(p)' \(Repo.root)/scripts/build-image \(tag)")
        try #require(build.status == 0, "\(build.stdout) \(build.stderr)")
        print("image: \(build.stdout.split(separator: "\n").last ?? "")")
        // Nothing but the two executables and the shared files.
        let files = try sh("podman \(p) image save \(tag) | tar -xO --wildcards '*.tar' 2>/dev/null | tar -t 2>/dev/null | sort; podman \(p) image inspect --format '{{.Size}}' \(tag)")
        #expect(files.stdout.contains("usr/local/bin/seccomp-warden-agent"), "\(files.stdout)")

        let launched = try sh("""
            podman \(p) --runtime runc run -d --name \(name) --pid host --network host \
              --cap-drop ALL --cap-add SYS_PTRACE,SYS_ADMIN --security-opt seccomp=unconfined \
              --read-only --tmpfs /run/seccomp-warden --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 \
              -v \(root):\(root):ro \(tag) --listen 127.0.0.1:0 --root \(root)
            """)
        try #require(launched.status == 0, "\(launched.stdout) \(launched.stderr)")
        var address = ""
        for _ in 0..<300 {
            let logs = try sh("podman \(p) logs \(name) 2>&1")
            if let line = logs.stdout.split(separator: "\n").first(where: { $0.contains("on http://") }) {
                address = String(line.split(separator: "http://").last ?? "")
                break
            }
            if logs.stdout.contains("seccomp-warden-agent:") && !logs.stdout.contains("serving") {
                Issue.record("the agent refused to start: \(logs.stdout)")
                return
            }
            usleep(50_000)
        }
        try #require(!address.isEmpty, "no address in the agent's log")

        let bundle = dir + "/bundle"
        let start = try sh("""
            source \(Repo.root)/Tests/support/runtime.sh
            make_bundle \(Repo.sample("docker-default"))/config.json \(bundle) /bin/sleep 600 >/dev/null || exit 1
            SECCOMP_WARDEN_POLICY=builtin \(Repo.binary) apply \(bundle) >/dev/null || exit 1
            cd \(bundle) && runc --root \(root) run -d \(id) </dev/null >\(bundle)/log 2>&1
            """)
        try #require(start.status == 0, "\(start.stdout) \(start.stderr) \(readText(bundle + "/log"))")
        var series: [String: String]? = nil
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline && series == nil {
            series = PromText.containers(try run("/usr/bin/curl", ["-s", "--max-time", "5", "http://\(address)/metrics"]).stdout)[id]
            usleep(50_000)
        }
        let logs = try sh("podman \(p) logs \(name) 2>&1").stdout
        #expect(series?["status"] == "holds", "\(series ?? [:]) \(logs)")
        let gone = try sh("runc --root \(root) delete -f \(id)")
        #expect(gone.status == 0)
        var still = true
        for _ in 0..<200 where still {
            still = PromText.containers(try run("/usr/bin/curl", ["-s", "--max-time", "5", "http://\(address)/metrics"]).stdout)[id] != nil
            if still { usleep(50_000) }
        }
        #expect(!still, "the series stayed after delete")
        let stop = try sh("podman \(p) stop -t 20 \(name) >/dev/null && podman \(p) inspect --format '{{.State.ExitCode}}' \(name)")
        #expect(stop.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(stop.stdout) \(stop.stderr)")
    }
}
