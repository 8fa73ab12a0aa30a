import WardenCore
import Foundation
import Testing
@testable import WardenHook

@Suite("Wrapper argv: the runtime's own grammar")
struct WrapperArgvTests {
    @Test("each spelling finds the bundle the runtime reads, passes through, or is refused",
          arguments: ArgvTable.runc + ArgvTable.crun + ArgvTable.other)
    func spelling(row: ArgvRow) {
        let inv = RuntimeCLI.parse(row.args, runtime: row.runtime)
        switch (row.expect, inv.action) {
        case (.bundle(let want), .tighten(let got)): #expect(got == want)
        case (.pass, .passThrough): break
        case (.refuse(let text), .refuse(let reason)): #expect(reason.contains(text), "\(reason)")
        default: Issue.record("got \(inv.action)")
        }
    }

    @Test("arguments that are not UTF-8: passed through byte for byte, refused on a bundle command", arguments: ["runc", "crun"])
    func notUTF8(runtime: String) throws {
        let bad: [UInt8] = Array("/W".utf8) + [0xff]
        #expect(RuntimeCLI.parse(bytes: [Array("state".utf8), bad], runtime: runtime).action == .passThrough)
        guard case .refuse(let reason) = RuntimeCLI.parse(bytes: [Array("run".utf8), Array("-b".utf8), bad, Array("id".utf8)], runtime: runtime).action else {
            Issue.record("not refused")
            return
        }
        #expect(reason.contains("not valid UTF-8"))
        // Through the binary: the runtime gets the very bytes (CommandLine.arguments would have replaced 0xff).
        let dir = try tempDir("argv-bytes")
        defer { cleanup(dir) }
        try "#!/bin/sh\nfor a in \"$@\"; do printf '%s' \"$a\" | od -An -tx1 | tr -d ' \\n'; echo; done\n".write(toFile: dir + "/fake", atomically: false, encoding: .utf8)
        chmod(dir + "/fake", 0o755)
        try FileManager.default.createSymbolicLink(atPath: dir + "/seccomp-warden-\(runtime)", withDestinationPath: Repo.binary)
        let r = try sh("SECCOMP_WARDEN_RUNTIME=\(dir)/fake \(dir)/seccomp-warden-\(runtime) state $'x\\xff' ''")
        #expect(r.stdout == "7374617465\n78ff\n\n", "\(r.stdout) \(r.stderr)")
        let refused = try sh("SECCOMP_WARDEN_RUNTIME=\(dir)/fake SECCOMP_WARDEN_POLICY=builtin SECCOMP_WARDEN_AUDIT_LOG=\(dir)/audit.log \(dir)/seccomp-warden-\(runtime) run -b $'\(dir)/W\\xff' id")
        #expect(refused.status == 1)
        #expect(refused.stdout.isEmpty)
        #expect(refused.stderr.contains("not valid UTF-8"), "\(refused.stderr)")
    }

    @Test("the runtime's --log and --log-format and the container id are read from the same line",
          arguments: [
            ("runc", "--log /L --log-format json run --bundle /B id", "/L", "json", "id"),
            ("runc", "-log=/L -log-format text run --zzz id", "/L", "text", nil),
            ("runc", "--log /L1 --log /L2 run c1", "/L2", nil, "c1"),
            ("runc", "--log /L run -b /W", "/L", nil, nil),
            ("crun", "--log=file:/L --log-format=json run c2", "/L", "json", "c2"),
            ("crun", "--log /L --log-f json run --keep c3", "/L", "json", nil),
            ("crun", "--log=journald:x run c4", nil, nil, "c4"),
            ("crun", "--log=syslog: run c5", nil, nil, "c5"),
            ("crun", "--lo /L run c6", nil, nil, nil),
          ] as [(String, String, String?, String?, String?)])
    func logAndID(runtime: String, line: String, log: String?, format: String?, id: String?) {
        let inv = RuntimeCLI.parse(line.split(separator: " ").map(String.init), runtime: runtime)
        #expect(inv.log == log)
        #expect(inv.logFormat == format)
        #expect(inv.containerID == id)
    }

    @Test("values in messages are quoted and escaped: no argument can start a line of its own",
          arguments: [
            ("plain", "\"plain\""),
            ("a\"b", "\"a\\\"b\""),
            ("back\\slash", "\"back\\\\slash\""),
            ("two\nlines", "\"two\\nlines\""),
            ("cr\rtab\t", "\"cr\\rtab\\t\""),
            ("nul\u{0}esc\u{1b}del\u{7f}", "\"nul\\x00esc\\x1bdel\\x7f\""),
            ("sep\u{2028}", "\"sep\\u2028\""),
            ("ünï", "\"ünï\""),
          ])
    func quoting(raw: String, quoted: String) {
        #expect(RuntimeCLI.quoted(raw) == quoted)
    }

    @Test("a refusal goes to the runtime's --log as one line: JSON escaped, text Go-quoted", arguments: ["json", "text"])
    func runtimeLogLine(format: String) throws {
        let dir = try tempDir("argv-log")
        defer { cleanup(dir) }
        let w = dir + "/seccomp-warden-runc"
        try FileManager.default.createSymbolicLink(atPath: w, withDestinationPath: Repo.binary)
        // An unknown option that carries a newline and a forged log line of its own.
        let evil = "--zzz\ntime=\"x\" level=info msg=\"forged\""
        let r = try run(w, ["--log", dir + "/runtime.log", "--log-format", format, "run", evil, "id"],
                        env: ["SECCOMP_WARDEN_RUNTIME": "/bin/true", "SECCOMP_WARDEN_POLICY": "builtin",
                              "SECCOMP_WARDEN_AUDIT_LOG": dir + "/audit.log"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("flag provided but not defined: \"--zzz\\ntime=\\\"x\\\""), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        let log = readText(dir + "/runtime.log")
        let lines = log.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        #expect(lines.count == 1, "\(log)")
        if format == "json" {
            let o = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
            #expect(o?["level"] as? String == "error")
            // The message quotes the option (its newline escaped once); JSON escapes that again.
            #expect((o?["msg"] as? String)?.contains("--zzz\\ntime=") == true, "\(lines[0])")
        } else {
            #expect(lines[0].hasPrefix("time=\""), "\(lines[0])")
            #expect(lines[0].contains("\" level=error msg=\"seccomp-warden: "), "\(lines[0])")
            #expect(lines[0].hasSuffix("\""), "\(lines[0])")
            // Quoted twice: by the message, then by the log line (logrus quotes msg as Go's %q does).
            #expect(lines[0].contains("--zzz\\\\ntime="), "\(lines[0])")
        }
        // The refusal is in the audit log too, with the container id from the command line.
        let audit = readText(dir + "/audit.log")
        #expect(audit.contains("\"decision\":\"denied\""), "\(audit)")
        #expect(audit.split(separator: "\n").count == 1)
    }

    @Test("a refused command line never reaches the runtime; an audit-mode policy logs it and runs the runtime unchanged", .rootOwnedFiles)
    func refusalAndAudit() throws {
        let dir = try tempDir("argv-audit")
        defer { cleanup(dir) }
        let w = dir + "/seccomp-warden-crun"
        try FileManager.default.createSymbolicLink(atPath: w, withDestinationPath: Repo.binary)
        let runtime = dir + "/fake-crun"
        try "#!/bin/sh\necho ran \"$@\"\n".write(toFile: runtime, atomically: false, encoding: .utf8)
        chmod(runtime, 0o755)
        let policy = try warden(["policy", "show"]).stdout.replacingOccurrences(of: "\"mode\": \"enforce\"", with: "\"mode\": \"audit\"")
        try policy.write(toFile: dir + "/audit.json", atomically: false, encoding: .utf8)
        chmod(dir + "/audit.json", 0o600)
        let args = ["run", "--config", dir + "/other.json", "id"]
        let env = ["SECCOMP_WARDEN_RUNTIME": runtime, "SECCOMP_WARDEN_AUDIT_LOG": dir + "/audit.log"]
        let enforced = try run(w, args, env: env.merging(["SECCOMP_WARDEN_POLICY": "builtin"]) { $1 })
        #expect(enforced.status == 1)
        #expect(!enforced.stdout.contains("ran"))
        #expect(enforced.stderr.contains("--config"), "\(enforced.stderr)")
        let audited = try run(w, args, env: env.merging(["SECCOMP_WARDEN_POLICY": dir + "/audit.json"]) { $1 })
        #expect(audited.status == 0, "\(audited.stderr)")
        #expect(audited.stdout == "ran " + args.joined(separator: " ") + "\n")
        let log = readText(dir + "/audit.log")
        #expect(log.contains("\"decision\":\"denied\""), "\(log)")
        #expect(log.contains("\"decision\":\"audit-only\""), "\(log)")
    }
}

@Test("the wrapper's name for itself: the last path component, as split(separator:) gave it", arguments: [
    "runc", "/usr/sbin/runc", "./seccomp-warden-crun", "a//b", "a/b/", "/", "//", "", "seccomp-warden-", "/x/seccomp-warden-runc/",
    "é/ü", "/usr/bin/seccomp-warden",
])
func wrapperBaseName(path: String) {
    #expect(Wrapper.baseName(path) == (path.split(separator: "/").last.map(String.init) ?? path))
}
