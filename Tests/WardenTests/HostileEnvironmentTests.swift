import Foundation
import Testing

/// The hook runs as root on every container start: an empty environment, a closed stdout, a stdin
/// that never ends, all handled with a decision (or a refusal) and a reason.
@Suite("Hostile environment")
struct HostileEnvironmentTests {
    func bundle(_ sample: String, _ dir: String) throws -> String {
        try FileManager.default.createDirectory(atPath: dir + "/b", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Repo.sample(sample) + "/config.json", toPath: dir + "/b/config.json")
        return dir + "/b"
    }

    @Test("an empty environment (podman gives precreate hooks none): the hook still decides")
    func emptyEnvironment() throws {
        let dir = try tempDir("hostile-env")
        defer { cleanup(dir) }
        let input = try Data(contentsOf: URL(fileURLWithPath: Repo.sample("no-seccomp") + "/config.json"))
        let r = try run(Repo.binary, ["hook", "precreate", "--policy", "builtin"], input: input, env: [:])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"seccomp\""))
        let b = try bundle("weak-allow", dir)
        let state = Data("{\"ociVersion\": \"1.0.2\", \"id\": \"h\", \"pid\": 1, \"bundle\": \"\(b)\"}".utf8)
        let g = try run(Repo.binary, ["hook", "createRuntime", "--policy", "builtin"], input: state, env: [:])
        #expect(g.status == 1, "\(g.stderr)")
        #expect(g.stderr.contains("falls short"))
    }

    @Test("a closed stdout: precreate fails with a reason instead of dying on SIGPIPE or printing nothing")
    func closedStdout() throws {
        let dir = try tempDir("hostile-stdout")
        defer { cleanup(dir) }
        let r = try sh("exec 1>&-; SECCOMP_WARDEN_AUDIT_LOG=\(dir)/a.log \(Repo.binary) hook precreate --policy builtin < \(Repo.sample("no-seccomp"))/config.json; echo \"rc=$?\" >&2")
        #expect(r.stderr.contains("<stdout>"), "\(r.stderr)")
        #expect(!r.stderr.contains("rc=0"), "\(r.stderr)")
    }

    @Test("a stdin that never ends: the deadline fails closed with a reason")
    func deadline() throws {
        let dir = try tempDir("hostile-deadline")
        defer { cleanup(dir) }
        // The writer holds the FIFO open and never writes: only the deadline can end the read.
        let r = try sh("""
            mkfifo \(dir)/f
            sleep 30 > \(dir)/f & writer=$!
            SECCOMP_WARDEN_DEADLINE=1 \(Repo.binary) hook createRuntime --policy builtin < \(dir)/f
            rc=$?; kill $writer; exit $rc
            """)
        #expect(r.status == 3, "\(r.status) \(r.stderr)")
        #expect(r.stderr.contains("deadline passed before a decision"), "\(r.stderr)")
    }

    @Test("the wrapper does not hand its deadline or SIGPIPE setting to the runtime it execs")
    func wrapperDisarms() throws {
        let dir = try tempDir("hostile-wrap")
        defer { cleanup(dir) }
        let rt = dir + "/fake-runc"
        // The stand-in runtime outlives the deadline and reports the SIGPIPE disposition it got.
        try "#!/bin/bash\nsleep 2\ngrep SigIgn /proc/$$/status\necho runtime-done\n".write(toFile: rt, atomically: false, encoding: .utf8)
        chmod(rt, 0o755)
        try FileManager.default.createSymbolicLink(atPath: dir + "/seccomp-warden-runc", withDestinationPath: Repo.binary)
        let r = try run(dir + "/seccomp-warden-runc", ["state", "x"], env: ["SECCOMP_WARDEN_RUNTIME": rt, "SECCOMP_WARDEN_DEADLINE": "1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("runtime-done"))
        // SIGPIPE is signal 13: bit 12 of SigIgn must be clear.
        let ign = r.stdout.split(separator: "\n").first { $0.hasPrefix("SigIgn") }.map { UInt64($0.split(separator: "\t").last ?? "", radix: 16) ?? 0 } ?? 0
        #expect(ign & (1 << 12) == 0)
    }

    /// What the kernel saw the hook and the wrapper do, through strace: no process but the runtime's
    /// exec, no file opened for writing but the bundle's config.json (by its temporary file) and the log.
    @Test("no subprocess, and no write outside config.json and the audit log", arguments: ["precreate", "createRuntime", "wrapper"])
    func syscallsSeen(entry: String) throws {
        let dir = try tempDir("hostile-strace")
        defer { cleanup(dir) }
        let b = try bundle("no-seccomp", dir)
        try FileManager.default.createSymbolicLink(atPath: dir + "/seccomp-warden-runc", withDestinationPath: Repo.binary)
        let command: String
        switch entry {
        case "precreate": command = "\(Repo.binary) hook precreate < \(b)/config.json > \(dir)/out.json"
        case "createRuntime":
            try "{\"ociVersion\": \"1.0.2\", \"id\": \"s\", \"pid\": 1, \"bundle\": \"\(b)\"}".write(toFile: dir + "/state.json", atomically: false, encoding: .utf8)
            command = "\(Repo.binary) hook createRuntime < \(dir)/state.json"
        default: command = "\(dir)/seccomp-warden-runc create --bundle \(b) s"
        }
        _ = try sh("""
            export SECCOMP_WARDEN_POLICY=builtin SECCOMP_WARDEN_AUDIT_LOG=\(dir)/audit.log SECCOMP_WARDEN_RUNTIME=/bin/true
            export SECCOMP_WARDEN_CACHE=\(dir)/cache
            strace -f -qq -y -e trace=execve,clone,clone3,fork,vfork,open,openat,creat,rename,renameat,renameat2,unlink,unlinkat,mkdir -o \(dir)/trace sh -c 'exec \(command)'
            """)
        let trace = readText(dir + "/trace").split(separator: "\n").map(String.init)
        // The verdict cache's folder as the kernel names it (strace -y), and what it allows there.
        let cache = URL(fileURLWithPath: dir + "/cache").standardizedFileURL.resolvingSymlinksInPath().path
        let lines = trace.filter { !$0.contains("+++") && !$0.contains("---") }
        #expect(!lines.isEmpty, "strace saw nothing")
        let execs = lines.filter { $0.contains(" execve(") }
        // sh execs the binary; the wrapper then execs the runtime; nothing else.
        #expect(execs.count == (entry == "wrapper" ? 3 : 2), "\(execs)")
        if entry == "wrapper" { #expect(execs.last?.contains("execve(\"/bin/true\"") == true) }
        // No process: a thread (CLONE_THREAD: libseccomp's compile on a thread of its own, for its time
        // limit) is not one.
        #expect(!lines.contains { ($0.contains(" clone(") || $0.contains(" clone3(")) && !$0.contains("CLONE_THREAD") || $0.contains(" fork(") || $0.contains(" vfork(") }, "\(lines)")
        // The temporary file: a random name, created relative to the bundle folder's descriptor (strace -y
        // names it), never through a symlink or over an existing file; renamed over config.json in that folder.
        let bundleReal = URL(fileURLWithPath: b).standardizedFileURL.resolvingSymlinksInPath().path
        let temporary = #/\.config\.json\.seccomp-warden\.[0-9a-f]{16}\.tmp", O_WRONLY\|O_CREAT\|O_EXCL\|O_NONBLOCK\|O_NOFOLLOW/#
        func ours(_ l: String) -> Bool { l.contains("openat(") && l.contains("<\(bundleReal)>, \".config.json.seccomp-warden.") && l.contains(temporary) }
        func oursRenamed(_ l: String) -> Bool {
            l.contains(#/renameat\(\d+<([^>]+)>, "\.config\.json\.seccomp-warden\.[0-9a-f]{16}\.tmp", \d+<\1>, "config\.json"\) = 0/#)
                && l.contains("renameat(") && l.components(separatedBy: "<\(bundleReal)>, ").count == 3
        }
        for l in lines where l.contains("open") && (l.contains("O_WRONLY") || l.contains("O_RDWR") || l.contains("O_CREAT")) {
            // out.json is the shell's own redirection of stdout.
            // The verdict cache writes in its own folder only (strace -y names a descriptor's path).
            let allowed = ours(l) || l.contains("\(dir)/audit.log") || l.contains("\(dir)/out.json")
                || l.contains("<\(cache)>, \".tmp-")
            #expect(allowed, "unexpected write: \(l)")
        }
        for l in lines where l.contains("rename") {
            let inCache = l.contains("renameat(") && l.components(separatedBy: "<\(cache)>, ").count == 3
            #expect(inCache || oursRenamed(l), "\(l)")
        }
        if entry == "wrapper" { #expect(lines.contains(where: ours) && lines.contains(where: oursRenamed), "\(lines)") }
    }
}
