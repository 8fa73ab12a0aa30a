import WardenCore
import Foundation
import Testing
@testable import WardenHook

// Shared by both test targets (Tests/WardenTests/ArgvTable.swift is a link to this file): the unit
// target checks the parser against it, the integration target checks the real runc and crun.

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

