import WardenCore
import Foundation
import Testing
@testable import WardenHook

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
