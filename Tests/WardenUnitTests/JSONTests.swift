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
