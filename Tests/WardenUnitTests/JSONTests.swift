import WardenCore
import Foundation
import Testing
@testable import WardenJSON
@testable import WardenSpec

@Suite("Lossless JSON document")
struct JSONTests {
    static let samples = ["no-seccomp", "docker-default", "weak-allow", "arg-rules", "notify", "malformed", "exempt"]

    @Test("every sample round-trips with the same meaning and key order", arguments: samples)
    func roundTrip(sample: String) throws {
        let path = Repo.sample(sample) + "/config.json"
        let doc = try JSONDocument(contentsOf: path)
        let out = doc.serialized(.indented)
        let again = try JSONDocument(bytes: out, name: "again")
        #expect(again.root.value == doc.root.value)
        // Key order of every object, compared through Python's order-preserving parser as a second opinion.
        let tmp = try tempDir()
        defer { cleanup(tmp) }
        try Data(out).write(to: URL(fileURLWithPath: tmp + "/out.json"))
        let r = try sh("python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); print(json.dumps(a)==json.dumps(b))' \(path) \(tmp)/out.json")
        #expect(r.stdout == "True\n")
    }

    @Test("replacing linux.seccomp leaves every other key where it was")
    func spliceKeepsOrder() throws {
        let doc = try JSONDocument(contentsOf: Repo.sample("docker-default") + "/config.json")
        let config = OCIConfig(document: doc)
        let before = doc.root.keys, linuxBefore = doc.root["linux"]!.keys
        var p = try #require(try config.seccomp())
        p.defaultAction = .killProcess
        p.defaultErrnoRet = nil
        config.setSeccomp(p)
        #expect(doc.root.keys == before)
        #expect(doc.root["linux"]!.keys == linuxBefore)
        #expect(try config.seccomp()?.defaultAction == .killProcess)
    }

    @Test("writing a profile into linux.seccomp: known keys replaced where they stand, removed when absent, new ones last, unknown ones kept")
    func seccompKeysInPlace() throws {
        let text = #"{"linux":{"seccomp":{"x-site":{"keep":[1,2]},"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"syscalls":[],"zz":true}}}"#
        let doc = try JSONDocument(bytes: Array(text.utf8), name: "t")
        let config = OCIConfig(document: doc)
        var p = try #require(try config.seccomp())
        p.defaultAction = .killProcess
        p.defaultErrnoRet = nil
        p.architectures = [.x86_64]
        config.setSeccomp(p)
        let seccomp = try #require(doc.root["linux"]?["seccomp"])
        #expect(seccomp.keys == ["x-site", "defaultAction", "syscalls", "zz", "architectures"])
        #expect(seccomp["x-site"]?.value == .object([("keep", .array([.int(1), .int(2)]))]))
        #expect(seccomp["defaultAction"]?.string == "SCMP_ACT_KILL_PROCESS")
        #expect(try config.seccomp() == p)
    }

    @Test("parse errors name the file and line:column", arguments: [
        ("{\"a\": 1,,}", "invalid JSON"),
        ("{\"a\": 99999999999999999999999}", "too big"),
        ("", "empty input"),
        ("[1, 2]", "expected a JSON object"),
        ("{\"a\": 1, \"a\": 2}", "duplicate"),
        ("{\"a\": \"\\u0000\"}", "invalid JSON"),
    ])
    func parseErrors(text: String, words: String) throws {
        #expect {
            _ = try JSONDocument(bytes: Array(text.utf8), name: "x.json")
        } throws: { e in
            let d = "\(e)"
            return d.hasPrefix("x.json") && d.contains(words)
        }
    }

    @Test("nesting deeper than the cap is an error, not a crash")
    func deepNesting() throws {
        let text = "{\"a\":" + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}"
        #expect(throws: WardenError.self) { try JSONDocument(bytes: Array(text.utf8), name: "deep.json") }
    }

    @Test("invalid UTF-8 is an error")
    func invalidUTF8() throws {
        #expect(throws: WardenError.self) { try JSONDocument(bytes: [0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d], name: "bad.json") }
    }

    @Test("atomic replace keeps mode and content; no temporary file is left", .rootOwnedFiles)
    func atomicReplace() throws {
        let dir = try tempDir()
        defer { cleanup(dir) }
        let path = dir + "/config.json"
        try "{\"a\":1}".write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o640)
        let folder = try Folder.open(dir, writers: .root)
        let old = try folder.read("config.json", shown: path)
        try folder.replace("config.json", shown: path, with: Array("{\"a\":2}".utf8), like: old.stat)
        #expect(readText(path) == "{\"a\":2}")
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attrs[.posixPermissions] as? Int) == 0o640)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["config.json"])
    }

    @Test("JSON paths print as a user reads them")
    func paths() {
        let p = JSONPath.root / "linux" / "seccomp" / "syscalls" / 3 / "args" / 0 / "value"
        #expect(p.description == "linux.seccomp.syscalls[3].args[0].value")
        #expect((JSONPath.root / "annotations" / "io.k8s.x").description == "annotations[\"io.k8s.x\"]")
    }
}

/// `sw_config_index` (`ConfigMembers`): a warm gate reads config.json's cache-key members without
/// jansson. It may vouch for less than jansson accepts, never for more, and never for another tree.
@Suite("config.json members without a parse")
struct ConfigMembersTests {
    static func text(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test("found where jansson finds them, as the same values; absent ones are null in the key")
    func found() throws {
        let doc = #"{"ociVersion":"1.0.2","annotations":{"a":"b"},"process":{"args":["sh"],"capabilities":{"bounding":["CAP_KILL"]}},"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["ptrace"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":-17,"op":"SCMP_CMP_EQ"}]}]}}}"#
        let m = try #require(ConfigMembers(Self.text(doc)))
        #expect(String(decoding: m.boundingText, as: UTF8.self) == #"["CAP_KILL"]"#)
        #expect(String(decoding: m.seccompText, as: UTF8.self).hasPrefix(#"{"defaultAction":"SCMP_ACT_ERRNO""#))
        #expect(m.annotations().map { $0.map { "\($0.0)=\($0.1)" } } == ["a=b"])
        #expect(ConfigMembers.disagreement(Self.text(doc)) == nil)
        let bare = try #require(ConfigMembers(Self.text(#"{"linux":null}"#)))
        #expect(String(decoding: bare.seccompText, as: UTF8.self) == "null" && bare.annotations()?.isEmpty == true)
        for sample in JSONTests.samples where sample != "malformed" {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: Repo.sample(sample) + "/config.json")))
            #expect(ConfigMembers(bytes) != nil, "\(sample)")
            #expect(ConfigMembers.disagreement(bytes) == nil, "\(sample)")
        }
    }

    @Test("left to jansson: what it refuses, reads otherwise, or runc reads otherwise", arguments: [
        #"{"linux":{"seccomp":{},"Seccomp":{"defaultAction":"SCMP_ACT_ALLOW"}}}"#,  // runc reads the variant
        #"{"LINUX":{"seccomp":{}}}"#, #"{"Process":{}}"#, #"{"process":{"Capabilities":{}}}"#,
        #"{"process":{"capabilities":{"BOUNDING":[]}}}"#,
        #"{"linux":{"seccomp":{}},"linux":{}}"#, #"{"a":{"k":1,"k":2}}"#,  // duplicates
        #"{"linux":{"seccom\u0070":{}}}"#, #"{"se\u0063comp":1}"#,  // an escape in a key (jansson compares decoded keys)
        #"{"linux":"x"}"#, #"{"linux":[]}"#, #"{"linux":1}"#, #"{"linux":true}"#,
        #"{"a":"\u0000"}"#, #"{"a":"\ud800"}"#, #"{"a":"\udc00\u0041"}"#, #"{"a":"\x"}"#, "{\"a\":\"\t\"}",
        #"{"a":"é"}"#, #"{"a":1.5}"#, #"{"a":1e3}"#, #"{"a":01}"#, #"{"a":-}"#, #"{"a":9223372036854775808}"#,
        #"{"a":1234567890123456789}"#, #"{"a":+1}"#, #"{"a":nul}"#, #"{"a":nullx}"#, #"{"a":truefalse}"#, #"{"a":True}"#,
        #"{"a":[1,]}"#, #"{"a":1,}"#, #"{"a" 1}"#, #"{"a":1} x"#, #"{"a":1}{}"#, "[]", "", " ", "\u{FEFF}{}",
        #"{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#,
    ])
    func leftToJansson(doc: String) {
        #expect(ConfigMembers(Self.text(doc)) == nil)
    }

    @Test("a 65-key object is left to jansson; escapes in values, -0, 18 digits and DEL are read")
    func limits() {
        let keys = (0..<65).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        #expect(ConfigMembers(Self.text("{\(keys)}")) == nil)
        #expect(ConfigMembers(Self.text("{\(keys.split(separator: ",").dropLast().joined(separator: ","))}")) != nil)
        let ok = "{\"a\":\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uFFFF \u{7f}\",\"b\":-0,\"c\":123456789012345678,\"d\":[true,false,null,{}],\"e\":{}}"
        #expect(ConfigMembers(Self.text(ok)) != nil)
        #expect(ConfigMembers.disagreement(Self.text(ok)) == nil)
    }

    /// Mutations of the real samples: bytes flipped, dropped, doubled, and JSON's special bytes and
    /// words planted. Every document it vouches for is jansson's, with the same members.
    @Test("random mutations of the samples: whatever it vouches for, jansson reads the same")
    func mutations() throws {
        var rng = SystemRandomNumberGenerator()
        let plants: [[UInt8]] = ["\\", "\"", "\\u0000", "\\ud800", "é", "1e5", "Linux", "SECCOMP", "\"seccomp\":{},",
                                 "\"linux\":null,", "\"annotations\":{\"x\":1},", "null", ",", "}", "]", "{", "[", "\u{1}", "-", "0"].map { Array($0.utf8) }
        var vouched = 0, left = 0
        for sample in ["docker-default", "arg-rules", "no-seccomp", "exempt", "weak-allow"] {
            let base = Array(try Data(contentsOf: URL(fileURLWithPath: Repo.sample(sample) + "/config.json")))
            for _ in 0..<3000 {
                var b = base
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    let at = Int.random(in: 0..<b.count, using: &rng)
                    switch Int.random(in: 0..<4, using: &rng) {
                    case 0: b[at] = UInt8.random(in: 0...255, using: &rng)
                    case 1: b.remove(at: at)
                    case 2: b.insert(b[at], at: at)
                    default: b.insert(contentsOf: plants.randomElement(using: &rng)!, at: at)
                    }
                    if b.isEmpty { b = [0x7b] }
                }
                if let why = ConfigMembers.disagreement(b) {
                    Issue.record("\(sample): \(why): \(String(decoding: b, as: UTF8.self))")
                    return
                }
                if ConfigMembers(b) != nil { vouched += 1 } else { left += 1 }
            }
        }
        // Both sides are exercised: many mutants still read, many are left to jansson.
        #expect(vouched > 1000 && left > 1000, "vouched \(vouched), left \(left)")
    }
}
