import Foundation
import Testing

/// The bad-input corpus: every case through every entry point that takes it. Each must exit with
/// its documented code, say one line that names the file and the JSON path, leave its input
/// byte-for-byte as it was, and in enforce mode never let a container start.
enum Corpus {
    enum Kind { case config, state, policy }

    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var kind: Kind
        /// The bytes of the file (nil: a special file made by `make`).
        var bytes: [UInt8]?
        /// Words the one-line error must contain (besides the file name).
        var words: [String]
        var description: String { name }
    }

    static func seccomp(_ body: String) -> [UInt8] { Array("{\"ociVersion\": \"1.0.2\", \"linux\": {\"seccomp\": \(body)}}".utf8) }
    static func rule(_ body: String) -> [UInt8] { seccomp("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [\(body)]}") }
    static func arg(_ body: String) -> [UInt8] { rule("{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [\(body)]}") }
    static func c(_ name: String, _ bytes: [UInt8]?, _ words: String...) -> Case { Case(name: name, kind: .config, bytes: bytes, words: words) }
    static func s(_ name: String, _ text: String, _ words: String...) -> Case { Case(name: name, kind: .state, bytes: Array(text.utf8), words: words) }
    static func p(_ name: String, _ text: String, _ words: String...) -> Case { Case(name: name, kind: .policy, bytes: Array(text.utf8), words: words) }

    static let cases: [Case] = [
        // Not JSON at all.
        c("truncated", Array("{\"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\"".utf8), "invalid JSON"),
        c("bare-key", Array("{linux: 1}".utf8), "invalid JSON"),
        c("trailing-garbage", Array("{} x".utf8), "invalid JSON"),
        c("empty-file", [], "empty input"),
        c("top-array", Array("[]".utf8), "expected a JSON object"),
        c("top-string", Array("\"x\"".utf8), "invalid JSON"),
        c("nul-byte", Array("{\"linux\": {\"seccomp\": {\"defaultAction\": \"SCMP_ACT_\\u0000ALLOW\"}}}".utf8), "invalid JSON"),
        c("raw-nul", Array("{\"a\": \"".utf8) + [0] + Array("\"}".utf8), "invalid JSON"),
        c("invalid-utf8", Array("{\"a\": \"".utf8) + [0xff, 0xfe] + Array("\"}".utf8), "invalid JSON"),
        c("duplicate-keys", seccomp("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultAction\": \"SCMP_ACT_ERRNO\"}"), "duplicate"),
        c("value-beyond-64-bits", arg("{\"index\": 0, \"value\": 18446744073709551616, \"op\": \"SCMP_CMP_EQ\"}"), "too big"),
        c("value-beyond-63-bits", arg("{\"index\": 0, \"value\": 9223372036854775808, \"op\": \"SCMP_CMP_EQ\"}"), "too big"),
        c("oversized-20MB", nil, "over the"),
        c("deep-10000", nil, "depth"),
        // Wrong types at every level.
        c("linux-number", Array("{\"linux\": 1}".utf8), "linux", "must be an object"),
        c("linux-array", Array("{\"linux\": []}".utf8), "linux", "must be an object"),
        c("seccomp-string", seccomp("\"x\""), "linux.seccomp", "must be an object"),
        c("seccomp-array", seccomp("[]"), "linux.seccomp", "must be an object"),
        c("defaultAction-missing", seccomp("{}"), "linux.seccomp.defaultAction", "missing"),
        c("defaultAction-number", seccomp("{\"defaultAction\": 1}"), "linux.seccomp.defaultAction", "must be a string"),
        c("defaultAction-unknown", seccomp("{\"defaultAction\": \"SCMP_ACT_MAYBE\"}"), "linux.seccomp.defaultAction", "not a valid action"),
        c("defaultAction-notify", seccomp("{\"defaultAction\": \"SCMP_ACT_NOTIFY\", \"listenerPath\": \"/x\"}"), "linux.seccomp.defaultAction", "cannot be the default"),
        c("defaultErrnoRet-string", seccomp("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": \"1\"}"), "linux.seccomp.defaultErrnoRet", "must be an integer"),
        c("defaultErrnoRet-negative", seccomp("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": -1}"), "linux.seccomp.defaultErrnoRet", "negative"),
        c("defaultErrnoRet-on-allow", seccomp("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"defaultErrnoRet\": 1}"), "linux.seccomp.defaultErrnoRet", "only allowed"),
        c("defaultErrnoRet-too-big", seccomp("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 5000}"), "linux.seccomp.defaultErrnoRet", "out of range"),
        c("architectures-string", seccomp("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": \"SCMP_ARCH_X86_64\"}"), "linux.seccomp.architectures", "must be an array"),
        c("architectures-number", seccomp("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [64]}"), "linux.seccomp.architectures[0]", "must be a string"),
        c("architectures-unknown", seccomp("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [\"SCMP_ARCH_PDP11\"]}"), "linux.seccomp.architectures[0]", "not a valid architecture"),
        c("architectures-duplicate", seccomp("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [\"SCMP_ARCH_X86\", \"SCMP_ARCH_X86\"]}"), "linux.seccomp.architectures[1]", "duplicate"),
        c("flags-object", seccomp("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"flags\": {}}"), "linux.seccomp.flags", "must be an array"),
        c("flags-unknown", seccomp("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"flags\": [\"SECCOMP_FILTER_FLAG_FAST\"]}"), "linux.seccomp.flags[0]", "not a valid flag"),
        c("flags-number", seccomp("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"flags\": [1]}"), "linux.seccomp.flags[0]", "must be a string"),
        c("listenerPath-number", seccomp("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"listenerPath\": 1}"), "linux.seccomp.listenerPath", "must be a string"),
        c("listenerPath-empty", seccomp("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"listenerPath\": \"\"}"), "linux.seccomp.listenerPath", "must not be empty"),
        c("listenerMetadata-alone", seccomp("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"listenerMetadata\": \"m\"}"), "linux.seccomp.listenerMetadata", "listenerPath is not"),
        c("syscalls-object", seccomp("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": {}}"), "linux.seccomp.syscalls", "must be an array"),
        c("syscall-string", rule("\"read\""), "linux.seccomp.syscalls[0]", "must be an object"),
        c("names-missing", rule("{\"action\": \"SCMP_ACT_ALLOW\"}"), "linux.seccomp.syscalls[0].names", "missing"),
        c("names-string", rule("{\"names\": \"read\", \"action\": \"SCMP_ACT_ALLOW\"}"), "linux.seccomp.syscalls[0].names", "must be an array"),
        c("names-empty", rule("{\"names\": [], \"action\": \"SCMP_ACT_ALLOW\"}"), "linux.seccomp.syscalls[0].names", "at least one"),
        c("name-empty", rule("{\"names\": [\"\"], \"action\": \"SCMP_ACT_ALLOW\"}"), "linux.seccomp.syscalls[0].names[0]", "must not be empty"),
        c("name-number", rule("{\"names\": [0], \"action\": \"SCMP_ACT_ALLOW\"}"), "linux.seccomp.syscalls[0].names[0]", "must be a string"),
        c("name-duplicate", rule("{\"names\": [\"read\", \"read\"], \"action\": \"SCMP_ACT_ALLOW\"}"), "linux.seccomp.syscalls[0].names[1]", "duplicate"),
        c("name-legacy", rule("{\"name\": \"read\", \"action\": \"SCMP_ACT_ALLOW\"}"), "linux.seccomp.syscalls[0].name", "old single"),
        c("action-missing", rule("{\"names\": [\"read\"]}"), "linux.seccomp.syscalls[0].action", "missing"),
        c("action-unknown", rule("{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW_ALL\"}"), "linux.seccomp.syscalls[0].action", "not a valid action"),
        c("action-number", rule("{\"names\": [\"read\"], \"action\": 0}"), "linux.seccomp.syscalls[0].action", "must be a string"),
        c("errnoRet-on-kill", rule("{\"names\": [\"read\"], \"action\": \"SCMP_ACT_KILL\", \"errnoRet\": 1}"), "linux.seccomp.syscalls[0].errnoRet", "only allowed"),
        c("errnoRet-string", rule("{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": \"EPERM\"}"), "linux.seccomp.syscalls[0].errnoRet", "must be an integer"),
        c("errnoRet-negative", rule("{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": -5}"), "linux.seccomp.syscalls[0].errnoRet", "negative"),
        c("notify-without-listener", rule("{\"names\": [\"read\"], \"action\": \"SCMP_ACT_NOTIFY\"}"), "linux.seccomp.syscalls[0].action", "listenerPath"),
        c("args-object", rule("{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": {}}"), "linux.seccomp.syscalls[0].args", "must be an array"),
        c("arg-string", arg("\"x\""), "linux.seccomp.syscalls[0].args[0]", "must be an object"),
        c("arg-index-6", arg("{\"index\": 6, \"value\": 0, \"op\": \"SCMP_CMP_EQ\"}"), "linux.seccomp.syscalls[0].args[0].index", "out of range"),
        c("arg-index-missing", arg("{\"value\": 0, \"op\": \"SCMP_CMP_EQ\"}"), "linux.seccomp.syscalls[0].args[0].index", "missing"),
        c("arg-index-negative", arg("{\"index\": -1, \"value\": 0, \"op\": \"SCMP_CMP_EQ\"}"), "linux.seccomp.syscalls[0].args[0].index", "negative"),
        c("arg-value-missing", arg("{\"index\": 0, \"op\": \"SCMP_CMP_EQ\"}"), "linux.seccomp.syscalls[0].args[0].value", "missing"),
        c("arg-value-string", arg("{\"index\": 0, \"value\": \"0\", \"op\": \"SCMP_CMP_EQ\"}"), "linux.seccomp.syscalls[0].args[0].value", "must be an integer"),
        c("arg-value-negative", arg("{\"index\": 0, \"value\": -2, \"op\": \"SCMP_CMP_EQ\"}"), "linux.seccomp.syscalls[0].args[0].value", "negative"),
        c("arg-value-float", arg("{\"index\": 0, \"value\": 1.5, \"op\": \"SCMP_CMP_EQ\"}"), "linux.seccomp.syscalls[0].args[0].value", "must be an integer"),
        c("arg-valueTwo-string", arg("{\"index\": 0, \"value\": 1, \"valueTwo\": \"1\", \"op\": \"SCMP_CMP_MASKED_EQ\"}"), "linux.seccomp.syscalls[0].args[0].valueTwo", "must be an integer"),
        c("arg-op-missing", arg("{\"index\": 0, \"value\": 0}"), "linux.seccomp.syscalls[0].args[0].op", "missing"),
        c("arg-op-unknown", arg("{\"index\": 0, \"value\": 0, \"op\": \"SCMP_CMP_LIKE\"}"), "linux.seccomp.syscalls[0].args[0].op", "not a valid operator"),
        c("arg-op-number", arg("{\"index\": 0, \"value\": 0, \"op\": 4}"), "linux.seccomp.syscalls[0].args[0].op", "must be a string"),
        c("annotations-array", Array("{\"annotations\": [], \"linux\": {}}".utf8), "annotations", "must be an object"),
        c("annotation-number", Array("{\"annotations\": {\"a\": 1}, \"linux\": {}}".utf8), "annotations.a", "must be a string"),
        // Files that are not what they claim.
        c("config-symlink", nil, "symlink"),
        c("config-fifo", nil, "FIFO"),
        c("config-folder", nil, "a directory"),
        // States a hook may be handed.
        s("state-empty", "", "empty input"),
        s("state-not-json", "{\"id\": ", "invalid JSON"),
        s("state-no-bundle", "{\"ociVersion\": \"1.0.2\", \"id\": \"x\", \"status\": \"creating\", \"pid\": 1}", "bundle", "missing"),
        s("state-bundle-relative", "{\"ociVersion\": \"1.0.2\", \"id\": \"x\", \"pid\": 1, \"bundle\": \"b\"}", "bundle", "absolute"),
        s("state-bundle-missing", "{\"ociVersion\": \"1.0.2\", \"id\": \"x\", \"pid\": 1, \"bundle\": \"/nonexistent/warden/b\"}", "No such file"),
        s("state-id-missing", "{\"ociVersion\": \"1.0.2\", \"pid\": 1, \"bundle\": \"/\"}", "id", "missing"),
        s("state-pid-string", "{\"ociVersion\": \"1.0.2\", \"id\": \"x\", \"pid\": \"1\", \"bundle\": \"/\"}", "pid", "must be an integer"),
        // Policies.
        p("policy-unknown-syscall", "{\"deny\": [{\"names\": [\"keyctll\"], \"action\": \"SCMP_ACT_ERRNO\"}]}", "deny[0].names[0]", "unknown syscall"),
        p("policy-contradictory", "{\"deny\": [{\"names\": [\"bpf\"], \"action\": \"SCMP_ACT_ERRNO\"}, {\"names\": [\"bpf\"], \"action\": \"SCMP_ACT_KILL\"}]}", "deny[1]", "contradictory"),
        p("policy-unknown-mode", "{\"mode\": \"strict\"}", "mode", "not a valid mode"),
        p("policy-unknown-key", "{\"modes\": \"enforce\"}", "modes", "unknown field"),
        p("policy-deny-allows", "{\"deny\": [{\"names\": [\"bpf\"], \"action\": \"SCMP_ACT_ALLOW\"}]}", "deny[0].action", "must deny"),
        p("policy-old-regex-exemption", "{\"exemptions\": [{\"annotation\": \"(\", \"reason\": \"r\"}]}", "exemptions[0].annotation", "no longer read", "namespace"),
        p("policy-exemption-no-reason", "{\"exemptions\": [{\"namespace\": \"x\"}]}", "exemptions[0].reason", "missing"),
        p("policy-exemption-untrusted-fact", "{\"exemptions\": [{\"namespace\": \"x\", \"reason\": \"r\"}]}", "exemptions[0].namespace", "trustedEngine"),
        p("policy-architectures-empty", "{\"architectures\": []}", "architectures", "at least one"),
        p("policy-inject-missing-file", "{\"inject\": \"/nonexistent/warden/profile.json\"}", "/nonexistent/warden/profile.json", "No such file"),
        p("policy-not-json", "{\"mode\": ", "invalid JSON"),
    ]
}

@Suite("Bad-input corpus")
struct BadInputCorpusTests {
    @Test("the corpus is large enough")
    func size() { #expect(Corpus.cases.count >= 60) }

    /// Lays out a bundle whose config.json is the case (or the special file it names).
    func makeConfig(_ c: Corpus.Case, in dir: String) throws -> String {
        let bundle = dir + "/bundle"
        try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
        let path = bundle + "/config.json"
        switch c.name {
        case "config-symlink":
            try "{}".write(toFile: dir + "/real.json", atomically: false, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: dir + "/real.json")
        case "config-fifo": mkfifo(path, 0o644)
        case "config-folder": try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        case "oversized-20MB":
            try Data(("{\"x\": \"" + String(repeating: "a", count: 20 << 20) + "\"}").utf8).write(to: URL(fileURLWithPath: path))
        case "deep-10000":
            try Data(("{\"a\": " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}").utf8).write(to: URL(fileURLWithPath: path))
        default: try Data(c.bytes!).write(to: URL(fileURLWithPath: path))
        }
        return bundle
    }

    func fingerprint(_ path: String) -> String {
        // Never read a FIFO: that would block. Symlinks are described, not followed.
        (try? sh("stat -c '%F %s %Y' \(path); [ -f \(path) ] && [ ! -L \(path) ] && sha256sum \(path); true").stdout) ?? ""
    }

    func expectOneLine(_ r: Result, _ code: Int32, _ c: Corpus.Case, names file: String?, via: String) {
        #expect(r.status == code, "\(c.name) via \(via): exit \(r.status): \(r.stderr)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(c.name) via \(via): \(r.stderr)")
        for w in c.words { #expect(r.stderr.contains(w), "\(c.name) via \(via): '\(w)' not in \(r.stderr)") }
        if let file { #expect(r.stderr.contains(file), "\(c.name) via \(via): \(file) not named in \(r.stderr)") }
    }

    @Test("config.json cases: apply, check, every hook stage, the wrapper", arguments: Corpus.cases.filter { $0.kind == .config })
    func config(c: Corpus.Case) throws {
        let dir = try tempDir("corpus")
        defer { cleanup(dir) }
        let bundle = try makeConfig(c, in: dir)
        let config = bundle + "/config.json"
        let before = fingerprint(config)
        let env = ["SECCOMP_WARDEN_AUDIT_LOG": dir + "/audit.log"]
        expectOneLine(try warden(["apply", bundle], env: env), 2, c, names: config, via: "apply")
        expectOneLine(try warden(["check", bundle], env: env), 2, c, names: config, via: "check")
        let state = Data("{\"ociVersion\": \"1.0.2\", \"id\": \"corpus\", \"status\": \"creating\", \"pid\": 1, \"bundle\": \"\(bundle)\"}".utf8)
        for stage in ["createRuntime", "prestart", "createContainer"] {
            expectOneLine(try warden(["hook", stage], input: state, env: env), 2, c, names: config, via: stage)
        }
        if let bytes = c.bytes {
            let r = try warden(["hook", "precreate"], input: Data(bytes), env: env)
            expectOneLine(r, 2, c, names: "<stdin config>", via: "precreate")
            #expect(r.stdout.isEmpty, "\(c.name): precreate printed a config")
        }
        // The wrapper refuses before the runtime runs: the stand-in runtime leaves a mark if it ever does.
        let runtime = dir + "/fake-runtime"
        try "#!/bin/sh\ntouch \(dir)/runtime-ran\n".write(toFile: runtime, atomically: false, encoding: .utf8)
        chmod(runtime, 0o755)
        try FileManager.default.createSymbolicLink(atPath: dir + "/seccomp-warden-runc", withDestinationPath: Repo.binary)
        let w = try run(dir + "/seccomp-warden-runc", ["--root", dir + "/root", "create", "--bundle", bundle, "corpus"],
                        env: ["SECCOMP_WARDEN_RUNTIME": runtime, "SECCOMP_WARDEN_POLICY": "builtin", "SECCOMP_WARDEN_AUDIT_LOG": dir + "/audit.log"])
        expectOneLine(w, 1, c, names: config, via: "wrapper")
        #expect(!FileManager.default.fileExists(atPath: dir + "/runtime-ran"), "\(c.name): the runtime ran")
        #expect(fingerprint(config) == before, "\(c.name): config.json changed")
        // Every refusal was logged, as one JSON object per line.
        let log = readText(dir + "/audit.log").split(separator: "\n")
        #expect(log.count >= 4, "\(c.name): \(log.count) audit lines")
        for line in log { #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil) }
    }

    @Test("state cases: every gate stage and poststart", arguments: Corpus.cases.filter { $0.kind == .state })
    func state(c: Corpus.Case) throws {
        let dir = try tempDir("corpus-state")
        defer { cleanup(dir) }
        for stage in ["createRuntime", "prestart", "createContainer", "poststart"] {
            let r = try warden(["hook", stage], input: Data(c.bytes!), env: ["SECCOMP_WARDEN_AUDIT_LOG": dir + "/audit.log"])
            expectOneLine(r, 2, c, names: nil, via: stage)
        }
    }

    @Test("policy cases: policy check, apply and a hook refuse, the bundle untouched", arguments: Corpus.cases.filter { $0.kind == .policy })
    func policy(c: Corpus.Case) throws {
        let dir = try tempDir("corpus-policy")
        defer { cleanup(dir) }
        let policy = dir + "/policy.json"
        try Data(c.bytes!).write(to: URL(fileURLWithPath: policy))
        chmod(policy, 0o600)
        try FileManager.default.createDirectory(atPath: dir + "/b", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Repo.sample("weak-allow") + "/config.json", toPath: dir + "/b/config.json")
        let before = fingerprint(dir + "/b/config.json")
        expectOneLine(try warden(["policy", "check", policy]), 2, c, names: nil, via: "policy check")
        expectOneLine(try warden(["apply", "--policy", policy, dir + "/b"]), 2, c, names: nil, via: "apply")
        let state = Data("{\"ociVersion\": \"1.0.2\", \"id\": \"corpus\", \"pid\": 1, \"bundle\": \"\(dir)/b\"}".utf8)
        expectOneLine(try warden(["hook", "createRuntime", "--policy", policy], input: state, env: ["SECCOMP_WARDEN_AUDIT_LOG": dir + "/audit.log"]),
                      2, c, names: nil, via: "createRuntime")
        #expect(fingerprint(dir + "/b/config.json") == before)
    }
}
