import Foundation
import Testing

/// Bad input through the CLI: one line naming the file and JSON path, exit 2, the file untouched.
@Suite("Bad input")
struct BadInputTests {
    static let cases: [(name: String, content: String?, words: [String])] = [
        ("not JSON", "{\"ociVersion\": ", ["config.json:1:", "invalid JSON"]),
        ("wrong type for linux", "{\"linux\": 3}", ["linux", "must be an object"]),
        ("wrong type for seccomp", "{\"linux\": {\"seccomp\": []}}", ["linux.seccomp", "must be an object"]),
        ("unknown action", "{\"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_NOPE\"}]}}}",
         ["linux.seccomp.syscalls[0].action", "not a valid action"]),
        ("unknown arch", "{\"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_VAX\"]}}}",
         ["linux.seccomp.architectures[0]"]),
        ("unknown op", "{\"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": 0, \"op\": \"EQ\"}]}]}}}",
         ["linux.seccomp.syscalls[0].args[0].op"]),
        ("empty names", "{\"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [], \"action\": \"SCMP_ACT_ERRNO\"}]}}}",
         ["linux.seccomp.syscalls[0].names"]),
        ("integer overflow", "{\"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": 18446744073709551616, \"op\": \"SCMP_CMP_EQ\"}]}]}}}",
         ["config.json:1:", "too big"]),
        // runc (Go's encoding/json) matches keys ignoring case (ſ is s, K is k) and the last match wins; crun
        // and seccomp-warden match exactly: such a key would be judged one way and enforced another.
        ("key differing only in case (runc reads it)", "{\"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\"}], \"DefaultAction\": \"SCMP_ACT_ALLOW\"}}}",
         ["linux.seccomp", "DefaultAction", "runc"]),
        ("rule key differing only in case", "{\"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"keyctl\"], \"action\": \"SCMP_ACT_ERRNO\", \"ACTION\": \"SCMP_ACT_ALLOW\"}]}}}",
         ["linux.seccomp.syscalls[0]", "ACTION", "runc"]),
        ("argument key differing only in case", "{\"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"unshare\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": 0, \"op\": \"SCMP_CMP_NE\", \"Op\": \"SCMP_CMP_EQ\"}]}]}}}",
         ["linux.seccomp.syscalls[0].args[0]", "Op", "runc"]),
        ("long s folding to syscalls", "{\"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"keyctl\"], \"action\": \"SCMP_ACT_ERRNO\"}], \"\u{17F}yscalls\": []}}}",
         ["linux.seccomp", "yscalls", "runc"]),
        ("Seccomp beside seccomp", "{\"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ERRNO\"}, \"Seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\"}}}",
         ["linux", "Seccomp", "runc"]),
        ("Linux beside linux", "{\"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ERRNO\"}}, \"LINUX\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\"}}}",
         ["LINUX", "runc"]),
        ("Process beside process (the bounding set a Docker-format deny set is converted for)", "{\"process\": {\"capabilities\": {\"bounding\": [\"CAP_SYS_ADMIN\"]}}, \"Process\": {\"capabilities\": {\"bounding\": []}}, \"linux\": {}}",
         ["Process", "runc"]),
        ("Bounding beside bounding", "{\"process\": {\"capabilities\": {\"bounding\": [\"CAP_SYS_ADMIN\"], \"Bounding\": []}}, \"linux\": {}}",
         ["process.capabilities", "Bounding", "runc"]),
        ("deep nesting", "{\"annotations\": " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}", ["config.json:", "depth"]),
    ]

    @Test("malformed config.json: exit 2, one line naming file and path, file unchanged", arguments: cases.map(\.name))
    func malformed(name: String) throws {
        let c = Self.cases.first { $0.name == name }!
        let dir = try tempDir("bad")
        defer { cleanup(dir) }
        let path = dir + "/config.json"
        try c.content!.write(toFile: path, atomically: false, encoding: .utf8)
        for command in [["apply"], ["check"], ["apply", "--dry-run"]] {
            let r = try warden(command + [dir])
            #expect(r.status == 2, "\(command) \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(r.stderr)")
            for w in c.words { #expect(r.stderr.contains(w), "\(w) not in \(r.stderr)") }
            #expect(r.stderr.contains(path))
            #expect(readText(path) == c.content!)
        }
    }

    @Test("missing path, folder without config.json, symlink, FIFO, folder as config, oversized file")
    func badFiles() throws {
        let dir = try tempDir("badfiles")
        defer { cleanup(dir) }
        try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/link", withIntermediateDirectories: true)
        try "{}".write(toFile: dir + "/real.json", atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dir + "/link/config.json", withDestinationPath: dir + "/real.json")
        try FileManager.default.createDirectory(atPath: dir + "/fifo", withIntermediateDirectories: true)
        mkfifo(dir + "/fifo/config.json", 0o644)
        try FileManager.default.createDirectory(atPath: dir + "/dir/config.json", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/big", withIntermediateDirectories: true)
        let big = "{\"x\": \"" + String(repeating: "a", count: 17 << 20) + "\"}"
        try big.write(toFile: dir + "/big/config.json", atomically: false, encoding: .utf8)
        let expectations: [(String, String)] = [
            (dir + "/missing", "No such file"),
            (dir + "/empty", "has no config.json"),
            (dir + "/link", "symlink"),
            (dir + "/fifo", "FIFO"),
            (dir + "/dir", "a directory"),
            (dir + "/big", "limit"),
        ]
        for (path, words) in expectations {
            let r = try warden(["apply", path])
            #expect(r.status == 2, "\(path): \(r.stderr)")
            #expect(r.stderr.contains(words), "\(path): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1)
        }
        #expect(readText(dir + "/real.json") == "{}")
    }

    @Test("a bad policy is refused with its path; a group-writable policy too", .rootOwnedFiles)
    func badPolicy() throws {
        let dir = try tempDir("badpolicy")
        defer { cleanup(dir) }
        let p = dir + "/policy.json"
        try "{\"deny\": [{\"names\": [\"keyctll\"], \"action\": \"SCMP_ACT_ERRNO\"}]}".write(toFile: p, atomically: false, encoding: .utf8)
        chmod(p, 0o644)
        var r = try warden(["policy", "check", p])
        #expect(r.status == 2)
        #expect(r.stderr.contains("deny[0].names[0]") && r.stderr.contains("keyctll"), "\(r.stderr)")
        try "{\"mode\": \"enforce\"}".write(toFile: p, atomically: false, encoding: .utf8)
        chmod(p, 0o666)
        r = try warden(["policy", "check", p])
        #expect(r.status == 2)
        #expect(r.stderr.contains("writable"), "\(r.stderr)")
        // A contradiction: the same syscall denied two different ways.
        try "{\"deny\": [{\"names\": [\"bpf\"], \"action\": \"SCMP_ACT_ERRNO\"}, {\"names\": [\"bpf\"], \"action\": \"SCMP_ACT_KILL\"}]}".write(toFile: p, atomically: false, encoding: .utf8)
        chmod(p, 0o644)
        r = try warden(["policy", "check", p])
        #expect(r.status == 2)
        #expect(r.stderr.contains("contradictory"), "\(r.stderr)")
    }
}
