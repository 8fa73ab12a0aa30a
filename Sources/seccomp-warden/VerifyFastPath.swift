import WardenJSON
/// `verify --pid N` and `verify --container ID` (with `--root`, `--json`, `--format`, `--no-deep`,
/// `--policy`) read without ArgumentParser, which builds every subcommand's definition by reflection
/// before it reads a word (about 3 ms, more than the C floor's whole run). The work and the output are
/// `VerifyRun`'s, the same as through ArgumentParser. Any other line (`--all`, `--help`, an unknown
/// or repeated option, a value ArgumentParser would refuse or read otherwise) returns nil, and
/// ArgumentParser reads it and answers as it always did.
enum VerifyFastPath {
    /// Options that take a value. A switch, not a Set<String>: a Set's first use looks up String's
    /// Hashable conformance at run time (0.25 M instructions of a warm `verify --pid`).
    static func takesValue(_ name: String) -> Bool {
        switch name {
        case "--pid", "--container", "--root", "--format", "--policy": true
        default: false
        }
    }

    /// The request argv spells, or nil when it is not one this parser reads exactly as ArgumentParser would.
    static func parse(_ argv: [String]) -> VerifyRun? {
        guard argv.count >= 3, argv[1] == "verify" else { return nil }
        var run = VerifyRun()
        var json = false
        var seen = [String]()  // a few names: an Array, no run-time Hashable lookup (takesValue)
        var i = 2
        while i < argv.count {
            var name = argv[i]
            var value: String? = nil
            guard name.hasPrefix("--") else { return nil }
            if let eq = name.firstIndex(of: "=") {
                value = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            if takesValue(name) {
                if value == nil {
                    // ArgumentParser reads a following word that starts with "-" as an option.
                    guard i + 1 < argv.count, !argv[i + 1].hasPrefix("-") else { return nil }
                    i += 1
                    value = argv[i]
                }
            } else if value != nil {
                return nil
            }
            // A repeated option: ArgumentParser's rules (last wins, or an error) are its own.
            guard name == "--root" || !seen.contains(name) else { return nil }
            seen.append(name)
            let v = value ?? ""
            switch name {
            case "--pid":
                guard let first = v.utf8.first, first >= 0x30 && first <= 0x39, let pid = Int32(v) else { return nil }
                run.pid = pid
            case "--container": run.container = v
            case "--root": run.root.append(v)
            case "--format":
                guard let format = VerifyRun.Format(rawValue: v) else { return nil }
                run.format = format
            case "--policy": run.policyFile = v
            case "--json": json = true
            case "--no-deep": run.noDeep = true
            default: return nil
            }
            i += 1
        }
        // Exactly one target, as `Verify.validate` asks; --all and its options stay with ArgumentParser.
        guard (run.pid != nil) != (run.container != nil) else { return nil }
        if json { run.format = .json }
        return run
    }

    /// The exit code when argv is a line this fast path reads, else nil.
    static func run(_ argv: [String]) -> Int32? {
        guard let line = parse(argv) else { return nil }
        // One container or process, then exit: its documents are freed by the process's end.
        JSONDocument.keptUntilExit = true
        return line.run()
    }
}
