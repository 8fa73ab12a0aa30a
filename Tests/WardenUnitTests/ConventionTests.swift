import WardenCore
import Foundation
import Testing
@testable import WardenSeccomp
@testable import WardenSpec

/// One `SeccompArch(spelling:)` table for every command's `--arch`.
@Suite("Architecture spellings")
struct ArchitectureTests {
    @Test("every spelling a user gives names the same architecture", arguments: [
        ("SCMP_ARCH_X86_64", SeccompArch.x86_64), ("scmp_arch_x86_64", .x86_64), ("x86_64", .x86_64), ("amd64", .x86_64),
        ("AMD64", .x86_64),
        ("SCMP_ARCH_X86", .x86), ("x86", .x86), ("i386", .x86), ("i686", .x86), ("386", .x86),
        ("SCMP_ARCH_X32", .x32), ("x32", .x32),
        ("SCMP_ARCH_AARCH64", .aarch64), ("aarch64", .aarch64), ("arm64", .aarch64),
        ("arm", .arm), ("armv7l", .arm),
        ("ppc64le", .ppc64le), ("ppc64el", .ppc64le), ("s390x", .s390x), ("riscv64", .riscv64),
        ("mips64n32", .mips64n32), ("mipsel64", .mipsel64), ("mips64le", .mipsel64),
    ])
    func spelling(name: String, arch: SeccompArch) {
        #expect(SeccompArch(spelling: name) == arch)
    }

    @Test("every architecture is reached by its runtime-spec, libseccomp and Docker names")
    func everyCase() {
        for a in SeccompArch.allCases {
            #expect(SeccompArch(spelling: a.rawValue) == a)
            #expect(SeccompArch(spelling: a.libseccompName) == a)
            #expect(SeccompArch(spelling: a.dockerName) == a)
        }
    }

    @Test("what is not an architecture", arguments: ["", "z80", "SCMP_ARCH_", "x86_65", "amd", "SCMP_ARCH_VAX", " x86_64"])
    func notAnArchitecture(name: String) {
        #expect(SeccompArch(spelling: name) == nil)
    }

    @Test("explain and convert accept the same spellings, and refuse the same with exit 64", arguments: ["amd64", "x86_64", "SCMP_ARCH_X86_64", "i686", "arm64"])
    func commandsAgree(name: String) throws {
        let explain = try warden(["explain", Repo.sample("weak-allow"), "--syscall", "keyctl", "--arch", name])
        #expect(explain.status == 0, "\(explain.stderr)")
        #expect(explain.stdout.contains("keyctl on \(SeccompArch(spelling: name)!.libseccompName)"), "\(explain.stdout)")
        let convert = try warden(["convert", Repo.fixtures + "/docker-default.json", "--arch", name, "--kernel", "6.1"])
        #expect(convert.status == 0, "\(convert.stderr)")
        for command in [["explain", Repo.sample("weak-allow"), "--syscall", "keyctl"], ["convert", Repo.fixtures + "/docker-default.json"]] {
            let bad = try warden(command + ["--arch", name + "z"])
            #expect(bad.status == 64, "\(command[0]): \(bad.stderr)")
            #expect(bad.stdout.isEmpty)
        }
    }
}

/// The command line's conventions: usage errors, versions, JSON reports, error lines.
@Suite("CLI conventions")
struct ConventionTests {
    @Test("bare seccomp-warden: a short usage on stderr, exit 64 (EX_USAGE); with a command it runs")
    func bare() throws {
        let r = try warden([])
        #expect(r.status == 64)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.hasPrefix("usage: seccomp-warden"), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count <= 5, "\(r.stderr)")
        #expect(try warden(["help"]).status == 0)
    }

    @Test("--version, -V and version print the same: name and version, commit, libseccomp")
    func version() throws {
        let outs = try ["--version", "-V", "version"].map { try warden([$0]) }
        for r in outs { #expect(r.status == 0, "\(r.stderr)") }
        #expect(Set(outs.map(\.stdout)).count == 1)
        let lines = outs[0].stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(outs[0].stdout)")
        #expect(lines.first?.hasPrefix("seccomp-warden 0.") == true, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("commit: ") && $0.count > "commit: ".count }, "\(lines)")
        // The libseccomp loaded now, as libseccomp itself says.
        #expect(lines.contains("libseccomp: \(BuildInfo.libseccomp)"), "\(lines)")
        #expect(BuildInfo.libseccomp.split(separator: ".").count == 3 && BuildInfo.libseccomp.first?.isNumber == true)
    }

    @Test("check --json: schema first; an error is JSON on stdout too, with the exit code")
    func checkJSON() throws {
        let ok = try warden(["check", "--json", Repo.sample("weak-allow")])
        #expect(ok.status == 1)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(ok.stdout.utf8)) as? [String: Any])
        // Schema 2: findings are objects (code, syscall, detail), no longer lines of text.
        #expect(report["schema"] as? Int == 2)
        #expect(ok.stdout.hasPrefix("{\n  \"schema\": 2,"), "\(ok.stdout)")
        #expect(report["compliant"] as? Bool == false)
        let findings = try #require(report["findings"] as? [[String: Any]], "\(report)")
        #expect(findings.contains { $0["code"] as? String == "syscall" && $0["syscall"] as? String == "ptrace" }, "\(findings)")
        #expect(findings.allSatisfy { ($0["detail"] as? String)?.hasPrefix("weaker than the policy: ") == true && $0["code"] is String }, "\(findings)")
        // The human lines say the same, one per finding.
        let human = try warden(["check", Repo.sample("weak-allow")])
        #expect(human.status == 1 && human.stdout.split(separator: "\n").count == findings.count, "\(human.stdout)")
        let none = try warden(["check", "--json", Repo.sample("no-seccomp")])
        let noneReport = try #require(try JSONSerialization.jsonObject(with: Data(none.stdout.utf8)) as? [String: Any])
        #expect(none.status == 1 && (noneReport["findings"] as? [[String: Any]])?.map { $0["code"] as? String } == ["no-profile"], "\(none.stdout)")

        let dir = try tempDir("house-json")
        defer { cleanup(dir) }
        try "{\"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_BOGUS\"}}}".write(toFile: dir + "/config.json", atomically: false, encoding: .utf8)
        let bad = try warden(["check", "--json", dir])
        #expect(bad.status == 2)
        let e = try #require(try JSONSerialization.jsonObject(with: Data(bad.stdout.utf8)) as? [String: Any], "\(bad.stdout)")
        #expect(e["schema"] as? Int == 1)
        #expect(e["exit"] as? Int == 2)
        let error = try #require(e["error"] as? [String: Any])
        #expect(error["file"] as? String == dir + "/config.json")
        #expect(error["path"] as? String == "linux.seccomp.defaultAction")
        #expect((error["message"] as? String)?.contains("SCMP_ACT_BOGUS") == true)
        // The human line is still on stderr; without --json stdout stays empty.
        #expect(bad.stderr.contains("\(dir)/config.json: linux.seccomp.defaultAction: "), "\(bad.stderr)")
        let plain = try warden(["check", dir])
        #expect(plain.status == 2 && plain.stdout.isEmpty)
    }

    @Test("a usage error under --json: JSON on stdout with exit 64, the usage on stderr", arguments: [
        ["check", "--json"], ["check", "--json", "--bogus", "x"], ["verify", "--json"], ["verify", "--format", "json", "--all", "--pid", "1"],
    ])
    func usageErrorJSON(args: [String]) throws {
        let r = try warden(args)
        #expect(r.status == 64)
        let e = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)")
        #expect(e["schema"] as? Int == 1 && e["exit"] as? Int == 64, "\(e)")
        #expect(((e["error"] as? [String: Any])?["message"] as? String)?.isEmpty == false, "\(e)")
        #expect(r.stderr.contains("Usage: seccomp-warden"), "\(r.stderr)")
        // Without --json, stdout stays empty.
        let plain = try warden(args.filter { $0 != "--json" && $0 != "--format" && $0 != "json" })
        #expect(plain.status == 64 && plain.stdout.isEmpty, "\(plain.stdout)")
    }

    @Test("errors name the file, <stdin> or nothing: never a made-up <input>", arguments: [
        ["convert", "/nonexistent/p.json"],
        ["convert", "Tests/Fixtures/docker-default.json", "--kernel", "six"],
        ["explain", "oci-samples/weak-allow", "--syscall", "keyctl", "--args", "x"],
        ["explain", "oci-samples/weak-allow", "--syscall", "nosuchcall"],
        ["check", "/nonexistent"],
        ["policy", "check", "/nonexistent/policy.json"],
    ])
    func noInputPlaceholder(args: [String]) throws {
        let r = try run(Repo.binary, args, env: ["SECCOMP_WARDEN_POLICY": "builtin"], cwd: Repo.root)
        #expect(r.status != 0)
        #expect(!r.stderr.isEmpty)
        #expect(!r.stderr.contains("<input>"), "\(r.stderr)")
    }

    @Test("the README's \"How it is built\" names every target, and its graph has each target above what it uses")
    func targetsAgree() throws {
        let readme = readText(Repo.root + "/README.md")
        let section = try #require(readme.range(of: "## How it is built").map { String(readme[$0.upperBound...]) })
            .components(separatedBy: "\n## ")[0]
        let package = readText(Repo.root + "/Package.swift")
        // `.target(name: "X", dependencies: ["A", "B"])`, one per line in Package.swift.
        var uses = [String: [String]]()
        for line in package.split(separator: "\n")
        where [".target(", ".executableTarget(", ".systemLibrary("].contains(where: line.contains) && line.contains("(name: \"") {
            let quoted = line.split(separator: "\"", omittingEmptySubsequences: false).enumerated()
                .filter { $0.offset % 2 == 1 }.map { String($0.element) }
            uses[quoted[0]] = Array(quoted.dropFirst())
        }
        let sources = try FileManager.default.contentsOfDirectory(atPath: Repo.root + "/Sources")
        #expect(Set(sources) == Set(uses.keys).union(["seccomp-warden"]), "Sources/ and Package.swift")
        for target in sources { #expect(section.contains("`\(target)`"), "\(target) is not in the README's table") }
        // The graph: the Warden targets from top to bottom (two on one line share a level).
        let graph = try #require(section.components(separatedBy: "```").dropFirst().first)
        var level = [String: Int]()
        for (n, line) in graph.split(separator: "\n").enumerated() {
            for word in line.split(whereSeparator: { " |/\\".contains($0) }) where word.hasPrefix("Warden") { level[String(word)] = n }
        }
        #expect(Set(level.keys) == Set(uses.keys.filter { $0.hasPrefix("Warden") }), "\(level.keys.sorted())")
        for (target, deps) in uses where target.hasPrefix("Warden") {
            let at = try #require(level[target], "\(target) is not in the graph")
            for d in deps where d.hasPrefix("Warden") {
                let dAt = try #require(level[d])
                #expect(dAt > at, "\(target) uses \(d), which the graph draws above it or beside it")
            }
        }
    }

    @Test("the README's exit-code table is the man page's and --help's")
    func exitCodesAgree() throws {
        let readme = readText(Repo.root + "/README.md")
        let codes = readme.split(separator: "\n").compactMap { line -> Int? in
            guard line.hasPrefix("| "), let n = Int(line.dropFirst(2).prefix { $0.isNumber }) else { return nil }
            return line.contains("|---") ? nil : n
        }
        #expect(codes == [0, 1, 2, 3, 64], "\(codes)")
        let man = readText(Repo.root + "/man/seccomp-warden.1")
        let section = try #require(man.range(of: ".SH EXIT STATUS").map { String(man[$0.upperBound...]) })
        let manCodes = section.split(separator: "\n").prefix { !$0.hasPrefix(".SH") }
            .filter { $0.hasPrefix(".B ") }.compactMap { Int($0.dropFirst(3)) }
        #expect(manCodes == codes, "\(manCodes)")
        let help = try warden(["--help"]).stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for c in codes { #expect(help.contains(" \(c) "), "\(c): \(help)") }
    }

    @Test("install.sh: --help exits 0 and changes nothing; any other argument exits 64 before anything runs",
          arguments: [["--help", "0"], ["-h", "0"], ["--bogus", "64"], ["--uninstal", "64"], ["--divert extra", "64"]])
    func installArguments(args: [String]) throws {
        let r = try run("/bin/bash", ["-c", "DESTDIR=/nonexistent-house PATH=/usr/bin:/bin ./install.sh \(args[0])"], cwd: Repo.root)
        #expect(r.status == Int32(args[1]), "\(r.stderr)")
        if r.status == 0 {
            #expect(r.stdout.contains("--uninstall") && r.stdout.contains("--divert"), "\(r.stdout)")
        } else {
            #expect(r.stderr.contains("install.sh:") && r.stderr.contains("--uninstall"), "\(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: "/nonexistent-house"))
    }
}
