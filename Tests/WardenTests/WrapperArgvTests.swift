import Foundation
import Testing
@testable import WardenHook

/// What the wrapper must make of one command line.
enum ArgvExpect: Sendable, Equatable {
    /// Tighten this bundle (nil: the current working directory), then exec the runtime.
    case bundle(String?)
    /// Exec the runtime untouched (not a bundle command, or the runtime only prints help or its version).
    case pass
    /// Refuse; the reason contains this text.
    case refuse(String)
}

struct ArgvRow: Sendable, CustomTestStringConvertible {
    let runtime: String
    let args: [String]
    let expect: ArgvExpect
    var testDescription: String { "\(runtime) \(args.map { $0.isEmpty ? "''" : $0 }.joined(separator: " ")) → \(expect)" }
}

private func row(_ runtime: String, _ line: String, _ expect: ArgvExpect) -> ArgvRow {
    ArgvRow(runtime: runtime, args: line.split(separator: " ").map(String.init), expect: expect)
}

private func row(_ runtime: String, _ args: [String], _ expect: ArgvExpect) -> ArgvRow {
    ArgvRow(runtime: runtime, args: args, expect: expect)
}

/// Every spelling below is also run by the real runc and crun ("the table agrees with the real runc
/// and crun"): the bundle each one reads is seen in its own error for a folder that does not exist.
enum ArgvTable {
    static let runc: [ArgvRow] = [
        // Plain spellings, as engines send them.
        row("runc", "run id", .bundle(nil)),
        row("runc", "create --bundle /B id", .bundle("/B")),
        row("runc", "--root /R --log /L --log-format json create --bundle /B --pid-file /P id", .bundle("/B")),
        row("runc", "run -b rel/dir id", .bundle("rel/dir")),
        row("runc", "restore -b /W id", .bundle("/W")),
        row("runc", "restore --image-path /img --work-path /wp --tcp-established --bundle=/W id", .bundle("/W")),
        row("runc", "restore --lsm-profile apparmor:x --empty-ns network -b /W id", .bundle("/W")),
        // The issue's spellings: one dash for long flags, the long form of -b, a value that looks like a flag.
        row("runc", "-root /R run -b /W id", .bundle("/W")),
        row("runc", "run -bundle /W id", .bundle("/W")),
        row("runc", "run --pid-file -b --bundle /W id", .bundle("/W")),
        row("runc", "run -b -d id", .bundle("-d")),
        row("runc", "run --pid-file -- -b /W id", .bundle("/W")),
        // Every name takes - or --, = or a separate value.
        row("runc", "run --b /W id", .bundle("/W")),
        row("runc", "run --bundle=/W id", .bundle("/W")),
        row("runc", "run -b=/W id", .bundle("/W")),
        row("runc", "run -bundle=/W id", .bundle("/W")),
        row("runc", "run --b=/W id", .bundle("/W")),
        row("runc", "run -b /W=x id", .bundle("/W=x")),
        row("runc", "-log /L -log-format=json run id", .bundle(nil)),
        row("runc", "--rootless true --criu /c run -b /W id", .bundle("/W")),
        // Booleans: alone, or =true/false; they take no separate value.
        row("runc", "run -d -b /W id", .bundle("/W")),
        row("runc", "run -d=true -b /W id", .bundle("/W")),
        row("runc", "run --detach=false --keep=1 --bundle /W id", .bundle("/W")),
        row("runc", "--debug run -b /W id", .bundle("/W")),
        row("runc", "--systemd-cgroup=false run -b /W id", .bundle("/W")),
        // urfave moves a command's known flags before its arguments: options after the id count.
        row("runc", "run id -b /W", .bundle("/W")),
        row("runc", "run id --bundle=/W", .bundle("/W")),
        row("runc", "create id --pid-file /P -bundle /W", .bundle("/W")),
        // `--` ends options, wherever urfave puts it.
        row("runc", "run -b /W -- id", .bundle("/W")),
        row("runc", "run -- id", .bundle(nil)),
        row("runc", "run id --", .bundle(nil)),
        row("runc", "-- run -b /W id", .bundle("/W")),
        // Not a bundle command: exec'd at once, unread.
        row("runc", "state id", .pass),
        row("runc", "delete -f id", .pass),
        row("runc", "--root /R kill id KILL", .pass),
        row("runc", "start run", .pass),
        row("runc", "exec id run", .pass),
        row("runc", "--log run", .pass),
        row("runc", "--root run state x", .pass),
        row("runc", "--bogus state x", .pass),
        row("runc", "init", .pass),
        // runc prints help or its version and runs nothing.
        row("runc", "--help run -b /W id", .pass),
        row("runc", "-v run id", .pass),
        row("runc", "run --help", .pass),
        row("runc", "run -h -b /W id", .pass),
        row("runc", "run -b /W id --help", .pass),
        row("runc", "run --help=true id", .pass),
        row("runc", "run --help=false -b /W id", .bundle("/W")),
        // Refused: what runc would not take, or what the wrapper will not guess.
        row("runc", "run -db /W id", .refuse("flag provided but not defined: \"-db\"")),
        row("runc", "run -bd id", .refuse("flag provided but not defined: \"-bd\"")),
        row("runc", "run -b/W id", .refuse("flag provided but not defined")),
        row("runc", "run --bun /W id", .refuse("flag provided but not defined: \"--bun\"")),
        row("runc", "--roo /R run id", .refuse("runc global options: flag provided but not defined: \"--roo\"")),
        row("runc", "--bogus run id", .refuse("flag provided but not defined: \"--bogus\"")),
        row("runc", "run --config /W/other.json id", .refuse("flag provided but not defined: \"--config\"")),
        row("runc", "run -f /W/other.json id", .refuse("flag provided but not defined: \"-f\"")),
        row("runc", "run -b /A --bundle /B id", .refuse("two forms of the same flag")),
        row("runc", "run -bundle /A --b /B id", .refuse("two forms of the same flag")),
        row("runc", "run -b /A -b /B id", .refuse("the bundle is given 2 times")),
        row("runc", "run --bundle=/A --bundle /B id", .refuse("the bundle is given 2 times")),
        row("runc", "run -b /A id -b /B", .refuse("the bundle is given 2 times")),
        row("runc", ["run", "-b", "", "id"], .refuse("an empty bundle")),
        row("runc", "run --bundle= id", .refuse("an empty bundle")),
        row("runc", "run -b= id", .refuse("an empty bundle")),
        row("runc", "run -b", .refuse("flag needs an argument: -b")),
        row("runc", "--root", .pass),
        row("runc", "--log /L run --pid-file", .refuse("flag needs an argument: -pid-file")),
        row("runc", "run ---b /W id", .refuse("bad flag syntax: \"---b\"")),
        row("runc", "run --=x id", .refuse("bad flag syntax")),
        row("runc", "run -d=maybe -b /W id", .refuse("invalid boolean value \"maybe\" for -d")),
        row("runc", "run --help=maybe id", .refuse("invalid boolean value")),
        row("runc", "run", .refuse("0 positional arguments")),
        row("runc", "run id1 id2", .refuse("2 positional arguments")),
        row("runc", "run -d id -b /W", .refuse("3 positional arguments")),
        row("runc", "run -- -b /W id", .refuse("3 positional arguments")),
        row("runc", "run x -- -b /W id", .refuse("4 positional arguments")),
        row("runc", "run -d -- -b /W id", .refuse("3 positional arguments")),
        row("runc", "run --pid-file=/P -- id -b /W", .refuse("3 positional arguments")),
        // Global options belong before the subcommand; after it they are the command's (and unknown).
        row("runc", "run --root /R id", .refuse("flag provided but not defined: \"--root\"")),
        row("runc", "run --log /L id", .refuse("flag provided but not defined")),
        row("runc", "create --detach id", .refuse("flag provided but not defined: \"--detach\"")),
        // Attacks on the change itself.
        row("runc", "run -bundle= id", .refuse("an empty bundle")),
        row("runc", "run -d= id", .refuse("invalid boolean value \"\" for -d")),
        row("runc", "run —bundle /W id", .refuse("3 positional arguments")),
        row("runc", "run id -b", .refuse("0 positional arguments")),
        row("runc", "run -d id", .bundle(nil)),
        row("runc", "run id -d -b /W", .bundle("/W")),
        row("runc", "run -detach -b /W id", .bundle("/W")),
        row("runc", "run --pid-file /P /X -b /W id", .refuse("2 positional arguments")),
        row("runc", "run --bundle /W --pid-file=--bundle id", .bundle("/W")),
        row("runc", "run -b /W id --bundle=/X", .refuse("two forms of the same flag")),
        row("runc", "run -b /W id -b=/X", .refuse("the bundle is given 2 times")),
        row("runc", "--criu run create -b /W id", .bundle("/W")),
        row("runc", "--root /R run -b /W --root /X id", .refuse("flag provided but not defined: \"--root\"")),
    ]

    static let crun: [ArgvRow] = [
        row("crun", "run id", .bundle(nil)),
        row("crun", "create --bundle /B --pid-file /P id", .bundle("/B")),
        row("crun", "--root /R --log /L --log-format json create --bundle /B --pid-file /P id", .bundle("/B")),
        row("crun", "--cgroup-manager=disabled run -b rel id", .bundle("rel")),
        // Unambiguous long prefixes.
        row("crun", "--roo /R run --bund=/W id", .bundle("/W")),
        row("crun", "--r /R run --b /W id", .bundle("/W")),
        row("crun", "--rootl auto run --bu=/W id", .bundle("/W")),
        row("crun", "--c disabled run -b /W id", .bundle("/W")),
        row("crun", "--de --sys run -b /W id", .bundle("/W")),
        row("crun", "--log-f=json run -b /W id", .bundle("/W")),
        row("crun", "run --pi /P --pre 3 --no-p --no-n --no-s --cons /S -b /W id", .bundle("/W")),
        // Joined short options: -bDIR, -db DIR, -dbDIR; a value takes the rest of the argument.
        row("crun", "run -b/W id", .bundle("/W")),
        row("crun", "run -db /W id", .bundle("/W")),
        row("crun", "run -db/W id", .bundle("/W")),
        row("crun", "run -d -b/W id", .bundle("/W")),
        row("crun", "run -bd id", .bundle("d")),
        row("crun", "run -b=/W id", .bundle("=/W")),
        row("crun", "run -b -d id", .bundle("-d")),
        row("crun", "run --pid-file -b --bundle /W id", .bundle("/W")),
        row("crun", "run --pid-file=/P --bundle=/W id", .bundle("/W")),
        row("crun", "run --bundle -- id", .bundle("--")),
        // argp's hidden options still take their values.
        row("crun", "run --program-name=x -b /W id", .bundle("/W")),
        row("crun", "run --program-name -b /W id", .refuse("2 positional arguments")),
        row("crun", "run --pr x id", .refuse("ambiguous; possibilities: --preserve-fds --program-name")),
        row("crun", "run --HANG=0 -b /W id", .bundle("/W")),
        row("crun", "run --HANG -b /W id", .bundle("/W")),
        // `--` ends options.
        row("crun", "run -b /W -- id", .bundle("/W")),
        row("crun", "-- run -b /W id", .bundle("/W")),
        row("crun", "run -- -b", .bundle(nil)),
        // restore (crun built with CRIU) takes a second positional argument and ignores it.
        row("crun", "restore -b /W id", .bundle("/W")),
        row("crun", "restore --image-path /img -d --bundle=/W id extra", .bundle("/W")),
        row("crun", "restore --bun /W --work /wp id", .bundle("/W")),
        // Not a bundle command.
        row("crun", "state id", .pass),
        row("crun", "delete -f id", .pass),
        row("crun", "--root /R kill id KILL", .pass),
        row("crun", "--log run", .pass),
        row("crun", "--log-level=error state x", .pass),
        // crun prints help, usage or its version where argp meets it, and runs nothing.
        row("crun", "run --help", .pass),
        row("crun", "run --he -b /W id", .pass),
        row("crun", "run -b /W -? id", .pass),
        row("crun", "run -d? id", .pass),
        row("crun", "run --u id", .pass),
        row("crun", "--version run id", .pass),
        row("crun", "-V run id", .pass),
        row("crun", "-v run id", .pass),
        // --config / -f names another config file: refused, however it is spelled.
        row("crun", "--root /R run --config /W/other.json -b /W id", .refuse("--config")),
        row("crun", "run -f x.json id", .refuse("--config")),
        row("crun", "run -fx.json id", .refuse("--config")),
        row("crun", "run -df x.json id", .refuse("--config")),
        row("crun", "run --conf=x.json id", .refuse("--config")),
        row("crun", "create --config config.json id", .refuse("--config")),
        // Ambiguous prefixes, unknown options (crun 1.8.1 has no --keep, no --log-level).
        row("crun", "run --c /x id", .refuse("\"--c\" is ambiguous")),
        row("crun", "run --con x id", .refuse("is ambiguous; possibilities: --config --console-socket")),
        row("crun", "run --p x id", .refuse("is ambiguous")),
        row("crun", "run --n id", .refuse("is ambiguous")),
        row("crun", "run --no id", .refuse("is ambiguous")),
        row("crun", "--l /L run id", .refuse("crun global options: option \"--l\" is ambiguous")),
        row("crun", "--log- json run id", .bundle(nil)),
        row("crun", "run --=x id", .refuse("is ambiguous")),
        row("crun", "run --keep id", .refuse("unrecognized option \"--keep\"")),
        row("crun", "--log-level=error run id", .refuse("unrecognized option")),
        row("crun", "run -x id", .refuse("invalid option")),
        row("crun", "-root /R run id", .refuse("invalid option")),
        row("crun", "run -bundle /W id", .refuse("2 positional arguments")),
        row("crun", "run --detach=true id", .refuse("doesn't allow an argument")),
        row("crun", "--debug=1 run id", .refuse("doesn't allow an argument")),
        row("crun", "run -b", .refuse("requires an argument")),
        row("crun", "run --bundle", .refuse("requires an argument")),
        // Options after the id: crun stops at the id and takes one positional argument.
        row("crun", "run id -b /W", .refuse("3 positional arguments")),
        row("crun", "run id --", .refuse("2 positional arguments")),
        row("crun", "run", .refuse("0 positional arguments")),
        row("crun", "run id1 id2", .refuse("2 positional arguments")),
        row("crun", "restore id x -b /W", .refuse("4 positional arguments")),
        // A bundle named twice, or empty.
        row("crun", "run -b /A --bundle /B id", .refuse("the bundle is given 2 times")),
        row("crun", "run -b/A -b/B id", .refuse("the bundle is given 2 times")),
        row("crun", "run -db/A --bund=/B id", .refuse("the bundle is given 2 times")),
        row("crun", ["run", "-b", "", "id"], .refuse("an empty bundle")),
        row("crun", "run --bundle= id", .refuse("an empty bundle")),
        // Global options after the subcommand are the command's, and unknown to it.
        row("crun", "run --root /R id", .refuse("unrecognized option \"--root\"")),
        row("crun", "run --cgroup-manager=disabled id", .refuse("unrecognized option")),
        // Attacks on the change itself.
        row("crun", "run -b= id", .bundle("=")),
        row("crun", "run —bundle /W id", .refuse("3 positional arguments")),
        row("crun", "run -d-b/W id", .refuse("invalid option")),
        row("crun", "run --debug id", .refuse("unrecognized option \"--debug\"")),
        row("crun", "run --de id", .bundle(nil)),
        row("crun", "run -?b /W id", .pass),
        row("crun", "--root run create -b /W id", .bundle("/W")),
        row("crun", "run --pid-file=--bundle=/X -b /W id", .bundle("/W")),
        row("crun", "run -b /W id --bundle=/X", .refuse("2 positional arguments")),
        row("crun", "run --bundle=/a=b id", .bundle("/a=b")),
    ]

    static let other: [ArgvRow] = [
        row("youki", "run id", .refuse("no command-line table for the runtime \"youki\"")),
        row("youki", "state id", .pass),
    ]
}

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

    @Test("a refused command line never reaches the runtime; an audit-mode policy logs it and runs the runtime unchanged")
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

/// One row of the real-runtime table: the arguments after the wrapper's name, with B (the bundle the
/// current folder is), W (another bundle) and R (a state root) filled in.
struct RealArgvRow: Sendable, CustomTestStringConvertible {
    let runtime: String
    let line: String
    /// true: the container must run filtered; false: the wrapper must refuse before the runtime runs.
    let runs: Bool
    var testDescription: String { "\(runtime) \(line) → \(runs ? "Seccomp: 2" : "refused")" }
}

/// The wrapper link in front of the real runc and crun, with bundles that have no seccomp section.
@Suite("Wrapper argv through real runtimes", .serialized)
struct WrapperArgvRuntimeTests {
    static let rows: [RealArgvRow] = [
        // Positive controls: plain spellings run, filtered.
        RealArgvRow(runtime: "runc", line: "run ID", runs: true),
        RealArgvRow(runtime: "runc", line: "--root R run --bundle W ID", runs: true),
        RealArgvRow(runtime: "runc", line: "-root R run -b W ID", runs: true),
        RealArgvRow(runtime: "runc", line: "--root R run -bundle W ID", runs: true),
        RealArgvRow(runtime: "runc", line: "--root R run --pid-file -b --bundle W ID", runs: true),
        RealArgvRow(runtime: "runc", line: "--root R run --b=W ID", runs: true),
        RealArgvRow(runtime: "runc", line: "--root R run ID -b W", runs: true),
        RealArgvRow(runtime: "runc", line: "--root R run -d=false -bundle=W -- ID", runs: true),
        RealArgvRow(runtime: "runc", line: "--root R run -b W --bundle B ID", runs: false),
        RealArgvRow(runtime: "runc", line: "--root R run -b B -b W ID", runs: false),
        RealArgvRow(runtime: "runc", line: "--root R run -db W ID", runs: false),
        RealArgvRow(runtime: "crun", line: "run ID", runs: true),
        RealArgvRow(runtime: "crun", line: "--root R run -b W ID", runs: true),
        RealArgvRow(runtime: "crun", line: "--roo R run --bund=W ID", runs: true),
        RealArgvRow(runtime: "crun", line: "--root R run -bW ID", runs: true),
        RealArgvRow(runtime: "crun", line: "--root R run --pid-file -b --bundle W ID", runs: true),
        RealArgvRow(runtime: "crun", line: "--root R run --no-new-keyring --b W -- ID", runs: true),
        RealArgvRow(runtime: "crun", line: "--root R run --config W/config.json -b W ID", runs: false),
        RealArgvRow(runtime: "crun", line: "--root R run -f W/config.json ID", runs: false),
        RealArgvRow(runtime: "crun", line: "--root R run --con W ID", runs: false),
        RealArgvRow(runtime: "crun", line: "--root R run -b B --bundle W ID", runs: false),
        RealArgvRow(runtime: "crun", line: "--root R run ID -b W", runs: false),
    ]

    /// A bundle with no seccomp section and the probe as its process, over the row's one rootfs.
    func freshBundle(_ path: String, rootfs: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        var cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Repo.sample("no-seccomp") + "/config.json"))) as! [String: Any]
        var linux = cfg["linux"] as? [String: Any] ?? [:]
        linux.removeValue(forKey: "resources")
        #expect(linux["seccomp"] == nil)
        cfg["linux"] = linux
        var process = cfg["process"] as! [String: Any]
        process["args"] = ["/bin/probe", "status"]
        process["terminal"] = false
        cfg["process"] = process
        cfg["root"] = ["path": rootfs, "readonly": false]
        try JSONSerialization.data(withJSONObject: cfg, options: [.prettyPrinted]).write(to: URL(fileURLWithPath: path + "/config.json"))
    }

    /// Paths in the table (`/W`, `--bundle=/W`, `-b/W`) moved under `dir`, so the real runtime never touches the host's.
    static func relocate(_ s: String, _ dir: String) -> String {
        if s.hasPrefix("/") { return dir + s }
        if s.hasPrefix("-b/") { return "-b" + dir + s.dropFirst(2) }
        if s.hasPrefix("-db/") { return "-db" + dir + s.dropFirst(3) }
        if let r = s.range(of: "=/") { return s.replacingCharacters(in: r, with: "=" + dir + "/") }
        return s
    }

    /// The table is the runtime's grammar, not a guess at it: every row, run by the real runtime
    /// against folders that do not exist, shows it reading the bundle the row names (its chdir or
    /// realpath error), the current folder (config.json not found), or stopping before any bundle.
    @Test("the table agrees with the real runc and crun", arguments: ArgvTable.runc + ArgvTable.crun)
    func tableAgrees(row: ArgvRow) throws {
        // `runc init` is runc's own container init; `--HANG` alone makes crun sleep an hour.
        if row.args == ["init"] || row.args.contains("--HANG") { return }
        let dir = try tempDir("argv-agree")
        defer { cleanup(dir) }
        try FileManager.default.createDirectory(atPath: dir + "/cwd", withIntermediateDirectories: true)
        let args = row.args.map { Self.relocate($0, dir) }
        let r = try run("/usr/bin/env", [row.runtime] + args, cwd: dir + "/cwd")
        let out = r.stdout + r.stderr
        // Debian's crun 1.8.1 is built without CRIU: no restore to compare with.
        if out.contains("unknown command restore") { return }
        // The runtime's own words when it goes for a bundle (its help text also names config.json).
        let readBundle = ["chdir ", "realpath `", "JSON specification file", "load `"].contains { out.contains($0) }
        switch row.expect {
        case .bundle(let b?):
            let p = Self.relocate(b, dir)
            let seen = row.runtime == "runc" ? "chdir \(p): no such file or directory"
                : p.hasPrefix("/") ? "chdir `\(p)` failed" : "realpath `\(p)` failed"
            #expect(out.contains(seen), "\(out)")
        case .bundle(nil):
            #expect(out.contains(row.runtime == "runc" ? "JSON specification file config.json not found" : "load `config.json`: cannot read the file"), "\(out)")
        case .pass:
            #expect(!readBundle, "\(out)")
        case .refuse(let reason):
            // The wrapper's own refusals (a second bundle, --config, an empty bundle) are spellings the
            // runtime takes; every other refusal is one the runtime makes too, before reading a bundle.
            let ours = ["given 2 times", "--config", "empty bundle"].contains { reason.contains($0) }
            if !ours {
                #expect(r.status != 0, "\(out)")
                #expect(!readBundle, "\(out)")
            }
        }
    }

    @Test("control: the same bundle run by the real runtime without the wrapper shows Seccomp 0", arguments: ["runc", "crun"])
    func unfilteredControl(runtime: String) throws {
        let dir = try tempDir("argv-ctl")
        defer { cleanup(dir) }
        _ = try sh("source \(Repo.root)/Tests/support/runtime.sh\nmake_rootfs \(dir)/rootfs >/dev/null")
        try freshBundle(dir + "/B", rootfs: dir + "/rootfs")
        let r = try sh("source \(Repo.root)/Tests/support/runtime.sh\nrun_in \(runtime) \(dir)/B warden-argv-ctl-\(runtime)-\(UInt32.random(in: 0...UInt32.max))")
        #expect(r.stdout.contains("Seccomp:\t0"), "\(r.stdout) \(r.stderr)")
    }

    @Test("a spelling through the wrapper and the real runtime: Seccomp 2 inside, or refused; never Seccomp 0", arguments: rows)
    func realRuntime(row: RealArgvRow) throws {
        let dir = try tempDir("argv-rt")
        defer { cleanup(dir) }
        // Fresh bundles for every row: a config.json tightened by an earlier row would hide a miss.
        _ = try sh("source \(Repo.root)/Tests/support/runtime.sh\nmake_rootfs \(dir)/rootfs >/dev/null")
        try freshBundle(dir + "/B", rootfs: dir + "/rootfs")
        try freshBundle(dir + "/W", rootfs: dir + "/rootfs")
        let link = dir + "/seccomp-warden-\(row.runtime)"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: Repo.binary)
        let id = "warden-argv-\(row.runtime)-\(UInt32.random(in: 0...UInt32.max))"
        let line = row.line.split(separator: " ").map { word -> String in
            var w = String(word)
            for (k, v) in [("ID", id), ("R", dir + "/root")] where w == k { w = v }
            // Bundle names stand alone or follow `=` / a joined short option.
            if w == "B" || w == "W" { return dir + "/" + w }
            if w.hasSuffix("=B") || w.hasSuffix("=W") { return String(w.dropLast()) + dir + "/" + String(w.last!) }
            if w == "-bW" || w == "-bB" { return "-b" + dir + "/" + String(w.last!) }
            if w.hasPrefix("W/") || w.hasPrefix("B/") { return dir + "/" + w }
            return w
        }
        let quoted = line.map { "'\($0)'" }.joined(separator: " ")
        let wrap = row.runtime == "crun"
            ? "unshare -m --propagation private sh -c 'umount -l /sys/fs/cgroup 2>/dev/null; mount -t cgroup2 none /sys/fs/cgroup && exec \"$0\" \"$@\"' \(link) --cgroup-manager=disabled"
            : link
        let r = try sh("""
            export SECCOMP_WARDEN_POLICY=builtin SECCOMP_WARDEN_AUDIT_LOG=\(dir)/audit.log SECCOMP_WARDEN_RUNTIME=$(command -v \(row.runtime))
            cd \(dir)/B && \(wrap) \(quoted) </dev/null
            """)
        _ = try? sh("runc --root \(dir)/root delete -f \(id) >/dev/null 2>&1; runc delete -f \(id) >/dev/null 2>&1; true")
        #expect(!r.stdout.contains("Seccomp:\t0"), "UNFILTERED: \(r.stdout) \(r.stderr)")
        if row.runs {
            #expect(r.stdout.contains("Seccomp:\t2"), "\(r.status) \(r.stdout) \(r.stderr)")
        } else {
            #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
            #expect(r.stderr.contains("seccomp-warden: cannot read the command line"), "\(r.stderr)")
            #expect(!r.stdout.contains("Seccomp:"), "\(r.stdout)")
        }
    }
}
