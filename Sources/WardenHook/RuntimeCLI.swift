import WardenCore
/// The command lines of the runtimes the wrapper stands in front of, read as each runtime reads them.
///
/// The wrapper decides which `config.json` to tighten from the runtime's argv, so it must find the
/// subcommand and the bundle exactly where the runtime will: a loose reading lets a caller hand the
/// runtime one bundle while the wrapper tightens another. Each runtime has one table here (every
/// option of every command the bundle matters to, with whether it takes a value) and one reader for
/// its parsing library. An argument the reader cannot place exactly is a refusal, never a guess.
///
/// Checked against runc 1.1.5 (urfave/cli 1.22.9 over Go's `flag`) and crun 1.8.1 (glibc argp over
/// `getopt_long`), their `--help` and their sources. An option a later version adds is unknown here
/// and refused (fail closed) until its row is added. No Foundation: this is on every container's path.
public enum RuntimeCLI {
    /// How an option's value is given.
    public enum Arity: Sendable {
        /// A switch. runc also takes `--flag=true|false`; crun refuses any `=value`.
        case none
        /// `--opt value` (the next argument, whatever it looks like) or `--opt=value`.
        case required
        /// argp's optional value: only `--opt=value` (or `-oVALUE`); never the next argument.
        case optional
    }

    /// What an option means to the wrapper; everything else the runtime does with it is its own business.
    public enum Role: Sendable {
        case bundle, config, log, logFormat
        /// help, usage, version: the runtime prints and exits, no container is made.
        case informational
        case other
    }

    public struct Option: Sendable {
        /// Long names. For runc every name (`bundle`, `b`) takes `-` or `--` alike.
        public let names: [String]
        /// crun's short option character (`-b`), if any.
        public let short: UInt8?
        public let arity: Arity
        public let role: Role
        /// getopt_long's identity for the option: two long names with the same key are one option,
        /// so a prefix of both is not ambiguous (crun 1.8.1 declares `--rootless` with `--root`'s key).
        public let key: String

        init(_ names: [String], short: Character? = nil, _ arity: Arity, _ role: Role = .other, key: String? = nil) {
            self.names = names
            self.short = short.map { $0.asciiValue! }
            self.arity = arity
            self.role = role
            self.key = key ?? names.first ?? String(short!)
        }
    }

    public struct Command: Sendable {
        public let name: String
        public let options: [Option]
        /// How many positional arguments the runtime takes (the container id first).
        public let positionals: ClosedRange<Int>
    }

    public enum Library: Sendable {
        /// urfave/cli v1 (runc): Go's `flag` package, `-x` and `--x` alike for every name, `=value` or
        /// the next argument, booleans take `=true|false`, `--` ends options, no joined short options,
        /// no prefixes; a command's known flags are moved before its positional arguments first
        /// (urfave's `reorderArgs`: runc's create, run and restore do not set `SkipArgReorder`).
        case urfave
        /// GNU argp (crun): `getopt_long` in order (`ARGP_IN_ORDER`), unambiguous long prefixes,
        /// `--opt=value` or `--opt value`, joined short options (`-db DIR`, `-bDIR`), argp's own
        /// `--help`/`-?`, `--usage`, hidden `--program-name=NAME` and `--HANG[=SECS]`, parsing stops at
        /// the first positional argument.
        case argp
    }

    public struct Grammar: Sendable {
        public let runtime: String
        public let library: Library
        public let global: [Option]
        /// The commands that read a bundle's config.json: the only ones the wrapper must understand.
        public let commands: [Command]

        func command(_ name: [UInt8]) -> Command? { commands.first { same($0.name, name) } }
    }

    /// The subcommands that read `<bundle>/config.json` and start a container's process.
    public static let bundleCommands: Set<String> = ["create", "run", "restore"]

    /// The table for a runtime named by the wrapper's argv[0], if there is one.
    public static func grammar(for runtime: String) -> Grammar? {
        switch runtime {
        case "runc": return runc
        case "crun": return crun
        default: return nil
        }
    }

    // MARK: runc 1.1.5 (`runc --help`, `runc create|run|restore --help`)

    /// urfave/cli adds `--help, -h` to every command and `--help, -h`, `--version, -v` to the app.
    static let urfaveHelp = Option(["help", "h"], .none, .informational)

    public static let runc = Grammar(
        runtime: "runc", library: .urfave,
        global: [
            Option(["debug"], .none),
            Option(["log"], .required, .log),
            Option(["log-format"], .required, .logFormat),
            Option(["root"], .required),
            Option(["criu"], .required),
            Option(["systemd-cgroup"], .none),
            Option(["rootless"], .required),
            urfaveHelp,
            Option(["version", "v"], .none, .informational),
        ],
        commands: [
            Command(name: "create", options: [
                Option(["bundle", "b"], .required, .bundle),
                Option(["console-socket"], .required),
                Option(["pid-file"], .required),
                Option(["no-pivot"], .none),
                Option(["no-new-keyring"], .none),
                Option(["preserve-fds"], .required),
                urfaveHelp,
            ], positionals: 1...1),
            Command(name: "run", options: [
                Option(["bundle", "b"], .required, .bundle),
                Option(["console-socket"], .required),
                Option(["detach", "d"], .none),
                Option(["keep"], .none),
                Option(["pid-file"], .required),
                Option(["no-subreaper"], .none),
                Option(["no-pivot"], .none),
                Option(["no-new-keyring"], .none),
                Option(["preserve-fds"], .required),
                urfaveHelp,
            ], positionals: 1...1),
            Command(name: "restore", options: [
                Option(["console-socket"], .required),
                Option(["image-path"], .required),
                Option(["work-path"], .required),
                Option(["tcp-established"], .none),
                Option(["ext-unix-sk"], .none),
                Option(["shell-job"], .none),
                Option(["file-locks"], .none),
                Option(["manage-cgroups-mode"], .required),
                Option(["bundle", "b"], .required, .bundle),
                Option(["detach", "d"], .none),
                Option(["pid-file"], .required),
                Option(["no-subreaper"], .none),
                Option(["no-pivot"], .none),
                Option(["empty-ns"], .required),
                Option(["auto-dedup"], .none),
                Option(["lazy-pages"], .none),
                Option(["lsm-profile"], .required),
                Option(["lsm-mount-context"], .required),
                urfaveHelp,
            ], positionals: 1...1),
        ])

    // MARK: crun 1.8.1 (`crun --help`, `crun create|run --help`, src/crun.c, create.c, run.c, restore.c)

    /// What argp adds to every parser (glibc `argp_default_options`): `--help`/`-?`, `--usage`, and two
    /// hidden ones that still take part in prefix matching.
    static let argpDefaults: [Option] = [
        Option(["help"], short: "?", .none, .informational),
        Option(["usage"], .none, .informational),
        Option(["program-name"], .required),
        Option(["HANG"], .optional),
    ]

    public static let crun = Grammar(
        runtime: "crun", library: .argp,
        global: [
            Option(["debug"], .none),
            Option(["cgroup-manager"], .required),
            Option(["systemd-cgroup"], .none),
            Option(["log"], .required, .log),
            Option(["log-format"], .required, .logFormat),
            Option(["root"], .required),
            // crun 1.8.1: `{ "rootless", OPTION_ROOT, "VALUE" }`: the same key as --root, so `--roo` is
            // not ambiguous (checked: `crun --r X list` works, `crun --l X` is ambiguous).
            Option(["rootless"], .required, key: "root"),
            Option(["version"], short: "v", .none, .informational),
            Option([], short: "V", .none, .informational, key: "version"),
        ] + argpDefaults,
        commands: [
            Command(name: "create", options: [
                Option(["bundle"], short: "b", .required, .bundle),
                Option(["config"], short: "f", .required, .config),
                Option(["console-socket"], .required),
                Option(["preserve-fds"], .required),
                Option(["no-pivot"], .none),
                Option(["pid-file"], .required),
                Option(["no-subreaper"], .none),
                Option(["no-new-keyring"], .none),
            ] + argpDefaults, positionals: 1...1),
            Command(name: "run", options: [
                Option(["bundle"], short: "b", .required, .bundle),
                Option(["config"], short: "f", .required, .config),
                Option(["detach"], short: "d", .none),
                Option(["console-socket"], .required),
                Option(["preserve-fds"], .required),
                Option(["pid-file"], .required),
                Option(["no-subreaper"], .none),
                Option(["no-new-keyring"], .none),
                Option(["no-pivot"], .none),
            ] + argpDefaults, positionals: 1...1),
            // Only in crun builds with CRIU (Debian's 1.8.1 has none: "unknown command restore").
            // `crun_assert_n_args (argc - first_arg, 1, 2)`: a second positional is taken and ignored.
            Command(name: "restore", options: [
                Option(["bundle"], short: "b", .required, .bundle),
                Option(["image-path"], .required),
                Option(["work-path"], .required),
                Option(["tcp-established"], .none),
                Option(["ext-unix-sk"], .none),
                Option(["shell-job"], .none),
                Option(["detach"], short: "d", .none),
                Option(["pid-file"], .required),
                Option(["console-socket"], .required),
                Option(["file-locks"], .none),
                Option(["manage-cgroups-mode"], .required),
            ] + argpDefaults, positionals: 1...2),
        ])

    // MARK: The result

    public struct Invocation: Equatable, Sendable {
        public enum Action: Equatable, Sendable {
            /// Exec the runtime untouched: not a bundle command, or the runtime will only print help,
            /// usage or its version.
            case passThrough
            /// Tighten this bundle's config.json first (nil: the current working directory).
            case tighten(bundle: String?)
            /// Do not run the runtime: the reason, for stderr and the runtime's log.
            case refuse(String)
        }
        public var action: Action
        public var subcommand: String? = nil
        public var containerID: String? = nil
        /// The runtime's `--log` as a file path (nil: none, or not a file: crun's `journald:`/`syslog:`).
        public var log: String? = nil
        public var logFormat: String? = nil
    }

    /// Reads `args` (argv without argv[0]) as `runtime` would.
    public static func parse(_ args: [String], runtime: String) -> Invocation {
        parse(bytes: args.map { Array($0.utf8) }, runtime: runtime)
    }

    /// Reads argv (without argv[0]) byte for byte, as the kernel gave it to the wrapper.
    public static func parse(bytes args: [[UInt8]], runtime: String) -> Invocation {
        // The runtimes pick a subcommand by its exact name (urfave's `Command(name)`, crun's strcmp),
        // and always from a whole argument: when no argument is a bundle command's name, the runtime
        // cannot create a container, whatever else the line says. Everything else goes through as it is,
        // unread, so an option this table does not know never blocks `state`, `kill` or `delete`.
        guard args.contains(where: { a in bundleCommands.contains { same($0, a) } }) else { return Invocation(action: .passThrough) }
        guard let grammar = grammar(for: runtime) else {
            return Invocation(action: .refuse("no command-line table for the runtime \"\(runtime)\": cannot tell which bundle it would read"))
        }
        // A path that is not UTF-8 cannot be named by a Swift String: the wrapper would tighten a
        // different file than the runtime reads.
        if let bad = args.first(where: { String(validating: $0, as: UTF8.self) == nil }) {
            return Invocation(action: .refuse("an argument is not valid UTF-8: \(quoted(String(decoding: bad, as: UTF8.self)))"))
        }
        return Reader(grammar: grammar).read(args)
    }

    /// One option as the runtime saw it.
    struct Seen {
        let option: Option
        /// The name as spelled (urfave: after the dashes, before `=`; argp: the long name or the short letter).
        let name: String
        let value: String?
    }

    /// A parse that stopped: where, and the rest of the arguments.
    struct Parsed {
        var seen: [Seen] = []
        var rest: [[UInt8]] = []
        /// argp: an informational option was met, and argp exits there.
        var exitedEarly = false
    }

    struct Failure: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    struct Reader {
        let grammar: Grammar

        func read(_ args: [[UInt8]]) -> Invocation {
            var inv = Invocation(action: .passThrough)
            let global: Parsed
            do {
                global = try parse(args, grammar.global, reorder: false)
            } catch {
                inv.action = .refuse("\(grammar.runtime) global options: \(error.message)")
                return inv
            }
            for s in global.seen {
                switch s.option.role {
                case .log: inv.log = s.value.flatMap(logFile)
                case .logFormat: inv.logFormat = s.value
                default: break
                }
            }
            if global.exitedEarly || informational(global.seen) { return inv }
            guard let first = global.rest.first else { return inv }
            let name = String(decoding: first, as: UTF8.self)
            inv.subcommand = name
            guard let command = grammar.command(first) else { return inv }

            let parsed: Parsed
            do {
                parsed = try parse(Array(global.rest.dropFirst()), command.options, reorder: grammar.library == .urfave)
            } catch {
                inv.action = .refuse("\(grammar.runtime) \(name): \(error.message)")
                return inv
            }
            if parsed.exitedEarly || informational(parsed.seen) { return inv }
            inv.containerID = parsed.rest.first.map { String(decoding: $0, as: UTF8.self) }
            guard command.positionals.contains(parsed.rest.count) else {
                let wanted = command.positionals.count == 1 ? "exactly \(command.positionals.lowerBound)" : "\(command.positionals.lowerBound) to \(command.positionals.upperBound)"
                inv.action = .refuse("\(grammar.runtime) \(name): \(parsed.rest.count) positional arguments where it takes \(wanted) (the container id)")
                return inv
            }
            // crun reads `--config FILE` instead of <bundle>/config.json, relative to the caller's
            // folder, not the bundle. The wrapper refuses it rather than tighten a file the caller
            // names anywhere on the host: no engine passes it (containerd, CRI-O, conmon name the bundle),
            // and a tightened copy could not be proved to be the file crun then reads.
            if let config = parsed.seen.first(where: { $0.option.role == .config }) {
                inv.action = .refuse("\(grammar.runtime) \(name): --config (\(spelling(config))) names a config file other than <bundle>/config.json; the wrapper refuses it")
                return inv
            }
            let bundles = parsed.seen.filter { $0.option.role == .bundle }
            // Which of two bundles a runtime takes depends on the spelling (runc: an error when -b and
            // --bundle are mixed, the last one otherwise; crun: the last one): refused, not guessed.
            if bundles.count > 1 {
                inv.action = .refuse("\(grammar.runtime) \(name): the bundle is given \(bundles.count) times (\(bundles.map(spelling).joined(separator: ", ")))")
                return inv
            }
            if let b = bundles.first {
                // runc reads an empty bundle as the current folder, crun fails on it: refused either way.
                guard let value = b.value, !value.isEmpty else {
                    inv.action = .refuse("\(grammar.runtime) \(name): an empty bundle (\(spelling(b)))")
                    return inv
                }
                inv.action = .tighten(bundle: value)
            } else {
                inv.action = .tighten(bundle: nil)
            }
            return inv
        }

        func spelling(_ s: Seen) -> String {
            let dashes = s.name.utf8.count == 1 ? "-" : "--"
            return dashes + s.name + (s.value.map { " " + quoted($0) } ?? "")
        }

        /// runc prints help or its version instead of running the command (urfave's `checkHelp`,
        /// `checkCommandHelp`, `checkVersion`, after a parse without errors).
        func informational(_ seen: [Seen]) -> Bool {
            // The last spelling of a switch is its value (`--help --help=false`).
            var on: [String: Bool] = [:]
            for s in seen where s.option.role == .informational {
                on[s.option.key] = s.value.map { RuntimeCLI.goBool($0) == true } ?? true
            }
            return on.values.contains(true)
        }

        /// The runtime's `--log` value as a file the wrapper can append its refusal to.
        func logFile(_ value: String) -> String? {
            if value.isEmpty { return nil }
            switch grammar.library {
            case .urfave: return value
            case .argp:
                // crun: `[file:]PATH`, `journald:ID`, `syslog:ID`; any other `x:` is an error to crun.
                let bytes = Array(value.utf8)
                guard bytes.contains(UInt8(ascii: ":")) else { return value }
                guard bytes.starts(with: "file:".utf8) else { return nil }
                let path = String(decoding: bytes.dropFirst(5), as: UTF8.self)
                return path.isEmpty ? nil : path
            }
        }

        func parse(_ args: [[UInt8]], _ options: [Option], reorder: Bool) throws(Failure) -> Parsed {
            switch grammar.library {
            case .urfave:
                let parsed = try RuntimeCLI.goFlagParse(reorder ? RuntimeCLI.reorderArgs(args, options) : args, options)
                try RuntimeCLI.normalizeFlags(parsed.seen)
                return parsed
            case .argp:
                return try RuntimeCLI.getoptParse(args, options)
            }
        }
    }

    // MARK: urfave/cli v1 over Go's flag package

    /// Go's `strconv.ParseBool`.
    static func goBool(_ s: String) -> Bool? {
        switch s {
        case "1", "t", "T", "TRUE", "true", "True": return true
        case "0", "f", "F", "FALSE", "false", "False": return false
        default: return nil
        }
    }

    /// urfave's `argIsFlag`: the known flag names, after stripping the dashes as it does
    /// (`strings.Replace(arg, "-", "", 2)` for `--`, then one more for `-`) and cutting at `=`.
    static func argIsFlag(_ options: [Option], _ arg: [UInt8]) -> Bool {
        let dash = UInt8(ascii: "-")
        if arg == [dash] || arg == [dash, dash] { return false }
        guard arg.first == dash else { return false }
        var a = ArraySlice(arg)
        if a.starts(with: [dash, dash]) { a = a.dropFirst(2) }
        if a.first == dash { a = a.dropFirst(1) }
        let name = a.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false).first ?? []
        return options.contains { $0.names.contains { same($0, name) } }
    }

    /// urfave's `reorderArgs`: a command's known flags (and the argument after each one without `=`,
    /// unless that is a flag too) move before everything else; `--` and what follows go last.
    static func reorderArgs(_ args: [[UInt8]], _ options: [Option]) -> [[UInt8]] {
        var remaining: [[UInt8]] = [], reordered: [[UInt8]] = []
        var nextMayBeValue = false
        let endOfOptions: [UInt8] = Array("--".utf8)
        for (i, arg) in args.enumerated() {
            if nextMayBeValue && !argIsFlag(options, arg) {
                nextMayBeValue = false
                reordered.append(arg)
            } else if arg == endOfOptions {
                remaining = [endOfOptions] + remaining + args[(i + 1)...]
                break
            } else if argIsFlag(options, arg) {
                reordered.append(arg)
                nextMayBeValue = !arg.contains(UInt8(ascii: "="))
            } else {
                remaining.append(arg)
            }
        }
        return reordered + remaining
    }

    /// Go's `flag.FlagSet.Parse`: flags until the first non-flag or `--`.
    static func goFlagParse(_ args: [[UInt8]], _ options: [Option]) throws(Failure) -> Parsed {
        let dash = UInt8(ascii: "-"), equals = UInt8(ascii: "=")
        var parsed = Parsed()
        var i = 0
        while i < args.count {
            let s = args[i]
            if s.count < 2 || s[0] != dash { break }
            var minuses = 1
            if s[1] == dash {
                minuses = 2
                if s.count == 2 { i += 1; break }
            }
            let text = String(decoding: s, as: UTF8.self)
            var name = Array(s[minuses...])
            if name.isEmpty || name[0] == dash || name[0] == equals { throw Failure("bad flag syntax: \(quoted(text))") }
            i += 1
            var value: [UInt8]? = nil
            if let eq = name.dropFirst().firstIndex(of: equals) {
                value = Array(name[(eq + 1)...])
                name = Array(name[..<eq])
            }
            let n = String(decoding: name, as: UTF8.self)
            guard let option = options.first(where: { $0.names.contains { same($0, name) } }) else {
                throw Failure("flag provided but not defined: \(quoted(text))")
            }
            switch option.arity {
            case .none:
                if let value {
                    let v = String(decoding: value, as: UTF8.self)
                    guard goBool(v) != nil else { throw Failure("invalid boolean value \(quoted(v)) for -\(n)") }
                    parsed.seen.append(Seen(option: option, name: n, value: v))
                } else {
                    parsed.seen.append(Seen(option: option, name: n, value: nil))
                }
            case .required, .optional:
                if value == nil {
                    guard i < args.count else { throw Failure("flag needs an argument: -\(n)") }
                    value = args[i]
                    i += 1
                }
                parsed.seen.append(Seen(option: option, name: n, value: String(decoding: value!, as: UTF8.self)))
            }
        }
        parsed.rest = Array(args[i...])
        return parsed
    }

    /// urfave's `normalizeFlags`: two names of one flag on one line (`-b X --bundle Y`) is an error.
    static func normalizeFlags(_ seen: [Seen]) throws(Failure) {
        var names: [String: Set<String>] = [:]
        for s in seen { names[s.option.key, default: []].insert(s.name) }
        for (_, used) in names where used.count > 1 {
            throw Failure("cannot use two forms of the same flag: \(used.sorted().map { "-" + $0 }.joined(separator: " "))")
        }
    }

    // MARK: GNU argp over getopt_long, ARGP_IN_ORDER

    /// glibc's `getopt_long` as argp drives it for crun: options in order until the first positional
    /// (or after `--`); argp exits at once on an informational option.
    static func getoptParse(_ args: [[UInt8]], _ options: [Option]) throws(Failure) -> Parsed {
        let dash = UInt8(ascii: "-"), equals = UInt8(ascii: "=")
        var parsed = Parsed()
        var i = 0
        func record(_ option: Option, _ name: String, _ value: [UInt8]?) {
            parsed.seen.append(Seen(option: option, name: name, value: value.map { String(decoding: $0, as: UTF8.self) }))
            if option.role == .informational { parsed.exitedEarly = true }
        }
        while i < args.count && !parsed.exitedEarly {
            let s = args[i]
            if s == [dash, dash] { i += 1; break }
            if s.count > 2 && s[0] == dash && s[1] == dash {
                // A long option: an exact name, else the one option every name with this prefix belongs to.
                let body = s[2...]
                let eq = body.firstIndex(of: equals)
                let nameBytes = Array(body[..<(eq ?? body.endIndex)])
                let name = String(decoding: nameBytes, as: UTF8.self)
                let text = String(decoding: s, as: UTF8.self)
                var option = options.first { $0.names.contains { same($0, nameBytes) } }
                var canonical = name
                if option == nil {
                    var keys: [String] = []
                    var candidates: [String] = []
                    for o in options {
                        for n in o.names where n.utf8.starts(with: nameBytes) {
                            candidates.append("--" + n)
                            if !keys.contains(o.key) { keys.append(o.key) }
                            if option == nil { option = o; canonical = n }
                        }
                    }
                    if keys.count > 1 { throw Failure("option \(quoted(text)) is ambiguous; possibilities: \(candidates.joined(separator: " "))") }
                }
                guard let option else { throw Failure("unrecognized option \(quoted(text))") }
                i += 1
                var value: [UInt8]? = eq.map { Array(body[($0 + 1)...]) }
                switch option.arity {
                case .none:
                    if value != nil { throw Failure("option \(quoted("--" + canonical)) doesn't allow an argument") }
                case .required:
                    if value == nil {
                        guard i < args.count else { throw Failure("option \(quoted("--" + canonical)) requires an argument") }
                        value = args[i]
                        i += 1
                    }
                case .optional: break
                }
                record(option, canonical, value)
            } else if s.count >= 2 && s[0] == dash {
                // Short options, joined: `-db DIR`, `-bDIR`; a value takes the rest of the argument or the next one.
                i += 1
                var j = 1
                cluster: while j < s.count && !parsed.exitedEarly {
                    let c = s[j]
                    guard let option = options.first(where: { $0.short == c }) else {
                        throw Failure("invalid option -- \(quoted(String(decoding: [c], as: UTF8.self))) in \(quoted(String(decoding: s, as: UTF8.self)))")
                    }
                    let letter = String(decoding: [c], as: UTF8.self)
                    let rest = Array(s[(j + 1)...])
                    switch option.arity {
                    case .none:
                        record(option, letter, nil)
                        j += 1
                        continue
                    case .required:
                        if !rest.isEmpty {
                            record(option, letter, rest)
                        } else {
                            guard i < args.count else { throw Failure("option requires an argument -- \(quoted(letter))") }
                            record(option, letter, args[i])
                            i += 1
                        }
                    case .optional:
                        record(option, letter, rest.isEmpty ? nil : rest)
                    }
                    break cluster
                }
            } else {
                break
            }
        }
        parsed.rest = Array(args[i...])
        return parsed
    }

    /// Byte equality: Swift's `==` on String is canonical equivalence, the runtimes compare bytes.
    static func same<S: Sequence<UInt8>>(_ name: String, _ bytes: S) -> Bool {
        name.utf8.elementsEqual(bytes)
    }

    /// A value as it goes into a message: in double quotes, with quotes, backslashes and control
    /// characters escaped, so no argument can forge a line of its own in a log.
    public static func quoted(_ s: String) -> String {
        "\"" + escaped(s) + "\""
    }

    /// Go's `%q` body for the characters that matter in a one-line log: `\"`, `\\`, `\n`, `\r`, `\t`,
    /// and `\xNN` for every other control character.
    public static func escaped(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 || u.value == 0x7f || (0x80..<0xa0).contains(u.value) || u.value == 0x2028 || u.value == 0x2029 {
                    let hex = Array("0123456789abcdef")
                    if u.value <= 0xff {
                        out += "\\x" + String(hex[Int(u.value >> 4)]) + String(hex[Int(u.value & 0xf)])
                    } else {
                        out += "\\u" + String(u.value, radix: 16)
                    }
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out
    }
}
