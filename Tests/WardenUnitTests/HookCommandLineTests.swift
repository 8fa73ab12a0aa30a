import WardenCore
import Foundation
import Testing
@testable import WardenHook

/// `seccomp-warden hook …`: one strict parser for the fast path, ArgumentParser's `help hook`, and `--help`.
@Suite("Hook command line")
struct HookCommandLineTests {
    static let accepted: [([String], String, String?)] = [
        (["precreate"], "precreate", nil),
        (["createRuntime"], "createRuntime", nil),
        (["prestart"], "prestart", nil),
        (["createContainer"], "createContainer", nil),
        (["poststart"], "poststart", nil),
        (["precreate", "--policy", "/p.json"], "precreate", "/p.json"),
        (["precreate", "--policy=/p.json"], "precreate", "/p.json"),
        (["--policy", "/p.json", "poststart"], "poststart", "/p.json"),
        (["--policy=builtin", "createRuntime"], "createRuntime", "builtin"),
        (["precreate", "--policy=/a=b"], "precreate", "/a=b"),
        (["precreate", "--policy=-odd"], "precreate", "-odd"),
    ]

    @Test("accepted lines: the stage and the policy", arguments: accepted)
    func accepts(args: [String], stage: String, policy: String?) {
        #expect(HookCommandLine.parse(args) == .run(HookCommandLine(stage: stage, policy: policy)))
    }

    @Test("help, wherever it is", arguments: [["--help"], ["-h"], ["precreate", "--help"], ["--policy", "/p", "-h"], ["bogus", "--help"]])
    func help(args: [String]) {
        // A bad stage before --help is still an error: the line is read in order.
        let parsed = HookCommandLine.parse(args)
        if args.first == "bogus" {
            #expect(parsed == .error("unknown stage \"bogus\" (valid: precreate, createRuntime, prestart, createContainer, poststart)"))
        } else {
            #expect(parsed == .help)
        }
    }

    static let refused: [([String], String)] = [
        ([], "missing the stage"),
        (["--policy", "/p"], "missing the stage"),
        (["bogus"], "unknown stage \"bogus\""),
        (["Precreate"], "unknown stage"),
        (["precreate", "poststart"], "unexpected argument \"poststart\""),
        (["precreate", "extra"], "unexpected argument"),
        (["precreate", "--bogus"], "unknown option \"--bogus\""),
        (["precreate", "-p", "/p"], "unknown option \"-p\""),
        (["precreate", "--pol=/p"], "unknown option \"--pol=/p\""),
        (["precreate", "--policy"], "--policy needs a value"),
        (["precreate", "--policy="], "--policy needs a value"),
        (["precreate", "--policy", "--help"], "--policy needs a value"),
        (["precreate", "--policy", "-"], "--policy needs a value"),
        (["precreate", "--policy", "/a", "--policy", "/b"], "--policy is given twice"),
        (["precreate", "--policy=/a", "--policy=/a"], "--policy is given twice"),
        (["precreate", "--"], "unknown option \"--\""),
        (["precreate", "-"], "unknown option \"-\""),
        (["precreate", "--policy\n=x"], "unknown option \"--policy\\n=x\""),
    ]

    @Test("refused lines: the reason", arguments: refused)
    func refuses(args: [String], reason: String) {
        guard case .error(let message) = HookCommandLine.parse(args) else {
            Issue.record("accepted: \(args)")
            return
        }
        #expect(message.contains(reason), "\(message)")
    }

    /// The binary: both spellings of --policy read the same file (a missing one is bad input, 2); every bad
    /// line is a usage error (64) before stdin is read.
    static let binaryLines: [([String], Int32, String)] = [
        (["hook", "precreate", "--policy=/nonexistent"], 2, "/nonexistent"),
        (["hook", "precreate", "--policy", "/nonexistent"], 2, "/nonexistent"),
        (["hook", "precreate", "--bogus"], 64, "unknown option \"--bogus\""),
        (["hook", "precreate", "--policy", "builtin", "--bogus"], 64, "unknown option"),
        (["hook", "bogus"], 64, "unknown stage \"bogus\""),
        (["hook"], 64, "missing the stage"),
        (["hook", "--policy=builtin"], 64, "missing the stage"),
        (["hook", "poststart", "--policy"], 64, "--policy needs a value"),
        (["hook", "createRuntime", "--policy=a", "--policy=b"], 64, "given twice"),
    ]

    @Test("the binary: exit codes and one reason", arguments: binaryLines)
    func binary(args: [String], status: Int32, text: String) throws {
        let dir = try tempDir("hookline")
        defer { cleanup(dir) }
        let r = try warden(args, input: Data("{}".utf8), env: ["SECCOMP_WARDEN_AUDIT_LOG": dir + "/audit.log"])
        #expect(r.status == status, "\(r.stderr)")
        #expect(r.stderr.contains(text), "\(r.stderr)")
        #expect(r.stdout.isEmpty)
        // The refusal is traceable.
        #expect(readText(dir + "/audit.log").contains("\"decision\":\"denied\""))
    }

    @Test("--policy FILE and --policy=FILE give the same decision and the same output", .rootOwnedFiles)
    func bothSpellings() throws {
        let dir = try tempDir("hookline-same")
        defer { cleanup(dir) }
        let policy = dir + "/policy.json"
        try warden(["policy", "show"]).stdout.write(toFile: policy, atomically: false, encoding: .utf8)
        chmod(policy, 0o600)
        let input = try Data(contentsOf: URL(fileURLWithPath: Repo.sample("no-seccomp") + "/config.json"))
        let env = ["SECCOMP_WARDEN_AUDIT_LOG": dir + "/audit.log"]
        let a = try warden(["hook", "precreate", "--policy", policy], input: input, env: env)
        let b = try warden(["hook", "precreate", "--policy=" + policy], input: input, env: env)
        #expect(a.status == 0, "\(a.stderr)")
        #expect(b.status == 0, "\(b.stderr)")
        #expect(a.stdout == b.stdout)
        #expect(a.stdout.contains("SCMP_ACT_ERRNO"))
        let log = readText(dir + "/audit.log").split(separator: "\n")
        #expect(log.count == 2)
        #expect(log.allSatisfy { $0.contains("\"policy\":\"\(policy)\"") }, "\(log)")
    }

    @Test("help: `hook --help` and `help hook` show the same text, every stage documented, poststart included",
          arguments: [["hook", "--help"], ["hook", "-h"], ["help", "hook"], ["hook", "precreate", "--help"]])
    func helpText(args: [String]) throws {
        let r = try warden(args)
        #expect(r.status == 0, "\(r.stderr)")
        for stage in ["precreate", "createRuntime", "prestart", "createContainer", "poststart", "--policy FILE", "--policy=FILE", "exits 64"] {
            #expect(r.stdout.contains(stage), "\(stage): \(r.stdout)")
        }
        #expect(r.stdout.contains(HookCommandLine.usage))
    }
}
