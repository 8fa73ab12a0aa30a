import Foundation
import Testing
import WardenCore
@testable import WardenHost
@testable import WardenJSON

/// runc's state.json is read by cutting out the four values the verifier needs (`runcEssentials`)
/// instead of parsing all of it. These tests hold the cut to the full parse: wherever it answers, it
/// answers what the full parse does; where it cannot be exact, it declines and the full parse runs.
@Suite("runc state: the values cut out read as the full parse reads them")
struct RuncStateTests {
    static let fixture = try! [UInt8](Data(contentsOf: URL(fileURLWithPath: Repo.fixtures + "/runc-state.json")))

    /// What each path makes of `bytes`: the record, or the error's text.
    static func viaCut(_ bytes: [UInt8]) -> String? {
        guard let small = RuntimeState.runcEssentials(bytes), let doc = try? JSONDocument(bytes: small, name: "s", allowingNUL: true) else { return nil }
        return outcome { () throws(WardenError) in try RuntimeState.runc(root: "/R", id: "c", document: doc, file: "s") }
    }

    static func viaFull(_ bytes: [UInt8]) -> String {
        outcome { () throws(WardenError) in try RuntimeState.runc(root: "/R", id: "c", document: try JSONDocument(bytes: bytes, name: "s", allowingNUL: true), file: "s") }
    }

    static func outcome(_ body: () throws(WardenError) -> ContainerRecord) -> String {
        do { let r = try body(); return "\(r.pid) \(String(describing: r.startTime)) \(String(describing: r.bundle)) \(r.ownCgroup)" } catch {
            return "error \(error.message)"
        }
    }

    @Test("runc's own state.json: cut out, read as the full parse reads it")
    func realState() throws {
        let cut = try #require(Self.viaCut(Self.fixture), "the cut declined runc's own state")
        #expect(cut == Self.viaFull(Self.fixture))
        #expect(cut.hasPrefix("20376 Optional(") && cut.contains("Optional(\"/tmp/vprof/live\") true"), "\(cut)")
        // The cut document is small: the config (its seccomp section) is left out.
        #expect(try #require(RuntimeState.runcEssentials(Self.fixture)).count < 1000)
    }

    /// Documents the cut must decline (the full parse then answers, or fails as it did).
    @Test("declined: a key written with an escape, a value read twice, trailing bytes, a config not an object, malformed", arguments: [
        #"{"init\u005fprocess_pid":7,"init_process_pid":8}"#,
        #"{"init_process_pid":7,"init_process_pid":8}"#,
        #"{"init_process_pid":7,"config":{"labels":["bundle=/a"],"labels":["bundle=/b"]}}"#,
        #"{"init_process_pid":7} x"#,
        #"{"init_process_pid":7}{"init_process_pid":8}"#,
        #"{"init_process_pid":7,"config":"bundle=/a"}"#,
        #"{"init_process_pid":7,"config":{"labels":["bundle=/a"]}"#,
        #"{"init_process_pid":7,"x":[1,2}"#,
        #"{"init_process_pid":7,"x":"unterminated}"#,
        #"{"init_process_pid":7,}"#,
        #"["init_process_pid",7]"#,
        "",
    ])
    func declined(_ text: String) {
        #expect(RuntimeState.runcEssentials(Array(text.utf8)) == nil)
    }

    /// Documents the cut answers, each as the full parse does.
    @Test("answered as the full parse answers: nested look-alikes, strings with brackets and quotes, absent values", arguments: [
        #"{"x":{"init_process_pid":999},"init_process_pid":7,"init_process_start":"12","config":{"y":{"labels":["bundle=/no"]},"labels":["bundle=/yes"]}}"#,
        #"{"s":"}\"{[","init_process_pid":7,"cgroup_paths":{"":"/sys/fs/cgroup/c"}}"#,
        #"{"init_process_pid":"7"}"#,
        #"{"init_process_pid":7}"#,
        #"{"init_process_pid":-1}"#,
        #"{"init_process_pid":2147483648}"#,
        #"{ "init_process_pid" : 7 , "config" : { "labels" : [ "bundle=/a b" ] } } "#,
        #"{"init_process_pid":7,"cgroup_paths":{},"config":{}}"#,
        #"{"init_process_pid":1e3}"#,
        #"{}"#,
    ])
    func answered(_ text: String) throws {
        let bytes = Array(text.utf8)
        let cut = try #require(Self.viaCut(bytes), "declined")
        #expect(cut == Self.viaFull(bytes))
    }

    /// runc copies a container's annotations into its state's labels, and Go's JSON allows `\u0000` in
    /// them: one such annotation made the state unreadable, so `verify --pid` lost the container's record
    /// and `verify --all` stopped for the whole node (exit 2). Now read, by the cut and by the full parse.
    @Test("an annotation with \\u0000 (copied by runc into the state's labels) neither hides the container nor stops --all")
    func nulInLabels() throws {
        let me = getpid()
        let text = #"{"id":"c","init_process_pid":\#(me),"config":{"labels":["x=a\u0000b","bundle=/b"],"y":"\u0000"},"cgroup_paths":{"":"/c"}}"#
        let cut = try #require(Self.viaCut(Array(text.utf8)))
        #expect(cut == "\(me) nil Optional(\"/b\") true")
        #expect(cut == Self.viaFull(Array(text.utf8)))
        let root = NSTemporaryDirectory() + "nul-state-\(me)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/c", withIntermediateDirectories: true)
        try text.write(toFile: root + "/c/state.json", atomically: false, encoding: .utf8)
        let all = try RuntimeState.all(roots: [root])
        #expect(all.map(\.id) == ["c"] && all.first?.bundle == "/b")
        #expect(RuntimeState.find(pid: me, roots: [root])?.id == "c")
        // crun's status too.
        try FileManager.default.removeItem(atPath: root + "/c/state.json")
        try #"{"pid":\#(me),"bundle":"/b","x":"\u0000"}"#.write(toFile: root + "/c/status", atomically: false, encoding: .utf8)
        #expect(try RuntimeState.all(roots: [root]).first?.bundle == "/b")
    }

    /// An attacker's view of the cut: runc's real state with bytes changed at random. Wherever both
    /// answer, they answer the same.
    @Test("runc's state with random bytes changed: the cut never answers otherwise than the full parse")
    func mutations() {
        var rng = SystemRandomNumberGenerator()
        let specials = Array(#"{}[]",:\ 0123456789"#.utf8) + [0x0a, 0x00, 0xff]
        var compared = 0
        for _ in 0..<3000 {
            var b = Self.fixture
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let i = Int.random(in: 0..<b.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: b[i] = specials.randomElement(using: &rng)!
                case 1: b.insert(specials.randomElement(using: &rng)!, at: i)
                default: b.remove(at: i)
                }
            }
            let full = Self.viaFull(b)
            guard let cut = Self.viaCut(b) else { continue }
            // A byte changed where the cut does not read (a string of the config) is still read by the
            // full parse: it may fail where the cut answers (or fails otherwise). Where the full parse
            // answers, the cut answers the same.
            if full.hasPrefix("error") { continue }
            compared += 1
            #expect(cut == full, "\(String(decoding: b, as: UTF8.self).prefix(300))")
        }
        #expect(compared > 500)
    }
}
