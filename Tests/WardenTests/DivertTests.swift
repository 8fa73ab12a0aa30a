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
