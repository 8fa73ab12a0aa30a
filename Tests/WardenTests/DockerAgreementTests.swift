import WardenCore
import Foundation
import Testing
@testable import WardenJSON
@testable import WardenSeccomp
@testable import WardenSpec

/// dockerd itself is the reference for Docker's conversion rules: the test starts its own dockerd
/// (FIELD-NOTES.md) with a runtime that only keeps each bundle's config.json and then runs runc,
/// and checks that `convert PROFILE --bundle <that bundle>` compiles to the filter dockerd's own
/// seccomp section compiles to, for every x86_64 (and x86, x32) syscall and sampled arguments.
@Suite("Agreement with dockerd", .serialized)
struct DockerAgreementTests {
    /// The runtime dockerd calls (through containerd's shim): copies `<bundle>/config.json` to
    /// `configs/<id>.json` beside itself on create/run, then is runc.
    static let wrapper = """
        #!/bin/sh
        out="$(dirname "$0")/configs"
        bundle=""; prev=""; last=""; cmd=""
        for a in "$@"; do
          case "$prev" in --bundle|-b) bundle="$a" ;; esac
          case "$a" in --bundle=*) bundle="${a#--bundle=}" ;; create|run) [ -z "$cmd" ] && cmd="$a" ;; esac
          prev="$a"; last="$a"
        done
        if [ -n "$cmd" ] && [ -n "$bundle" ] && [ -f "$bundle/config.json" ]; then
          mkdir -p "$out" && cp "$bundle/config.json" "$out/$last.json"
        fi
        exec runc "$@"
        """

    /// Rules whose filters sit just at, below and above this machine's kernel, on every capability
    /// and architecture condition, with the old single name: the default allows, so the container runs.
    static func filtersProfile(host: KernelVersion) -> String {
        let at = "\(host.kernel).\(host.major)", above = "\(host.kernel).\(host.major + 1)"
        let below = host.major > 0 ? "\(host.kernel).\(host.major - 1)" : "\(host.kernel - 1).99"
        // Syscalls runc's init and `true` do not make after the filter is loaded, so the container runs.
        let rules: [(String, String)] = [
            ("acct", #""includes": {"minKernel": "\#(at)"}"#),
            ("sysinfo", #""includes": {"minKernel": "\#(above)"}"#),
            ("times", #""excludes": {"minKernel": "\#(at)"}"#),
            ("getrusage", #""excludes": {"minKernel": "\#(above)"}"#),
            ("getpgrp", #""includes": {"minKernel": "\#(below)", "caps": ["CAP_KILL", "CAP_CHOWN"]}"#),
            ("getsid", #""includes": {"caps": ["CAP_KILL", "CAP_SYS_ADMIN"]}"#),
            ("getpgid", #""excludes": {"caps": ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"]}"#),
            ("getpriority", #""includes": {"arches": ["amd64", "x32"]}"#),
            ("getitimer", #""includes": {"arches": ["x86_64", "arm64"]}"#),
            ("ustat", #""excludes": {"arches": ["amd64"]}"#),
            ("sysfs", #""excludes": {"arches": ["s390x"]}, "includes": {"caps": []}"#),
            ("getcpu", #""includes": {}, "excludes": {}"#),
        ]
        var entries = rules.enumerated().map { i, r in
            #"{"names": ["\#(r.0)"], "action": "SCMP_ACT_ERRNO", "errnoRet": \#(i + 2), "comment": "rule \#(i)", \#(r.1)}"#
        }
        entries.append(#"{"name": "syslog", "action": "SCMP_ACT_ERRNO", "errnoRet": 40}"#)
        entries.append(#"{"names": ["mincore"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 7, "op": "SCMP_CMP_EQ"}], "excludes": {"caps": ["CAP_SYS_PTRACE"]}}"#)
        return #"""
            {"defaultAction": "SCMP_ACT_ALLOW",
             "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                         {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
                         {"architecture": "SCMP_ARCH_LOONGARCH64", "subArchitectures": null}],
             "syscalls": [\#(entries.joined(separator: ",\n  "))]}
            """#
    }

    @Test("convert --bundle agrees with dockerd for the default profile, added and dropped capabilities, and profile files")
    func agreement() throws {
        let which = try sh("command -v dockerd && command -v docker && command -v runc")
        try #require(which.status == 0, """
            dockerd, docker or runc is not installed (\(which.stdout.split(separator: "\n").joined(separator: ", "))): \
            this test needs Debian's docker.io and runc (apt-get install -y docker.io runc)
            """)
        let dir = try tempDir("dk-agree")
        let sock = "unix://\(dir)/docker.sock"
        defer {
            // Stop our dockerd by its pid, wait until it is gone, then undo the mounts it leaves
            // (it bind-mounts its data root onto itself) so the folder can be removed.
            _ = try? sh("""
                pid=$(cat \(dir)/docker.pid 2>/dev/null)
                if [ -n "$pid" ]; then
                  kill "$pid" 2>/dev/null
                  # Gone, or a zombie (whoever inherited it may never reap it).
                  for i in $(seq 1 60); do
                    state=$(awk '{print $3}' /proc/$pid/stat 2>/dev/null); [ -z "$state" ] || [ "$state" = Z ] && break; sleep 0.5
                  done
                fi
                for m in \(dir)/exec \(dir)/data; do
                  m=$(readlink -f "$m")  # /proc/mounts has no double slashes
                  while grep -q " $m[ /]" /proc/mounts; do umount -R "$m" 2>/dev/null || umount -l "$m" || break; done
                done
                true
                """)
            cleanup(dir)
        }
        try Self.wrapper.write(toFile: dir + "/wrapper.sh", atomically: false, encoding: .utf8)
        chmod(dir + "/wrapper.sh", 0o755)
        let release = try #require(ConversionContext.hostRelease())
        let host = try #require(KernelVersion(release: release))
        try Self.filtersProfile(host: host).write(toFile: dir + "/filters.json", atomically: false, encoding: .utf8)
        let dockerDefault = Repo.fixtures + "/docker-default.json"

        // --seccomp-profile makes Docker's default profile the shared file: dockerd 20.10's built-in
        // default is an older edition of it (no cachestat, futex_wait, …; io_uring allowed).
        // dockerd must not inherit the test's descriptors: Foundation waits for them to close.
        let start = try sh("""
            for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done
            setsid dockerd --data-root \(dir)/data --exec-root \(dir)/exec -H \(sock) --pidfile \(dir)/docker.pid \
              --storage-driver vfs --iptables=false --ip6tables=false --bridge=none --ip-forward=false --ip-masq=false \
              --seccomp-profile \(dockerDefault) --add-runtime agree=\(dir)/wrapper.sh >\(dir)/dockerd.log 2>&1 </dev/null &
            for i in $(seq 1 60); do docker -H \(sock) info >/dev/null 2>&1 && exit 0; sleep 0.5; done
            echo "dockerd did not come up:"; tail -20 \(dir)/dockerd.log; exit 1
            """)
        try #require(start.status == 0, "dockerd could not start here: \(start.stdout) \(start.stderr)")
        let docker = "docker -H \(sock)"
        let imp = try sh("source \(Repo.root)/Tests/support/runtime.sh; make_rootfs \(dir)/rootfs >/dev/null && tar -C \(dir)/rootfs -c . | \(docker) import - local/busybox")
        try #require(imp.status == 0, "\(imp.stdout) \(imp.stderr)")

        let cases: [(name: String, options: String, profile: String)] = [
            ("default profile", "", dockerDefault),
            ("--cap-add SYS_ADMIN", "--cap-add SYS_ADMIN", dockerDefault),
            ("--cap-add SYS_PTRACE", "--cap-add SYS_PTRACE", dockerDefault),
            ("--cap-add SYS_ADMIN --cap-add BPF", "--cap-add SYS_ADMIN --cap-add BPF", dockerDefault),
            ("--cap-drop ALL", "--cap-drop ALL", dockerDefault),
            ("--security-opt seccomp=docker-default.json", "--security-opt seccomp=\(dockerDefault)", dockerDefault),
            ("--security-opt seccomp=docker-default.json --cap-add ALL", "--security-opt seccomp=\(dockerDefault) --cap-add ALL", dockerDefault),
            ("filters at this kernel", "--security-opt seccomp=\(dir)/filters.json", dir + "/filters.json"),
            ("filters at this kernel, --cap-add SYS_ADMIN --cap-add SYS_PTRACE",
             "--security-opt seccomp=\(dir)/filters.json --cap-add SYS_ADMIN --cap-add SYS_PTRACE", dir + "/filters.json"),
            ("filters at this kernel, --cap-drop ALL", "--security-opt seccomp=\(dir)/filters.json --cap-drop ALL", dir + "/filters.json"),
        ]
        for (i, c) in cases.enumerated() {
            let cid = "\(dir)/\(i).cid"
            // Whether the container then runs does not matter here (with every capability, runc cannot
            // apply them on this machine): the wrapper keeps config.json at create.
            let r = try sh("\(docker) run --rm --network none --runtime agree --cidfile \(cid) \(c.options) local/busybox true 2>&1")
            if r.stdout.contains("unknown capability: \"CAP_BPF\"") {
                // dockerd before 23.0 rejects --cap-add BPF itself: there is no bundle to compare with.
                withKnownIssue("\(c.name): this dockerd does not know CAP_BPF; no bundle to compare") {
                    Issue.record("\(c.name): \(r.stdout)")
                }
                continue
            }
            let id = readText(cid).trimmingCharacters(in: .whitespacesAndNewlines)
            let bundle = "\(dir)/configs/\(id).json"
            guard !id.isEmpty, FileManager.default.fileExists(atPath: bundle) else {
                Issue.record("\(c.name): the runtime wrapper kept no config.json (docker run exit \(r.status): \(r.stdout))")
                continue
            }
            let config = OCIConfig(document: try JSONDocument(contentsOf: bundle))
            let fromDockerd = try #require(try config.seccomp(), "\(c.name): dockerd wrote no seccomp section")
            #expect((fromDockerd.syscalls ?? []).count > 1, "\(c.name): dockerd's profile has no rules")
            let conv = try warden(["convert", c.profile, "--bundle", bundle])
            #expect(conv.status == 0, "\(c.name): \(conv.stderr)")
            guard conv.status == 0 else { continue }
            let converted = try loadProfile(conv.stdout)
            #expect(converted.architectures == fromDockerd.architectures, "\(c.name)")
            for arch in [SeccompArch.x86_64, .x86, .x32] {
                let diffs = try filterDifferences(converted, fromDockerd, arch: arch)
                #expect(diffs.isEmpty, "\(c.name), \(arch.rawValue): convert vs dockerd:\n\(diffs.joined(separator: "\n"))")
            }
        }
    }
}
