import WardenCore
import Foundation
import Testing
@testable import WardenHook

// `install.sh --divert` puts the wrapper in runc's and crun's place; the engines then reach it by
// the runtimes' own names. These tests divert the real paths, seen from a private mount namespace.

/// argv[0] naming the runtime itself, and where the real one is then: `<path>.real`, never this binary.
@Suite("Wrapper in the runtime's place")
struct WrapperInPlaceTests {
    @Test("argv[0] names the runtime: a wrapper link, or runc/crun themselves", arguments: [
        ("runc", "runc"), ("/usr/sbin/runc", "runc"), ("/usr/bin/runc", "runc"), ("crun", "crun"), ("/usr/bin/crun", "crun"),
        ("seccomp-warden-runc", "runc"), ("/usr/local/bin/seccomp-warden-crun", "crun"),
        // Failure rows: the real runtimes' diverted names, the CLI, names with no table.
        ("runc.real", nil), ("/usr/sbin/runc.real", nil), ("/usr/bin/crun.real", nil), ("seccomp-warden", nil),
        ("docker-runc", nil), ("youki", nil), ("runc-", nil), ("RUNC", nil), ("seccomp-warden-", nil), ("", nil),
    ] as [(String, String?)])
    func runtimeName(argv0: String, expect: String?) {
        #expect(Wrapper.runtimeName(argv0: argv0) == expect)
    }

    /// A folder laid out as install.sh --divert leaves Debian's: sbin/runc is the wrapper (a copy, so
    /// it is "this binary"), sbin/runc.real the real one, bin/runc a symlink to ../sbin/runc (as
    /// Debian ships it), other/runc some other program; and a symlink layout (wrap/runc → the binary).
    struct Layout {
        let dir: String
        var me: String { dir + "/sbin/runc" }
        init(real: Bool = true, realMode: Int = 0o755, realIsSelf: Bool = false) throws {
            // Canonical, as /proc/self/exe resolves: the binary is compared by its real path.
            dir = URL(fileURLWithPath: try tempDir("in-place")).resolvingSymlinksInPath().path
            let fm = FileManager.default
            for d in ["sbin", "bin", "other", "wrap", "lib"] { try fm.createDirectory(atPath: dir + "/" + d, withIntermediateDirectories: true) }
            for f in ["/sbin/runc", "/other/runc", "/lib/seccomp-warden"] {
                try "#!/bin/sh\n".write(toFile: dir + f, atomically: false, encoding: .utf8)
                chmod(dir + f, 0o755)
            }
            if realIsSelf {
                try fm.createSymbolicLink(atPath: dir + "/sbin/runc.real", withDestinationPath: "runc")
            } else if real {
                try "#!/bin/sh\n".write(toFile: dir + "/sbin/runc.real", atomically: false, encoding: .utf8)
                chmod(dir + "/sbin/runc.real", mode_t(realMode))
            }
            try fm.createSymbolicLink(atPath: dir + "/bin/runc", withDestinationPath: "../sbin/runc")
            try fm.createSymbolicLink(atPath: dir + "/wrap/runc", withDestinationPath: dir + "/lib/seccomp-warden")
            try fm.createSymbolicLink(atPath: dir + "/wrap/runc.real", withDestinationPath: dir + "/other/runc")
        }
    }

    @Test("the real runtime is <path>.real beside the path the caller ran")
    func found() throws {
        let l = try Layout()
        defer { cleanup(l.dir) }
        let d = l.dir
        let real = d + "/sbin/runc.real"
        // Called by path; by a symlink to it (Debian's /usr/bin/runc): this binary's own name then.
        #expect(Wrapper.divertedRuntime("runc", argv0: d + "/sbin/runc", me: l.me, searchPath: "") == real)
        #expect(Wrapper.divertedRuntime("runc", argv0: d + "/bin/runc", me: l.me, searchPath: "") == real)
        // Called by name: the PATH folder whose runc is this binary, passing over another runc.
        #expect(Wrapper.divertedRuntime("runc", argv0: "runc", me: l.me, searchPath: "\(d)/other:\(d)/bin:\(d)/sbin") == real)
        #expect(Wrapper.divertedRuntime("runc", argv0: "runc", me: l.me, searchPath: "") == real)
        // The symlink layout: wrap/runc → the binary, wrap/runc.real → the real runtime.
        let me2 = d + "/lib/seccomp-warden"
        #expect(Wrapper.divertedRuntime("runc", argv0: "runc", me: me2, searchPath: "\(d)/other:\(d)/wrap") == d + "/wrap/runc.real")
        #expect(Wrapper.divertedRuntime("runc", argv0: d + "/wrap/runc", me: me2, searchPath: "") == d + "/wrap/runc.real")
    }

    @Test("no .real, a .real that is this binary, not executable, or no way to tell where it was run from: nothing")
    func notFound() throws {
        for (layout, what) in [(try Layout(real: false), "missing"), (try Layout(realIsSelf: true), "itself"),
                               (try Layout(realMode: 0o644), "not executable")] {
            defer { cleanup(layout.dir) }
            let d = layout.dir
            #expect(Wrapper.divertedRuntime("runc", argv0: d + "/sbin/runc", me: layout.me, searchPath: "") == nil, "\(what)")
            #expect(Wrapper.divertedRuntime("runc", argv0: "runc", me: layout.me, searchPath: "\(d)/sbin") == nil, "\(what)")
        }
        let l = try Layout()
        defer { cleanup(l.dir) }
        // The binary under another name, called as runc from a folder whose runc is another program:
        // never that program (a PATH search would find it), never this binary.
        #expect(Wrapper.divertedRuntime("runc", argv0: "runc", me: l.dir + "/lib/seccomp-warden", searchPath: l.dir + "/other") == nil)
        #expect(Wrapper.divertedRuntime("runc", argv0: "runc", me: nil, searchPath: l.dir + "/wrap") == nil)
    }

    @Test("the built binary as runc and crun execs the .real beside it, and refuses when there is none or it is itself",
          arguments: [("runc", "/usr/sbin/runc", "runc version 1.1"), ("crun", "/usr/bin/crun", "crun version 1.8")])
    func binary(name: String, host: String, version: String) throws {
        let dir = try tempDir("in-place-bin")
        defer { cleanup(dir) }
        let me = "\(dir)/\(name)"
        try FileManager.default.copyItem(atPath: Repo.binary, toPath: me)
        // No .real: exit 127, naming where it looked; the host's runtime on PATH is not a fallback.
        let missing = try sh("\(me) --version 2>&1")
        #expect(missing.status == 127, "\(missing.stdout)")
        #expect(missing.stdout.contains("cannot find the real \(name) at \(me).real"), "\(missing.stdout)")
        // .real naming the wrapper itself: refused the same way, no loop.
        try FileManager.default.createSymbolicLink(atPath: me + ".real", withDestinationPath: name)
        let loop = try sh("\(me) --version 2>&1")
        #expect(loop.status == 127, "\(loop.stdout)")
        try FileManager.default.removeItem(atPath: me + ".real")
        // The real runtime beside it: reached by path and by name from PATH.
        try FileManager.default.createSymbolicLink(atPath: me + ".real", withDestinationPath: host)
        let byPath = try sh("\(me) --version 2>&1")
        #expect(byPath.status == 0 && byPath.stdout.contains(version), "\(byPath.stdout)")
        let byName = try sh("PATH=\(dir):/usr/bin:/bin \(name) --version 2>&1")
        #expect(byName.status == 0 && byName.stdout.contains(version), "\(byName.stdout)")
    }
}

/// A private mount namespace in which /usr, /etc, /var/lib/dpkg and /var/log are overlays on the
/// host's own (and /run/containerd a tmpfs): `install.sh` writes the real paths there (dpkg-divert and its database included) and
/// every engine started inside sees them, while the host — and every other test, running in
/// parallel with `runc` and `crun` by name — keeps its runtimes. Nothing a test does or fails to
/// undo in here can reach the host: the namespace ends with its last process.
struct DivertedHost {
    let dir: String
    let holder: Int32
    static let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    static let runtimes = ["/usr/sbin/runc", "/usr/bin/crun"]

    static func start(_ tag: String) throws -> DivertedHost {
        let dir = try tempDir(tag)
        let r = try sh("""
            setsid unshare -m --propagation private bash -c '
              set -e
              for d in /usr /etc /var/lib/dpkg /var/log; do
                n=$(echo "$d" | tr / _)
                mkdir -p "\(dir)/ov/$n/up" "\(dir)/ov/$n/work"
                mount -t overlay overlay -o "lowerdir=$d,upperdir=\(dir)/ov/$n/up,workdir=\(dir)/ov/$n/work" "$d"
              done
              # containerd keeps shim sockets and runc state under /run/containerd whatever its --state.
              mkdir -p /run/containerd && mount -t tmpfs tmpfs /run/containerd
              echo $$ > \(dir)/holder.pid
              sleep 1800
              # Only if the test died without stop(): its daemons end, and the namespace with them.
              for f in \(dir)/docker/docker.pid \(dir)/ctd/containerd.pid; do [ -s "$f" ] && kill "$(cat "$f")"; done
              true' </dev/null >\(dir)/holder.log 2>&1 &
            for i in $(seq 1 100); do [ -s \(dir)/holder.pid ] && exit 0; sleep 0.1; done
            cat \(dir)/holder.log; exit 1
            """)
        guard r.status == 0, let pid = Int32(readText(dir + "/holder.pid").trimmingCharacters(in: .whitespacesAndNewlines)) else {
            cleanup(dir)
            throw Failure("no private mount namespace: \(r.stdout)\(r.stderr)")
        }
        return DivertedHost(dir: dir, holder: pid)
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    /// Runs a bash script inside the namespace, from the repository's root.
    @discardableResult
    func inside(_ script: String) throws -> Result {
        let file = "\(dir)/step-\(UUID().uuidString.prefix(8)).sh"
        try "export PATH=\(Self.path)\ncd \(Repo.root)\n\(script)\n".write(toFile: file, atomically: false, encoding: .utf8)
        return try sh("exec nsenter --mount=/proc/\(holder)/ns/mnt -- /bin/bash \(file)")
    }

    /// Diversions of runc and crun in here, as `dpkg-divert --list` prints them.
    func diversions() throws -> String {
        try inside("dpkg-divert --list | grep -E ' of /usr/(s?bin)/(runc|crun) ' || true").stdout
    }

    /// sha256 of the runtime paths (and their .real files, where present).
    func hashes(_ paths: [String]) throws -> String {
        try inside("sha256sum \(paths.joined(separator: " ")) 2>&1").stdout
    }

    /// `install.sh --uninstall` (idempotent), then the runtimes must be byte for byte the given ones.
    func restore(expect before: String) throws -> (ok: Bool, report: String) {
        let u = try inside("./install.sh --uninstall 2>&1")
        let after = try hashes(Self.runtimes)
        let div = try diversions()
        return (u.status == 0 && after == before && div.isEmpty, "uninstall: \(u.stdout)\nbefore: \(before)\nafter: \(after)\ndiversions: \(div)")
    }

    /// Stops what the test started in the namespace (by the pids it recorded), then the namespace.
    func stop() {
        _ = try? inside("""
            for f in \(dir)/docker/docker.pid \(dir)/ctd/containerd.pid; do
              [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
            done
            for i in $(seq 1 40); do
              alive=0
              for f in \(dir)/docker/docker.pid \(dir)/ctd/containerd.pid; do
                [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && alive=1
              done
              [ $alive = 0 ] && break; sleep 0.5
            done
            P="\(PodmanEngine.flags(dir))"
            podman $P rm -af >/dev/null 2>&1; podman $P rmi -af >/dev/null 2>&1; true
            """)
        kill(-holder, SIGKILL)  // the holder's process group: bash and its sleep
        usleep(200_000)
        cleanup(dir)
    }

    /// A busybox rootfs with the probe (Tests/support/runtime.sh).
    func rootfs(_ path: String) throws -> Result {
        try inside("source Tests/support/runtime.sh; make_rootfs \(path)")
    }
}

enum PodmanEngine {
    static func flags(_ dir: String) -> String {
        "--root \(dir)/podman/root --runroot \(dir)/podman/runroot --tmpdir \(dir)/podman/tmp --storage-driver vfs --cgroup-manager cgroupfs --events-backend file"
    }
}

/// What the container printed: the filter and the baseline's probes (Tests/support/probe.c).
let probes = "/bin/probe status; /bin/probe unshare; /bin/probe keyctl"

func expectFiltered(_ r: Result, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let out = r.stdout + r.stderr
    #expect(out.contains("Seccomp:\t2"), "\(what): \(out)", sourceLocation: sourceLocation)
    #expect(out.contains("unshare errno=1 EPERM"), "\(what): \(out)", sourceLocation: sourceLocation)
    #expect(out.contains("keyctl errno=1 EPERM"), "\(what): \(out)", sourceLocation: sourceLocation)
}

/// The positive control: the same container, without the wrapper, runs unfiltered and its probes succeed.
func expectUnfiltered(_ r: Result, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let out = r.stdout + r.stderr
    #expect(out.contains("Seccomp:\t0"), "\(what): \(out)", sourceLocation: sourceLocation)
    #expect(out.contains("unshare ok"), "\(what): \(out)", sourceLocation: sourceLocation)
}

/// The real engines after `install.sh --divert`, each reaching runc or crun by the name it always
/// uses, with every choice a container's creator has; then `install.sh --uninstall`.
@Suite("install.sh --divert with real engines", .serialized)
struct DivertTests {
    /// The host's runtimes, which no test here may change (the namespace keeps them out of reach).
    static func hostState() throws -> String {
        try sh("sha256sum \(DivertedHost.runtimes.joined(separator: " ")); dpkg-divert --list | grep -E ' of /usr/(s?bin)/(runc|crun) ' || true").stdout
    }

    /// A leftover diversion (an install on this host, or a run that died half way) is undone in
    /// here first, so "before" is always the real runtimes; returns their sha256.
    static func cleanStart(_ host: DivertedHost) throws -> String {
        if try !host.diversions().isEmpty {
            let u = try host.inside("./install.sh --uninstall 2>&1")
            #expect(u.status == 0, "leftover diversion, uninstall: \(u.stdout)")
        }
        let before = try host.hashes(DivertedHost.runtimes)
        #expect(try host.diversions().isEmpty)
        #expect(!before.contains("No such file"), "\(before)")
        return before
    }

    @Test("docker (--runtime runc, default, --runtime io.containerd.runc.v2), ctr without --runc-binary, podman (--runtime runc|crun, --hooks-dir empty) end filtered; uninstall gives the runtimes back byte for byte")
    func engines() throws {
        let hostBefore = try Self.hostState()
        let host = try DivertedHost.start("divert")
        let d = host.dir
        var before = ""
        defer {
            // Every exit path: uninstall in the namespace, the runtimes byte for byte as before; the
            // host never touched.
            if !before.isEmpty {
                let (ok, report) = (try? host.restore(expect: before)) ?? (false, "restore failed to run")
                #expect(ok, "\(report)")
            }
            host.stop()
            #expect((try? Self.hostState()) == hostBefore)
        }
        before = try Self.cleanStart(host)

        // Install, twice: idempotent.
        let bin = Repo.binary
        for round in 1...2 {
            let i = try host.inside("SECCOMP_WARDEN_BIN=\(bin) ./install.sh --divert 2>&1")
            try #require(i.status == 0, "install round \(round): \(i.stdout)")
        }
        let div = try host.diversions()
        #expect(div.contains("diversion of /usr/sbin/runc to /usr/sbin/runc.real by seccomp-warden"), "\(div)")
        #expect(div.contains("diversion of /usr/bin/crun to /usr/bin/crun.real by seccomp-warden"), "\(div)")
        let placed = try host.inside("""
            for p in /usr/sbin/runc /usr/bin/crun; do cmp -s /usr/local/bin/seccomp-warden $p && echo "$p wrapper"; done
            sha256sum /usr/sbin/runc.real /usr/bin/crun.real | sed 's/\\.real//'
            runc --version | head -1; crun --version | head -1
            cat /etc/containers/containers.conf.d/50-seccomp-warden.conf
            """)
        #expect(placed.stdout.contains("/usr/sbin/runc wrapper\n/usr/bin/crun wrapper\n"), "\(placed.stdout)")
        #expect(placed.stdout.contains(before), "the real runtimes, unchanged, at .real: \(placed.stdout)")
        #expect(placed.stdout.contains("runc version 1.1") && placed.stdout.contains("crun version 1.8"), "\(placed.stdout)")
        #expect(placed.stdout.contains("\"/etc/containers/oci/hooks-precreate.d\""), "\(placed.stdout)")

        let auditFile = "/var/log/seccomp-warden/audit.log"
        /// The audit lines a step added.
        func audit(during step: () throws -> Result) throws -> (Result, String) {
            let n = Int(try host.inside("cat \(auditFile) 2>/dev/null | wc -l").stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            let r = try step()
            return (r, try host.inside("tail -n +\(n + 1) \(auditFile) 2>/dev/null").stdout)
        }

        // Docker: its own dockerd, no runtime configured; the names docker offers reach the wrapper.
        try #require(try host.rootfs(d + "/rootfs").status == 0)
        let docker = "docker -H unix://\(d)/docker/docker.sock"
        let up = try host.inside("""
            mkdir -p \(d)/docker
            setsid dockerd --data-root \(d)/docker/data --exec-root \(d)/docker/exec -H unix://\(d)/docker/docker.sock \
              --pidfile \(d)/docker/docker.pid --storage-driver vfs --iptables=false --ip6tables=false --bridge=none \
              --ip-forward=false --ip-masq=false >\(d)/docker/dockerd.log 2>&1 </dev/null &
            for i in $(seq 1 60); do \(docker) info >/dev/null 2>&1 && break; sleep 0.5; done
            tar -C \(d)/rootfs -c . | \(docker) import - local/busybox >/dev/null || { tail -20 \(d)/docker/dockerd.log; exit 1; }
            """)
        try #require(up.status == 0, "dockerd: \(up.stdout)\(up.stderr)")
        // (--privileged cannot start here at all: this machine's root lacks capabilities Docker then asks for.)
        // Docker 20.10 also takes containerd's shim name as --runtime; that shim starts `runc` by name.
        for options in ["--runtime runc", "", "--runtime io.containerd.runc.v2"].map({ $0 + " --security-opt seccomp=unconfined" }) {
            let (r, log) = try audit { try host.inside("\(docker) run --rm --network none \(options) local/busybox sh -c '\(probes)' 2>&1") }
            expectFiltered(r, "docker run \(options)")
            #expect(log.contains("\"stage\":\"wrapper-runc\"") && log.contains("\"decision\":\"injected\""), "docker run \(options): \(log)")
        }
        // The backstop accounts for what the diverted runtime started: the wrapper's record names
        // the container by the runtime's id, the one `verify --all` lists.
        let detached = try host.inside("\(docker) run -d --network none --runtime runc --security-opt seccomp=unconfined local/busybox sleep 120")
        let cid = detached.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(detached.status == 0 && cid.count == 64, "\(detached.stdout)\(detached.stderr)")
        let v = try host.inside("\(Repo.binary) verify --all --root \(d)/docker/exec/runtime-runc/moby 2>&1")
        #expect(v.status == 0 && v.stdout.contains(cid) && !v.stdout.contains("UNACCOUNTED"), "verify --all: \(v.stdout)")
        try host.inside("\(docker) rm -f \(cid) >/dev/null 2>&1")

        // containerd and ctr: its own daemon (root, state, address); `ctr run` names no runc binary.
        let ctr = "ctr -a \(d)/ctd/c.sock -n warden-divert"
        let ctd = try host.inside("""
            mkdir -p \(d)/ctd
            cat > \(d)/ctd/config.toml <<EOF
            version = 2
            root = "\(d)/ctd/root"
            state = "\(d)/ctd/state"
            disabled_plugins = ["io.containerd.grpc.v1.cri"]
            [grpc]
              address = "\(d)/ctd/c.sock"
            [ttrpc]
              address = "\(d)/ctd/c.sock.ttrpc"
            [debug]
              address = "\(d)/ctd/debug.sock"
            [plugins."io.containerd.internal.v1.opt"]
              path = "\(d)/ctd/opt"
            EOF
            setsid containerd --config \(d)/ctd/config.toml >\(d)/ctd/containerd.log 2>&1 </dev/null &
            echo $! > \(d)/ctd/containerd.pid
            for i in $(seq 1 60); do \(ctr) version >/dev/null 2>&1 && exit 0; sleep 0.5; done
            tail -20 \(d)/ctd/containerd.log; exit 1
            """)
        try #require(ctd.status == 0, "containerd: \(ctd.stdout)\(ctd.stderr)")
        try #require(try host.rootfs(d + "/ctr-rootfs").status == 0)
        let ctrID = "divert-ctr-\(UInt32.random(in: 0...UInt32.max))"
        let ctrRun = "\(ctr) run --rm --rootfs \(d)/ctr-rootfs \(ctrID) /bin/sh -c '\(probes)' 2>&1"
        let (c, clog) = try audit { try host.inside(ctrRun) }
        expectFiltered(c, "ctr run")
        #expect(clog.contains("\"stage\":\"wrapper-runc\",\"id\":\"\(ctrID)\"") && clog.contains("\"decision\":\"injected\""), "ctr run: \(clog)")

        // podman: the drop-in's hooks, and a creator's own empty --hooks-dir, under runc and crun.
        let p = PodmanEngine.flags(d)
        let imp = try host.inside("tar -C \(d)/rootfs -c . | podman \(p) import - localhost/busybox >/dev/null 2>&1")
        try #require(imp.status == 0, "\(imp.stdout)\(imp.stderr)")
        try FileManager.default.createDirectory(atPath: d + "/empty-hooks", withIntermediateDirectories: true)
        func podman(_ runtime: String, _ options: String, _ command: String = probes) throws -> Result {
            let base = "podman \(p) --runtime \(runtime) run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768"
            if runtime == "crun" {
                let inner = "\(base) --cgroups=disabled \(options) localhost/busybox sh -c '\(command)'"
                return try host.inside("unshare -m --propagation private sh -c \"umount -l /sys/fs/cgroup 2>/dev/null; mount -t cgroup2 none /sys/fs/cgroup && \(inner.replacingOccurrences(of: "\"", with: "\\\""))\" 2>&1")
            }
            return try host.inside("\(base) \(options) localhost/busybox sh -c '\(command)' 2>&1")
        }
        for runtime in ["runc", "crun"] {
            // The admin's hooks, read through the drop-in with no --hooks-dir: precreate injects.
            let (r1, log1) = try audit { try podman(runtime, "--security-opt seccomp=unconfined") }
            expectFiltered(r1, "podman --runtime \(runtime)")
            #expect(log1.contains("\"stage\":\"precreate\"") && log1.contains("\"decision\":\"injected\""), "\(runtime): \(log1)")
            #expect(log1.contains("\"stage\":\"wrapper-\(runtime)\""), "\(runtime): \(log1)")
            // The creator's empty --hooks-dir drops them all: the diverted runtime injects instead.
            let (r2, log2) = try audit { try podman(runtime, "--hooks-dir \(d)/empty-hooks --security-opt seccomp=unconfined") }
            expectFiltered(r2, "podman --runtime \(runtime) --hooks-dir <empty>")
            #expect(!log2.contains("\"stage\":\"precreate\""), "\(runtime): \(log2)")
            #expect(log2.contains("\"stage\":\"wrapper-\(runtime)\"") && log2.contains("\"decision\":\"injected\""), "\(runtime): \(log2)")
        }
        // A filter of the creator's own in crun's annotation (one instruction: return ALLOW): refused
        // by the diverted crun (the control below shows plain crun loading it instead of the baseline).
        let ownFilter = "--hooks-dir \(d)/empty-hooks --annotation run.oci.seccomp_bpf_data=BgAAAAAA/38= --security-opt seccomp=unconfined"
        let (bpf, blog) = try audit { try podman("crun", ownFilter) }
        #expect(bpf.status != 0 && !bpf.stdout.contains("Seccomp:"), "\(bpf.stdout)")
        #expect(blog.contains("\"stage\":\"wrapper-crun\"") && blog.contains("\"decision\":\"denied\"") && blog.contains("run.oci.seccomp_bpf_data"), "\(blog)")

        // Uninstall: the runtimes byte for byte as before, no diversion, dpkg's own check clean.
        let (ok, report) = try host.restore(expect: before)
        #expect(ok, "\(report)")
        let verify = try host.inside("dpkg -V runc crun 2>&1; echo \"dpkg -V: $?\"; ls /usr/sbin/runc.real /usr/bin/crun.real /etc/containers/containers.conf.d/50-seccomp-warden.conf 2>&1")
        #expect(verify.stdout.hasPrefix("dpkg -V: 0\n"), "\(verify.stdout)")
        #expect(verify.stdout.components(separatedBy: "No such file").count == 4, "\(verify.stdout)")

        // Positive controls: the same containers, the wrapper gone, run unfiltered.
        expectUnfiltered(try host.inside("\(docker) run --rm --network none --runtime runc --security-opt seccomp=unconfined local/busybox sh -c '\(probes)' 2>&1"), "docker, uninstalled")
        expectUnfiltered(try host.inside(ctrRun.replacingOccurrences(of: ctrID, with: ctrID + "-control")), "ctr, uninstalled")
        for runtime in ["runc", "crun"] {
            expectUnfiltered(try podman(runtime, "--hooks-dir \(d)/empty-hooks --security-opt seccomp=unconfined"), "podman \(runtime), uninstalled")
        }
        let own = try podman("crun", ownFilter)
        #expect(own.stdout.contains("Seccomp:\t2") && own.stdout.contains("unshare ok") && own.stdout.contains("keyctl ok"), "crun's annotation, uninstalled: \(own.stdout)")
    }

    @Test("a package upgrade (dpkg -i of runc's and crun's packages) lands at .real and leaves the wrapper in place; uninstall then gives back the new files")
    func packageUpgrade() throws {
        let hostBefore = try Self.hostState()
        let host = try DivertedHost.start("divert-upgrade")
        let d = host.dir
        var before = ""
        defer {
            if !before.isEmpty { _ = try? host.inside("./install.sh --uninstall 2>&1") }
            host.stop()
            #expect((try? Self.hostState()) == hostBefore)
        }
        before = try Self.cleanStart(host)
        // The packages: from apt's cache when the installed version is there, else downloaded
        // (`apt-get download`: the package registry, as scripts/deps uses it).
        let debs = try host.inside("""
            mkdir -p \(d)/debs && cd \(d)/debs
            for pkg in runc crun; do
              v=$(dpkg-query -W -f '${Version}' $pkg | sed 's/:/%3a/')
              cached=$(ls /var/cache/apt/archives/${pkg}_${v}_*.deb 2>/dev/null | head -1)
              if [ -n "$cached" ]; then cp "$cached" .; else apt-get download -q $pkg >/dev/null 2>&1 || { echo "cannot get the $pkg package"; exit 1; }; fi
            done
            for pkg in runc crun; do
              f=$(ls ${pkg}_*.deb | head -1); path=$([ $pkg = runc ] && echo usr/sbin/runc || echo usr/bin/crun)
              echo "$(dpkg-deb --fsys-tarfile $f | tar -xO ./$path | sha256sum | cut -d' ' -f1)  /$path"
            done
            """)
        try #require(debs.status == 0, "\(debs.stdout)\(debs.stderr)")
        let packaged = debs.stdout
        let i = try host.inside("SECCOMP_WARDEN_BIN=\(Repo.binary) ./install.sh --divert 2>&1")
        try #require(i.status == 0, "\(i.stdout)")
        let up = try host.inside("dpkg --no-triggers -i \(d)/debs/runc_*.deb \(d)/debs/crun_*.deb 2>&1")
        try #require(up.status == 0, "\(up.stdout)")
        let after = try host.inside("""
            for p in /usr/sbin/runc /usr/bin/crun; do cmp -s /usr/local/bin/seccomp-warden $p && echo "$p wrapper"; done
            for p in /usr/sbin/runc /usr/bin/crun; do echo "$(sha256sum < $p.real | cut -d' ' -f1)  $p"; done
            """)
        #expect(after.stdout.hasPrefix("/usr/sbin/runc wrapper\n/usr/bin/crun wrapper\n"), "the wrapper survives: \(after.stdout)")
        #expect(after.stdout.hasSuffix(packaged), "the package's files at .real: \(after.stdout) vs \(packaged)")
        #expect(try host.diversions().components(separatedBy: "by seccomp-warden").count == 3)

        // Called by name, as an engine does: a bundle with no seccomp runs filtered under both.
        try #require(try host.rootfs(d + "/b/rootfs").status == 0)
        let run = try host.inside("""
            source Tests/support/runtime.sh
            python3 - \(Repo.sample("no-seccomp"))/config.json \(d)/b/config.json <<'PY'
            import json, sys
            cfg = json.load(open(sys.argv[1]))
            cfg["linux"].pop("resources", None)
            cfg["process"]["args"] = ["sh", "-c", "\(probes)"]
            cfg["process"]["terminal"] = False
            cfg["root"] = {"path": "rootfs", "readonly": False}
            json.dump(cfg, open(sys.argv[2], "w"))
            PY
            cp \(d)/b/config.json \(d)/b/config.orig
            echo "== runc"; run_in runc \(d)/b divert-up-runc-$$
            cp \(d)/b/config.orig \(d)/b/config.json
            echo "== crun"; run_in crun \(d)/b divert-up-crun-$$
            """)
        let parts = run.stdout.components(separatedBy: "== crun")
        try #require(parts.count == 2, "\(run.stdout)\(run.stderr)")
        expectFiltered(Result(status: 0, stdout: parts[0], stderr: ""), "runc after the upgrade")
        expectFiltered(Result(status: 0, stdout: parts[1], stderr: ""), "crun after the upgrade")

        let u = try host.inside("./install.sh --uninstall 2>&1; dpkg -V runc crun 2>&1; echo \"dpkg -V: $?\"")
        #expect(u.stdout.hasSuffix("dpkg -V: 0\n"), "\(u.stdout)")
        #expect(try host.hashes(DivertedHost.runtimes) == packaged, "the upgraded files, back at their names")
        #expect(try host.diversions().isEmpty)
    }
}
