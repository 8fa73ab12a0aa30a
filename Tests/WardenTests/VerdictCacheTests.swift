import WardenCore
import Foundation
import Testing
@testable import WardenJSON
@testable import WardenPolicy
@testable import WardenHost
@testable import WardenVerify
@testable import WardenSeccomp
@testable import WardenSpec

/// The verdict cache: a hit gives exactly what computing gives, and nothing an untrusted hand wrote is read.
@Suite("Verdict cache")
struct VerdictCacheTests {
    func config(_ sample: String) throws -> OCIConfig {
        OCIConfig(document: try JSONDocument(contentsOf: Repo.sample(sample) + "/config.json"))
    }

    @Test("a second evaluation is a hit with the same verdict and profile; a weak profile never turns compliant",
          arguments: ["no-seccomp", "weak-allow", "docker-default", "arg-rules"])
    func hit(sample: String) throws {
        let dir = try tempDir("cache")
        defer { cleanup(dir) }
        let cache = VerdictCache(directory: dir + "/verdicts")
        let policy = try builtinPolicy()
        let first = try Evaluation.evaluate(try config(sample), policy: policy, cache: cache)
        let second = try Evaluation.evaluate(try config(sample), policy: policy, cache: cache)
        #expect(!first.cached && second.cached)
        #expect(first.verdict == second.verdict)
        #expect(first.profile?.json == second.profile?.json)
        #expect(first.changes.map(\.description) == second.changes.map(\.description))
        var st = stat()
        #expect(stat(dir + "/verdicts", &st) == 0 && st.st_mode & 0o777 == 0o700)
        // The gate's question gets the same answer from the cache.
        let gate = try Evaluation.evaluate(try config(sample), policy: policy, needsProfile: false, cache: cache)
        #expect(gate.cached && gate.verdict == first.verdict)
    }

    @Test("another policy, or another seccomp section, is a miss")
    func keyed() throws {
        let dir = try tempDir("cache-key")
        defer { cleanup(dir) }
        let cache = VerdictCache(directory: dir + "/verdicts")
        var policy = try builtinPolicy()
        _ = try Evaluation.evaluate(try config("weak-allow"), policy: policy, cache: cache)
        policy.digest = "0000000000000000"
        #expect(!(try Evaluation.evaluate(try config("weak-allow"), policy: policy, cache: cache)).cached)
        // The same policy file but another effective policy: a deny file it names has changed.
        try #"{"deny": ["builtin", "extra.json"]}"#.write(toFile: dir + "/policy.json", atomically: false, encoding: .utf8)
        let extra = #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["NAME"], "action": "SCMP_ACT_ERRNO"}]}"#
        try extra.replacingOccurrences(of: "NAME", with: "chmod").write(toFile: dir + "/extra.json", atomically: false, encoding: .utf8)
        let before = try Policy.load(file: dir + "/policy.json", checkOwnership: false)
        let first = try Evaluation.evaluate(try config("weak-allow"), policy: before, cache: cache)
        #expect(try Evaluation.evaluate(try config("weak-allow"), policy: before, cache: cache).cached)  // positive control
        try extra.replacingOccurrences(of: "NAME", with: "fchmod").write(toFile: dir + "/extra.json", atomically: false, encoding: .utf8)
        let after = try Policy.load(file: dir + "/policy.json", checkOwnership: false)
        let second = try Evaluation.evaluate(try config("weak-allow"), policy: after, cache: cache)
        #expect(!second.cached)
        #expect(first.changes.map(\.description) != second.changes.map(\.description))
        let c = try config("weak-allow")
        let seccomp = c.document.object(at: c.document.object(at: c.document.root, key: "linux"), key: "seccomp")
        c.document.set(.string("SCMP_ACT_LOG"), at: seccomp, key: "defaultAction")
        let e = try Evaluation.evaluate(c, policy: policy, cache: cache)
        #expect(!e.cached)
    }

    @Test("a key runc reads as linux or seccomp (Go's JSON ignores case) is refused, not answered from the cache of the section beside it")
    func caseVariantBesideCachedSection() throws {
        let dir = try tempDir("cache-case")
        defer { cleanup(dir) }
        let cache = VerdictCache(directory: dir + "/verdicts")
        let policy = try builtinPolicy()
        _ = try Evaluation.evaluate(try config("docker-default"), policy: policy, cache: cache)
        // The same linux.seccomp byte for byte, and beside it what runc 1.1.5 would load instead.
        for (parentKey, key) in [("linux", "Seccomp"), ("root", "LINUX")] {
            let c = try config("docker-default")
            let parent = parentKey == "root" ? c.document.root : c.document.object(at: c.document.root, key: "linux")
            let weak: JSON = .object([("defaultAction", .string("SCMP_ACT_ALLOW"))])
            c.document.set(key == "LINUX" ? .object([("seccomp", weak)]) : weak, at: parent, key: key)
            #expect(throws: WardenError.self, "\(key)") { try Evaluation.evaluate(c, policy: policy, cache: cache) }
            #expect(throws: WardenError.self, "\(key)") { try Evaluation.evaluate(c, policy: policy, needsProfile: false, cache: cache) }
        }
    }

    @Test("red team: a policy changed after load (other deny rules, other architectures) is not served its original's verdicts")
    func replacedPolicy() throws {
        let dir = try tempDir("cache-replaced")
        defer { cleanup(dir) }
        let cache = VerdictCache(directory: dir + "/verdicts")
        let policy = try builtinPolicy()
        let first = try Evaluation.evaluate(try config("docker-default"), policy: policy, cache: cache)
        #expect(try Evaluation.evaluate(try config("docker-default"), policy: policy, cache: cache).cached)  // positive control
        for other in [policy.replacing(deny: [], architectures: nil),
                      policy.replacing(deny: Builtin.denyRules, architectures: [.x86_64])] {
            let uncached = try Evaluation.evaluate(try config("docker-default"), policy: other)
            let e = try Evaluation.evaluate(try config("docker-default"), policy: other, cache: cache)
            #expect(!e.cached && e.verdict == uncached.verdict, "\(first.summary) served for \(uncached.summary)")
            #expect(e.changes.map(\.description) == uncached.changes.map(\.description))
        }
    }

    @Test("red team: a linux that is not an object (an error, computed) is not served the entry of a config with no linux.seccomp")
    func linuxNotAnObject() throws {
        let dir = try tempDir("cache-linux")
        defer { cleanup(dir) }
        let cache = VerdictCache(directory: dir + "/verdicts")
        let policy = try builtinPolicy()
        // A config with no seccomp section: injected, and kept (its text ready to splice).
        let stored = try Evaluation.evaluate(try config("no-seccomp"), policy: policy, cache: cache, splice: true)
        #expect(stored.verdict == .injected && stored.written != nil)
        #expect(try Evaluation.evaluate(try config("no-seccomp"), policy: policy, cache: cache, splice: true).cached)  // positive control
        // The same config with a linux no runtime can read: computed, it is an error (the hook fails closed);
        // it must not be answered "injected" from the entry above (precreate would write a config).
        for value: JSON in [.string("x"), .array([]), .array([.object([("seccomp", .object([("defaultAction", .string("SCMP_ACT_ALLOW"))]))])]), .int(1), .bool(true)] {
            let c = try config("no-seccomp")
            c.document.set(value, at: c.document.root, key: "linux")
            #expect(throws: WardenError.self, "\(value)") { try Evaluation.evaluate(c, policy: policy) }
            #expect(throws: WardenError.self, "\(value)") { try Evaluation.evaluate(c, policy: policy, cache: cache, splice: true) }
            #expect(throws: WardenError.self, "\(value)") { try Evaluation.evaluate(c, policy: policy, cache: cache) }
            #expect(throws: WardenError.self, "\(value)") { try Evaluation.evaluate(c, policy: policy, needsProfile: false, cache: cache) }
        }
    }

    @Test("an untrusted folder or entry is never read: group-writable folder, foreign owner, forged input")
    func untrusted() throws {
        let dir = try tempDir("cache-bad")
        defer { cleanup(dir) }
        let policy = try builtinPolicy()
        let weak = try config("weak-allow")
        let key = try #require(VerdictCache.input(weak, policy: policy))
        // A folder anyone can write: nothing cached, nothing read.
        let open = dir + "/open"
        try FileManager.default.createDirectory(atPath: open, withIntermediateDirectories: true)
        chmod(open, 0o777)
        let loose = VerdictCache(directory: open)
        _ = try Evaluation.evaluate(weak, policy: policy, cache: loose)
        #expect(try FileManager.default.contentsOfDirectory(atPath: open).isEmpty)

        // A forged "compliant" entry under the right name, but for another input: a miss.
        let cache = VerdictCache(directory: dir + "/verdicts")
        _ = cache.openTrustedDirectory(create: true).map { close($0) }
        let fields: [(String, JSON)] = [("verdict", .string("compliant")), ("reason", .null), ("changes", .array([])), ("profile", .null)]
        let forged = Data(VerdictCache.entry(Array("v1 something else".utf8), fields))
        try forged.write(to: URL(fileURLWithPath: dir + "/verdicts/" + fnv1a(key)))
        chmod(dir + "/verdicts/" + fnv1a(key), 0o600)
        #expect(try Evaluation.evaluate(weak, policy: policy, cache: cache).verdict == .tightened)

        // The right input, but a file someone else owns (or could write): ignored.
        let right = Data(VerdictCache.entry(key, fields))
        for (owner, mode) in [(65534 as uid_t, 0o600 as mode_t), (0, 0o666)] {
            try right.write(to: URL(fileURLWithPath: dir + "/verdicts/" + fnv1a(key)))
            chown(dir + "/verdicts/" + fnv1a(key), owner, 0)
            chmod(dir + "/verdicts/" + fnv1a(key), mode)
            #expect(cache.lookup(weak, policy: policy) == nil, "owner \(owner) mode \(String(mode, radix: 8))")
        }
        // Positive control: the same bytes owned by root, 0600, are a hit (so the checks above are what refused it).
        chown(dir + "/verdicts/" + fnv1a(key), 0, 0)
        chmod(dir + "/verdicts/" + fnv1a(key), 0o600)
        #expect(cache.lookup(weak, policy: policy)?.verdict == .compliant)
    }

    /// A config.json (the docker-default sample) carrying `profile` as its linux.seccomp.
    func config(with profile: LinuxSeccomp) throws -> OCIConfig {
        let c = try config("docker-default")
        c.document.set(profile.json, at: c.document.object(at: c.document.root, key: "linux"), key: "seccomp")
        return c
    }

    /// The fixtures' real profiles, converted as Docker and podman would hand them over.
    static func fixture(_ file: String) throws -> LinuxSeccomp {
        try loadProfile(file: Repo.fixtures + "/" + file,
                        context: ConversionContext(capabilities: ConversionContext.dockerDefaultCapabilities, arch: .x86_64, kernel: KernelVersion(6, 1)))
    }

    @Test("cold and warm give the same verdict, profile and changes on the real Docker and podman profiles, as given and tightened",
          arguments: ["docker-default.json", "podman-default.json"])
    func coldWarmFixtures(file: String) throws {
        let dir = try tempDir("cache-fixture")
        defer { cleanup(dir) }
        let cache = VerdictCache(directory: dir + "/verdicts")
        let policy = try builtinPolicy()
        let given = try Self.fixture(file)
        let tightened = try #require(try Evaluation.evaluate(try config(with: given), policy: policy).profile)
        for (profile, want) in [(given, Verdict.tightened), (tightened, .compliant)] {
            let uncached = try Evaluation.evaluate(try config(with: profile), policy: policy)
            let cold = try Evaluation.evaluate(try config(with: profile), policy: policy, cache: cache)
            let warm = try Evaluation.evaluate(try config(with: profile), policy: policy, cache: cache)
            #expect(!cold.cached && warm.cached)
            #expect(uncached.verdict == want && cold.verdict == want && warm.verdict == want)
            #expect(cold.profile?.json == uncached.profile?.json && warm.profile?.json == uncached.profile?.json)
            #expect(warm.changes.map(\.description) == uncached.changes.map(\.description))
            // A gate (no profile wanted) gets the same verdict from the same entry.
            let gate = try Evaluation.evaluate(try config(with: profile), policy: policy, needsProfile: false, cache: cache)
            #expect(gate.cached && gate.verdict == want)
        }
    }

    @Test("precreate's splice: cold, warm and the decoded write give the same bytes, the profile never parsed on a hit",
          arguments: ["no-seccomp", "weak-allow", "docker-default", "arg-rules"])
    func spliceSameBytes(sample: String) throws {
        let dir = try tempDir("cache-splice")
        defer { cleanup(dir) }
        let cache = VerdictCache(directory: dir + "/verdicts")
        let policy = try builtinPolicy()
        // What precreate wrote before the splice: the decoded profile set, the whole config serialized.
        let plain = try config(sample)
        let e = try Evaluation.evaluate(plain, policy: policy)
        let profile = try #require(e.profile)
        plain.setSeccomp(profile)
        let want = plain.document.serialized(.compact)
        let cold = try config(sample)
        let c = try Evaluation.evaluate(cold, policy: policy, cache: cache, splice: true)
        let warm = try config(sample)
        let w = try Evaluation.evaluate(warm, policy: policy, cache: cache, splice: true)
        #expect(!c.cached && w.cached && w.profile == nil)
        let coldText = try #require(c.written)
        let warmText = try #require(w.written)
        #expect(cold.compactWritingSeccomp(coldText) == want)
        #expect(warm.compactWritingSeccomp(warmText) == want)
        // The wrapper (no splice) still gets the decoded profile from the same entry.
        let decoded = try Evaluation.evaluate(try config(sample), policy: policy, cache: cache)
        #expect(decoded.cached && decoded.profile?.json == profile.json)
    }

    @Test("red team: the splice's placeholder cannot be planted: keys and strings spelled like it elsewhere do not move it")
    func splicePlanted() throws {
        // Other "seccomp" keys holding numbers, and strings spelling the key and a number, around the real one.
        let text = #"{"annotations":{"seccomp":"\"seccomp\":4611686018427387904"},"a":{"seccomp":4611686018427387904},"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW"},"z":1}}"#
        let config = OCIConfig(document: try JSONDocument(bytes: Array(text.utf8), name: "c"))
        let out = try #require(config.compactWritingSeccomp(Array(#"{"defaultAction":"SCMP_ACT_ERRNO"}"#.utf8)))
        let back = try JSONDocument(bytes: out, name: "out")
        #expect(back.root["linux"]?["seccomp"]?["defaultAction"]?.string == "SCMP_ACT_ERRNO")
        #expect(back.root["a"]?["seccomp"]?.int64 == 4611686018427387904)
        #expect(back.root["annotations"]?["seccomp"]?.string == #""seccomp":4611686018427387904"#)
        #expect(back.root["linux"]?["z"]?.int64 == 1)
    }

    @Test("red team: the splice's placeholder is searched for with its key (\"seccomp\":N), not as a bare :N another key's number could match")
    func spliceNeedleNamesKey() throws {
        let n: Int64 = 4611686018427387904
        // Another key holding the placeholder's number: only "seccomp":N is the placeholder.
        let text = #"{"a":{"x":4611686018427387904},"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW"},"z":1}}"#
        let doc = try JSONDocument(bytes: Array(text.utf8), name: "c")
        let linux = try #require(doc.root["linux"])
        let out = try #require(doc.compactSplicing(Array(#"{"defaultAction":"SCMP_ACT_ERRNO"}"#.utf8), at: linux, key: "seccomp", nonce: n),
                               "the placeholder was not found once")
        #expect(String(decoding: out, as: UTF8.self)
                == #"{"a":{"x":4611686018427387904},"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ERRNO"},"z":1}}"#)
    }

    @Test("the key's exact form tells apart what serialization would: split strings, types, numbers, key order, nesting")
    func exactFormApart() throws {
        func form(_ text: String) throws -> [UInt8] {
            let doc = try JSONDocument(bytes: Array("{\"v\":\(text)}".utf8), name: "f")
            return try withExtendedLifetime(doc) { try #require(doc.root["v"]?.exactForm) }
        }
        let pairs: [(String, String)] = [
            (#"["a","b"]"#, #"["ab"]"#), (#"["a","b"]"#, #"[["a","b"]]"#), (#"{"a":1}"#, #"{"a":"1"}"#),
            ("1", "1.0"), ("0.0", "-0.0"), ("true", "1"), ("null", "false"), (#""""#, "null"),
            (#"{"a":1,"b":2}"#, #"{"b":2,"a":1}"#),
            (#"{"ab":[]}"#, #"{"a":{"b":[]}}"#), ("[[],[]]", "[[[]]]"), (#"["a",["b"]]"#, #"[["a"],"b"]"#),
            ("-1", "18446744073709551615.0"), (#"{}"#, "[]"),
        ]
        for (a, b) in pairs {
            #expect(try form(a) != form(b), "\(a) and \(b)")
            #expect(try form(a) == form(a), "\(a) twice")
        }
    }

    @Test("red team: a gate's tightened profile (never checked against libseccomp, never proved) is not served to a writer")
    func gateEntryNotServedToWriter() throws {
        let dir = try tempDir("cache-gate")
        defer { cleanup(dir) }
        let cache = VerdictCache(directory: dir + "/verdicts")
        let policy = try builtinPolicy()
        // On x86 libseccomp turns socket into socketcall: an ALLOW socket(1) then a TRAP socketcall(1)
        // collide (EEXIST), so runc refuses this profile ("error adding seccomp rule for syscall
        // socketcall: file exists"). keyctl makes it need tightening.
        let profile = LinuxSeccomp(defaultAction: .errno, defaultErrnoRet: 1, architectures: [.x86_64, .x86], syscalls: [
            LinuxSyscall(names: ["socket"], action: .allow, args: [LinuxSeccompArg(index: 0, value: 1, op: .equal)]),
            LinuxSyscall(names: ["socketcall"], action: .trap, args: [LinuxSeccompArg(index: 0, value: 1, op: .equal)]),
            LinuxSyscall(names: ["keyctl", "read"], action: .allow),
        ])
        let uncached = try Evaluation.evaluate(try config(with: profile), policy: policy)
        let written = try #require(uncached.profile)
        _ = try Compiler.compile(written)
        // The createRuntime gate runs first (same config, same policy, same binary) ...
        let gate = try Evaluation.evaluate(try config(with: profile), policy: policy, needsProfile: false, cache: cache)
        #expect(gate.verdict == .tightened)
        // A second gate still reads the gate's verdict from the cache.
        let again = try Evaluation.evaluate(try config(with: profile), policy: policy, needsProfile: false, cache: cache)
        #expect(again.cached && again.verdict == .tightened && again.profile == nil)
        // ... then the writer (precreate, the wrapper) must write what it computes itself.
        let writer = try Evaluation.evaluate(try config(with: profile), policy: policy, cache: cache)
        #expect(writer.verdict == uncached.verdict)
        #expect(writer.profile?.json == written.json, "the writer got the gate's unchecked profile")
        if let p = writer.profile { #expect((try? Compiler.compile(p)) != nil, "libseccomp (and runc) refuse the written profile") }
    }

    @Test("red team: a profile one byte away from a cached one is not served its verdict")
    func oneByte() throws {
        let dir = try tempDir("cache-byte")
        defer { cleanup(dir) }
        let cache = VerdictCache(directory: dir + "/verdicts")
        let policy = try builtinPolicy()
        // Docker's default, tightened: compliant, and cached as such.
        let tightened = try #require(try Evaluation.evaluate(try config("docker-default"), policy: policy).profile)
        let stored = try Evaluation.evaluate(try config(with: tightened), policy: policy, cache: cache)
        #expect(stored.verdict == .compliant && !stored.cached)
        #expect(try Evaluation.evaluate(try config(with: tightened), policy: policy, cache: cache).cached)
        // One byte: the default's errno 1 becomes 0 (ERRNO(0) tells the caller the call succeeded).
        let text = String(decoding: try config(with: tightened).document.serialized(.compact), as: UTF8.self)
        let changed = text.replacingOccurrences(of: #""defaultErrnoRet":1"#, with: #""defaultErrnoRet":0"#)
        #expect(changed.utf8.count == text.utf8.count && changed != text)
        let e = try Evaluation.evaluate(OCIConfig(document: try JSONDocument(bytes: Array(changed.utf8), name: "changed")), policy: policy, cache: cache)
        let uncached = try Evaluation.evaluate(OCIConfig(document: try JSONDocument(bytes: Array(changed.utf8), name: "changed")), policy: policy)
        #expect(!e.cached && e.verdict == uncached.verdict)
        #expect(e.verdict != .compliant, "ERRNO(0) as the default does not meet the baseline: \(e.summary)")
    }

    @Test("red team: an entry whose stored input differs in its last byte, is cut short or states another length is a miss")
    func entryForms() throws {
        let dir = try tempDir("cache-forms")
        defer { cleanup(dir) }
        let cache = VerdictCache(directory: dir + "/verdicts")
        let key = Array("v1 some input".utf8)
        let path = dir + "/verdicts/" + fnv1a(key)
        cache.write(key, [("holds", .bool(true))])
        // Positive control: the entry as written is read back.
        let doc = cache.read(key)
        withExtendedLifetime(doc) { #expect(doc?.root["holds"]?.bool == true) }
        let good = VerdictCache.entry(key, [("holds", .bool(true))])
        let lastByte = VerdictCache.entry(Array("v1 some inpuT".utf8), [("holds", .bool(true))])
        let longer = VerdictCache.entry(key + [0x20], [("holds", .bool(true))])
        let shorter = VerdictCache.entry(Array(key.dropLast()), [("holds", .bool(true))])
        // The length line says one byte more than the input holds.
        let at = VerdictCache.entryHeader.count
        var lying = good
        lying.replaceSubrange(at..<(at + 2), with: Array("14".utf8))
        for (what, bytes) in [("last byte", lastByte), ("longer", longer), ("shorter", shorter), ("cut short", Array(good.dropLast(5))),
                              ("wrong length", lying), ("no header", Array(good.dropFirst(at)))] {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            chmod(path, 0o600)
            #expect(cache.read(key) == nil, "\(what)")
        }
        // And the good bytes written the same way are read (so the refusals above are the content's).
        try Data(good).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o600)
        #expect(cache.read(key) != nil)
    }
}


@Test("red team: the cache key keeps capability lists apart (one name with a comma is not two names)")
func capabilityListsApart() throws {
    let policy = try builtinPolicy()
    func input(_ caps: String) throws -> [UInt8] {
        let text = #"{"process": {"capabilities": {"bounding": \#(caps)}}, "linux": {}}"#
        return try #require(VerdictCache.input(OCIConfig(document: try JSONDocument(bytes: Array(text.utf8), name: "c")), policy: policy))
    }
    #expect(try input(#"["CAP_SYS_ADMIN", "CAP_CHOWN"]"#) != input(#"["CAP_SYS_ADMIN,CAP_CHOWN"]"#))
    #expect(try input(#"["CAP_CHOWN"]"#) == input(#"["CAP_CHOWN"]"#))
}

@Suite("Verdict cache: bounds and the verifier's chains")
struct VerdictCacheBoundsTests {
    func entries(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasPrefix(".") }
    }

    @Test("past its bound the oldest entries go, down to three quarters; the newest stay readable")
    func bounded() throws {
        let dir = try tempDir("cache-bound")
        defer { cleanup(dir) }
        let cache = VerdictCache(directory: dir + "/verdicts")
        for i in 0..<20 {
            cache.write(Array("key \(i)".utf8), [("n", .int(Int64(i)))])
            // Distinct write times even on a coarse clock: eviction goes by them.
            var t = [timespec(tv_sec: time(nil) - 100 + i, tv_nsec: 0), timespec(tv_sec: time(nil) - 100 + i, tv_nsec: 0)]
            #expect(utimensat(AT_FDCWD, dir + "/verdicts/" + fnv1a(Array("key \(i)".utf8)), &t, 0) == 0)
        }
        #expect(try entries(dir + "/verdicts").count == 20)
        let fd = try #require(cache.openTrustedDirectory(create: false))
        cache.evict(fd, maxEntries: 16)
        close(fd)
        let left = try entries(dir + "/verdicts")
        #expect(left.count == 12, "\(left)")
        for i in 0..<8 { #expect(cache.read(Array("key \(i)".utf8)) == nil, "key \(i) should be gone") }
        for i in 8..<20 {
            let doc = cache.read(Array("key \(i)".utf8))
            withExtendedLifetime(doc) { #expect(doc?.root["n"]?.int64 == Int64(i), "key \(i) should stay") }
        }
        // The byte bound too: 12 entries of a few dozen bytes are over a 100-byte budget.
        let again = try #require(cache.openTrustedDirectory(create: false))
        cache.evict(again, maxEntries: 1000, maxBytes: 100)
        close(again)
        let bytes = try entries(dir + "/verdicts").map { try FileManager.default.attributesOfItem(atPath: dir + "/verdicts/" + $0)[.size] as! Int }
        #expect(bytes.reduce(0, +) <= 75 && !bytes.isEmpty, "\(bytes)")
        // An entry over the per-entry bound is not kept at all.
        cache.write(Array("huge".utf8), [("blob", .string(String(repeating: "x", count: VerdictCache.maxEntryBytes)))])
        #expect(cache.read(Array("huge".utf8)) == nil)
    }

    @Test("the verifier's judgement of a chain that holds is cached (same answer), one that falls short never is")
    func chains() throws {
        let dir = try tempDir("cache-chain")
        defer { cleanup(dir) }
        let policy = try Policy.builtin()
        var judge = try ChainJudge(policy: policy, config: nil)
        judge.cache = VerdictCache(directory: dir + "/verdicts")
        let injected = try Compiler.compile(try Tighten.tighten(nil, policy: policy).profile)
        let weak = try Compiler.compile(try #require(try Bundle.loadConfig(Repo.sample("weak-allow")).seccomp()))
        let first = judge.judge([injected])
        #expect(first.findings.isEmpty && first.undecided.isEmpty)
        #expect(try entries(dir + "/verdicts").count == 1)
        let key = judge.cacheKey([injected])
        let entry = judge.cache?.read(key)
        withExtendedLifetime(entry) { #expect(entry?.root["holds"]?.bool == true) }
        let second = judge.judge([injected])
        #expect(second.findings.isEmpty && second.proofs == first.proofs)
        // Falls short: found every time, nothing written.
        #expect(judge.judge([weak]).findings.contains { $0.name == "keyctl" })
        #expect(judge.judge([weak]).findings.contains { $0.name == "keyctl" })
        #expect(try entries(dir + "/verdicts").count == 1)
        // One instruction changed, another filter in the chain, other routes: other keys.
        var changed = injected
        changed.instructions[changed.instructions.count - 1].k ^= 1
        #expect(judge.cacheKey([changed]) != key)
        #expect(judge.cacheKey([injected, injected]) != key)
        let fewer = ChainJudge(routes: Array(judge.routes.dropLast()))
        #expect(fewer.cacheKey([injected]) != key)
        // A forged "holds" for the weak chain under another input is a miss: the weak chain is still found short.
        let weakKey = judge.cacheKey([weak])
        try Data(VerdictCache.entry(Array("chain v1 forged".utf8), [("holds", .bool(true))])).write(to: URL(fileURLWithPath: dir + "/verdicts/" + fnv1a(weakKey)))
        chmod(dir + "/verdicts/" + fnv1a(weakKey), 0o600)
        #expect(judge.judge([weak]).findings.contains { $0.name == "keyctl" })
    }

    @Test("the chain key's instructions are the kernel's 8 bytes each, after each filter's count, and the /proc byte helpers read lines and paths exactly")
    func keyBytesAndProcHelpers() throws {
        let judge = ChainJudge(routes: [])
        let a = BPFProgram([BPFInstruction(code: 0x0015, jt: 1, jf: 2, k: 0xc000_003e), BPFInstruction(code: 0x0006, jt: 0, jf: 0, k: 0x7fff_0000)])
        let b = BPFProgram([BPFInstruction(code: 0x0006, jt: 0, jf: 0, k: 0x0005_0001)])
        let key = judge.cacheKey([a, b])
        let bpf: [UInt8] = [2, 0, 0, 0, 0x15, 0, 1, 2, 0x3e, 0, 0, 0xc0, 0x06, 0, 0, 0, 0, 0, 0xff, 0x7f,
                            1, 0, 0, 0, 0x06, 0, 0, 0, 1, 0, 5, 0]
        #expect(Array(key.suffix(bpf.count + 4)) == Array(" bpf".utf8) + bpf)
        // The counts keep filters apart: [a, b] and one filter of a's and b's instructions differ.
        #expect(judge.cacheKey([BPFProgram(a.instructions + b.instructions)]) != key)
        // A line is one only byte for byte, whole, at any place in the file; no empty line matches.
        let text = Array("12:pids:/a\n0::/b/c\n4:memory:/a\u{301}\n".utf8) + [0xff, 0x3a, 0x2f, 0x78]
        let n = text.count
        #expect(ProcDir.anyLine(of: text, n, in: [Array("0::/b/c".utf8)]))
        #expect(ProcDir.anyLine(of: text, n, in: [Array("12:pids:/a".utf8)]))
        #expect(ProcDir.anyLine(of: text, n, in: [[0xff, 0x3a, 0x2f, 0x78]]))
        #expect(!ProcDir.anyLine(of: text, n, in: [Array("0::/b".utf8), Array("4:memory:/a".utf8), Array("4:memory:/\u{e1}".utf8), [0xff, 0x3a, 0x2f]]))
        #expect(!ProcDir.anyLine(of: text, n - 1, in: [[0xff, 0x3a, 0x2f, 0x78]]))
        // Paths relative to /proc, and reads of them, as ProcFS reads the same files.
        let proc = try #require(ProcDir())
        defer { proc.close() }
        var buf = [UInt8](repeating: 0, count: 8)
        let me = getpid()
        let link = try #require(proc.readLink(me, "ns/pid", into: &buf))
        #expect(String(decoding: buf[0..<link], as: UTF8.self) == ProcFS.readLink("/proc/self/ns/pid").map { String($0.prefix(8)) })
        buf = [UInt8](repeating: 0, count: 4)
        let read = try #require(proc.read(me, "cgroup", into: &buf))
        #expect(Array(buf[0..<read]) == ProcFS.read("/proc/self/cgroup"))
        #expect(proc.read(Int32.max, "cgroup", into: &buf) == nil)
        let pids = ProcFS.pids()  // one listing: processes come and go between two (other suites run beside)
        #expect(pids.contains(me) && pids == pids.sorted())
        #expect(ProcFS.threads(of: me).contains(me))
        // A status file read in one pass: only whole keys, the value after the first colon, blanks trimmed.
        let status = Array("Name:\t a:b \t\n\nno colon here\nSeccompx:\t0\nSeccomp:\t2\nSeccomp_filters:\t3\nNoNewPrivs:\t1\nTracerPid:\t0\nState:\tZ (zombie)\nTgid:\t42\nNSpid:\t42\t7\t1\n:\t9\nTgid2:\t5".utf8)
        let t = try #require(TaskStatus(pid: 42, tid: 43, text: status))
        #expect(t.name == "a:b" && t.seccomp == .filter && t.filters == 3 && t.noNewPrivs == true && t.tracerPid == 0)
        #expect(t.state == "Z" && t.isExited && t.tgid == 42 && t.pidNamespaceDepth == 3)
        #expect(TaskStatus(pid: 1, tid: 1, text: Array("Seccomp:\t2\n".utf8)) == nil)
        for text in ["0", "+2", "-3", "", "+", "-", "12a", "1 2", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "\u{663}", "007"] {
            let bytes = Array(text.utf8)
            #expect(bytes.withUnsafeBufferPointer { TaskStatus.integer($0) } == Int(text), "\(text)")
        }
        let mine = try #require(TaskStatus.read(pid: me, tid: me))
        #expect(mine.tgid == me && mine.pidNamespaceDepth == 1 && mine.state != nil && !mine.name.isEmpty)
        // The verifier's own status fields: whole keys at a line's start, blanks trimmed.
        #expect(Verifier.statusField(status, "Seccomp:") == "2" && Verifier.statusField(status, "Name:") == "a:b")
        #expect(Verifier.statusField(status, "NSpid:") == "42\t7\t1" && Verifier.statusField(status, "CapEff:") == nil)
        #expect(Verifier.statusField(Array("Seccomp:".utf8), "Seccomp:") == "" && Verifier.statusField([], "Seccomp:") == nil)
    }

    @Test("sorting and de-duplicating without a Set: the same answers as sorted() and Set, on every small shape and on long random input",
          arguments: [0, 1, 2, 3, 5, 256, 257, 600])
    func smallSorts(count: Int) {
        var rng = SystemRandomNumberGenerator()
        for round in 0..<200 {
            let values: [Int32] = (0..<count).map { _ in Int32.random(in: (round % 2 == 0 ? -3...3 : Int32.min...Int32.max), using: &rng) }
            for input in [values, values.sorted(), Array(values.sorted().reversed())] {
                #expect(input.sortedFew() == input.sorted())
                #expect(input.uniqueSorted() == Set(input).sorted())
                var seen = Set<Int32>()
                #expect(input.uniqueInOrder() == input.filter { seen.insert($0).inserted })
            }
            // PidMap: the same answers as a Dictionary under random inserts, updates and removals.
            var map = PidMap<Int>(), dict = [Int32: Int]()
            for (i, k) in values.enumerated() {
                let v: Int? = i % 3 == 2 ? nil : i
                map[k] = v
                dict[k] = v
                #expect(map[k] == dict[k])
            }
            #expect(map.count == dict.count && map.keys == dict.keys.sorted() && map.values == map.keys.map { dict[$0]! })
        }
    }
}

/// The warm gate from config.json's bytes (`Evaluation.cachedGate`): the parse's answer, or none.
@Suite("Verdict cache: the gate without a parse")
struct GateFromBytesTests {
    func bytes(_ sample: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: Repo.sample(sample) + "/config.json")))
    }

    @Test("cold it is a miss; after the parse's evaluation it answers the same verdict, reason and changes",
          arguments: ["no-seccomp", "weak-allow", "docker-default", "arg-rules", "exempt"])
    func sameAnswer(sample: String) throws {
        let dir = try tempDir("gate-bytes")
        defer { cleanup(dir) }
        let cache = VerdictCache(directory: dir + "/verdicts")
        let policy = try builtinPolicy()
        let b = try bytes(sample)
        let m = try #require(ConfigMembers(b))
        let parsed = try Evaluation.evaluate(try OCIConfig(bytes: b, name: "config.json"), policy: policy, needsProfile: false, cache: cache)
        if parsed.verdict == .exempt {
            // Decided by the annotations before any lookup, cold or warm.
            #expect(Evaluation.cachedGate(m, policy: policy, cache: VerdictCache(directory: dir + "/empty"))?.verdict == .exempt)
            return
        }
        #expect(Evaluation.cachedGate(m, policy: policy, cache: VerdictCache(directory: dir + "/empty")) == nil)
        let hit = try #require(Evaluation.cachedGate(m, policy: policy, cache: cache))
        #expect(hit.cached && hit.verdict == parsed.verdict && hit.reason == parsed.reason)
        #expect(hit.changes.map(\.description) == parsed.changes.map(\.description))
        // A writer reading the same bytes keys the same entry (a gate's entry is a writer's miss only
        // when it lacks the profile a writer needs).
        let writer = try Evaluation.evaluate(try OCIConfig(bytes: b, name: "config.json"), policy: policy, cache: cache)
        #expect(writer.verdict == parsed.verdict)
    }

    /// A cache holding the gate's verdict on Docker's default config, read from its bytes (checked).
    func warmedWithDockerDefault(_ dir: String) throws -> (VerdictCache, Policy, [UInt8]) {
        let cache = VerdictCache(directory: dir + "/verdicts")
        let policy = try builtinPolicy()
        let b = try bytes("docker-default")
        _ = try Evaluation.evaluate(try OCIConfig(bytes: b, name: "config.json"), policy: policy, needsProfile: false, cache: cache)
        #expect(Evaluation.cachedGate(try #require(ConfigMembers(b)), policy: policy, cache: cache) != nil)  // positive control
        return (cache, policy, b)
    }

    @Test("red team: the cached section's bytes beside a case variant, a duplicate or an escaped key are never answered from the cache")
    func plantedBeside() throws {
        let dir = try tempDir("gate-bytes-red")
        defer { cleanup(dir) }
        let (cache, policy, b) = try warmedWithDockerDefault(dir)
        let text = String(decoding: b, as: UTF8.self)
        let weak = #"{"defaultAction":"SCMP_ACT_ALLOW"}"#
        let linux = try #require(text.range(of: #""linux": {"#) ?? text.range(of: #""linux":{"#))
        for planted in [#""Seccomp": \#(weak),"#, #""SECCOMP": \#(weak),"#, #""seccomp": \#(weak),"#, #""seccom\u0070": \#(weak),"#] {
            var t = text
            t.insert(contentsOf: planted, at: linux.upperBound)
            let mutated = Array(t.utf8)
            #expect(ConfigMembers(mutated) == nil, "\(planted)")
            // The parse then refuses it (runc would read the planted section).
            #expect(throws: WardenError.self, "\(planted)") {
                try Evaluation.evaluate(try OCIConfig(bytes: mutated, name: "config.json"), policy: policy, needsProfile: false, cache: cache)
            }
        }
        var t = text
        t.insert(contentsOf: #""LINUX": {"seccomp": \#(weak)},"#, at: text.index(after: text.startIndex))
        #expect(ConfigMembers(Array(t.utf8)) == nil)
        #expect(throws: WardenError.self) {
            try Evaluation.evaluate(try OCIConfig(bytes: Array(t.utf8), name: "config.json"), policy: policy, needsProfile: false, cache: cache)
        }
    }

    @Test("red team: a weaker section or other capabilities, one byte away from a cached one, is a miss")
    func oneByteAway() throws {
        let dir = try tempDir("gate-bytes-byte")
        defer { cleanup(dir) }
        let (cache, policy, b) = try warmedWithDockerDefault(dir)
        let text = String(decoding: b, as: UTF8.self)
        var tried = 0
        for (from, to) in [("\"SCMP_ACT_ALLOW\"", "\"SCMP_ACT_LOG\""), ("\"ptrace\"", "\"ptracf\""), ("\"CAP_KILL\"", "\"CAP_BPF\""),
                           ("\"bounding\": [", "\"bounding\": [\"CAP_SYS_ADMIN\","), ("\"bounding\":[", "\"bounding\":[\"CAP_SYS_ADMIN\",")]
        where text.contains(from) {
            tried += 1
            let mutated = Array(text.replacingOccurrences(of: from, with: to).utf8)
            #expect(Evaluation.cachedGate(try #require(ConfigMembers(mutated)), policy: policy, cache: cache) == nil, "\(from)")
        }
        #expect(tried >= 3)
    }
}
