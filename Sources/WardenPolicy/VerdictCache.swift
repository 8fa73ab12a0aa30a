import WardenCore
import WardenJSON
import WardenSpec
#if canImport(Glibc)
import Glibc
#endif

/// Verdicts and tightened profiles, kept between hook runs. On a node thousands of containers share a
/// handful of profiles, so after the first container the proof (two libseccomp compilations and a walk
/// of every route) is a file read.
///
/// Trust: only root reads or writes it, in a folder owned by root with mode 0700, and only files owned
/// by root that no one else can write are read; otherwise nothing is cached and everything is computed.
/// An entry holds its whole input (the container's seccomp section, the capabilities, the digest of
/// every policy file, the kernel's release, this binary's identity), compared byte for byte on every hit: the file name is only a
/// 64-bit hash, and a collision can only cause a miss, never a wrong answer. The input is kept as raw
/// bytes ahead of the entry's JSON (`entry`), so a hit compares it without parsing it. The verifier keeps its
/// judgements of loaded filter chains here too (`ChainJudge`). Bounded: at most `maxEntries` entries
/// and `maxBytes` bytes; past either, the oldest go.
public struct VerdictCache: Sendable {
    public let directory: String

    /// `$SECCOMP_WARDEN_CACHE` (a folder, or `off`), else /run/seccomp-warden/verdicts (a tmpfs:
    /// cleared at boot). nil when caching is off or the process is not root.
    public static func standard() -> VerdictCache? {
        guard geteuid() == 0 else { return nil }
        var dir = "/run/seccomp-warden/verdicts"
        if let env = getenv("SECCOMP_WARDEN_CACHE") {
            let value = String(cString: env)
            if value == "off" || value.isEmpty { return nil }
            dir = value
        }
        return VerdictCache(directory: dir)
    }

    /// This executable's identity: a rebuilt or upgraded binary never reads its predecessor's verdicts.
    public static let binaryIdentity: String = {
        var st = stat()
        guard stat("/proc/self/exe", &st) == 0 else { return "unknown-\(getpid())" }
        return "\(st.st_dev):\(st.st_ino):\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
    }()

    /// The running kernel's release (uname -r).
    static let kernelRelease: String = {
        var u = utsname()
        guard uname(&u) == 0 else { return "unknown" }
        return withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }()

    /// Everything a verdict depends on besides the exemption and annotation checks, which run first.
    /// nil when it cannot be built (memory ran out): then nothing is looked up or kept.
    static func input(_ config: OCIConfig, policy: Policy) -> [UInt8]? {
        if let members = config.members { return input(members, policy: policy) }
        // The seccomp section and the capabilities in their exact form (JSONNode.exactForm: lengths and
        // raw bytes; ["A,B"] and ["A","B"] differ), not serialized: that was a third of a warm gate.
        let linux = config.document.root["linux"]
        // A linux that is neither an object nor null is an error (`OCIConfig.seccomp`), never a key: its
        // seccomp would read as absent, and it would be served the entry of a config with no section.
        if let linux, linux.kind != .object && !linux.isNull { return nil }
        guard let seccomp = linux?["seccomp"].map({ $0.exactForm }) ?? Array("null".utf8),
              let caps = config.document.root["process"]?["capabilities"]?["bounding"].map({ $0.exactForm }) ?? Array("null".utf8)
        else { return nil }
        // The policy is its files (the digest covers every file the loader read, the policy file and
        // each deny set or inject profile it names) read by this binary; a Docker-format set is
        // converted for the running kernel, whose release is named too.
        var out = Array("v2 \(binaryIdentity) kernel \(kernelRelease) policy \(policy.source) \(policy.digest) caps ".utf8)
        out += caps
        out += Array(" seccomp ".utf8)
        out += seccomp
        return out
    }

    /// The same from config.json's bytes (`ConfigMembers`): the seccomp section and the capabilities as
    /// written, each after its length. Bytes that `sw_config_index` vouched for are one tree to jansson,
    /// so equal bytes are an equal input; another spelling of the same section is only a miss. "v3", not
    /// the exact form's "v2": the two never name each other's entries.
    static func input(_ members: ConfigMembers, policy: Policy) -> [UInt8] {
        let caps = members.boundingText, seccomp = members.seccompText
        var out = Array("v3 \(binaryIdentity) kernel \(kernelRelease) policy \(policy.source) \(policy.digest) caps \(caps.count) ".utf8)
        out += caps
        out += Array(" seccomp \(seccomp.count) ".utf8)
        out += seccomp
        return out
    }

    /// A warm gate's cached verdict from config.json's bytes (no profile: a gate writes none).
    func lookupGate(_ members: ConfigMembers, policy: Policy) -> Evaluation? {
        guard let entry = readEntry(VerdictCache.input(members, policy: policy)) else { return nil }
        return withExtendedLifetime(entry.fields) { evaluation(entry, withProfile: false) }
    }

    /// The cached evaluation for `config`, or nil (a miss, or a cache that cannot be trusted).
    /// `withProfile: false` (a gate): the tightened profile is left out, not decoded.
    /// `splice` (precreate): the profile as the text to write (`Evaluation.written`), not decoded.
    func lookup(_ config: OCIConfig, policy: Policy, withProfile: Bool = true, splice: Bool = false) -> Evaluation? {
        guard let key = VerdictCache.input(config, policy: policy), let entry = readEntry(key) else { return nil }
        // A node does not keep its document alive: the document is held until every node is read.
        return withExtendedLifetime(entry.fields) { evaluation(entry, withProfile: withProfile, splice: splice) }
    }

    func evaluation(_ entry: Entry, withProfile: Bool, splice: Bool = false) -> Evaluation? {
        let doc = entry.fields
        guard let verdict = doc.root["verdict"]?.string.flatMap(Verdict.init(rawValue:))
        else { return nil }
        var profile: LinuxSeccomp? = nil
        var written: [UInt8]? = nil
        if withProfile && splice && !entry.text.isEmpty {
            written = entry.text
        } else if withProfile && !entry.profile.isEmpty {
            // Parsed only here: a gate or a splicing writer never reads it.
            guard let p = try? JSONDocument(bytes: entry.profile, name: "verdict cache"),
                  let decoded = withExtendedLifetime(p, { try? LinuxSeccomp(node: p.root) }) else { return nil }
            profile = decoded
        }
        // A gate's entry (no profile): a verdict for gates only, never a writer's answer.
        if withProfile && profile == nil && written == nil && (verdict == .tightened || verdict == .injected) { return nil }
        let changes = (doc.root["changes"]?.elements ?? []).compactMap(\.string).map { Change.recorded($0) }
        var e = Evaluation(verdict: verdict, profile: profile, changes: changes, reason: doc.root["reason"]?.string, cached: true)
        e.written = written
        return e
    }

    /// Keeps `e` for `config`: a new file under a random name, renamed into place. Failures are silent:
    /// the cache is an optimisation, never a reason to fail a container.
    func store(_ e: Evaluation, for config: OCIConfig, policy: Policy) {
        guard let key = VerdictCache.input(config, policy: policy) else { return }
        write(key, [
            ("verdict", .string(e.verdict.rawValue)),
            ("reason", e.reason.map { .string($0) } ?? .null),
            ("changes", .array(e.changes.map { .string($0.description) })),
        ], text: e.profile == nil ? [] : e.written ?? [], profile: e.profile?.json.serialized(.compact) ?? [])
    }

    /// The entry whose whole input is `key` (compared byte for byte), or nil: a miss, an entry for
    /// another input under the same hash, or anything that cannot be trusted.
    public func read(_ key: [UInt8]) -> JSONDocument? { readEntry(key)?.fields }

    /// An entry as read: its JSON fields, and a writer's profile as text to splice and as JSON to
    /// decode (each empty when it has none).
    struct Entry {
        var fields: JSONDocument
        var text: [UInt8]
        var profile: [UInt8]
    }

    /// The entry for `key`.
    func readEntry(_ key: [UInt8]) -> Entry? {
        guard let dir = openTrustedDirectory(create: false) else { return nil }
        defer { close(dir) }
        let fd = openat(dir, fnv1a(key), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_uid == 0, st.st_mode & 0o022 == 0,
              Int(st.st_size) <= VerdictCache.maxEntryBytes,
              let bytes = try? FileIO.readAll(fd: fd, name: "verdict cache", sizeHint: Int(st.st_size)),
              let (text, profile, fields) = VerdictCache.sections(of: bytes, key: key),
              let doc = try? JSONDocument(bytes: Array(bytes[fields...]), name: "verdict cache")
        else { return nil }
        return Entry(fields: doc, text: Array(bytes[text]), profile: Array(bytes[profile]))
    }

    /// How an entry starts: the format, then the input's length in bytes on a line of its own.
    static let entryHeader = Array("seccomp-warden verdict cache 4\n".utf8)

    /// An entry's bytes: the header, the input's length, the input itself (raw, compared byte for byte
    /// on every read), a newline; the same for `text` (a writer's profile as it splices it in) and for
    /// `profile` (its JSON, for a writer that decodes it), each read only by who needs it; then
    /// `fields` as one JSON object.
    public static func entry(_ key: [UInt8], _ fields: [(String, JSON)], text: [UInt8] = [], profile: [UInt8] = []) -> [UInt8] {
        var out = entryHeader
        for section in [key, text, profile] { out += Array("\(section.count)\n".utf8) + section + [10] }
        return out + JSON.object(fields).serialized(.compact)
    }

    /// Where the text and the JSON of `bytes` are, if the entry is well formed and its input is `key`
    /// byte for byte.
    static func sections(of bytes: [UInt8], key: [UInt8]) -> (text: Range<Int>, profile: Range<Int>, fields: Int)? {
        let header = entryHeader.count
        guard bytes.count > header, bytes[..<header].elementsEqual(entryHeader),
              let (input, afterInput) = lengthPrefixed(bytes, at: header), input.count == key.count
        else { return nil }
        let same = bytes.withUnsafeBufferPointer { b in
            key.withUnsafeBufferPointer { k in key.isEmpty || memcmp(b.baseAddress! + input.lowerBound, k.baseAddress!, key.count) == 0 }
        }
        guard same, let (text, afterText) = lengthPrefixed(bytes, at: afterInput),
              let (profile, fields) = lengthPrefixed(bytes, at: afterText), fields < bytes.count else { return nil }
        return (text, profile, fields)
    }

    /// At `at`: a decimal length on a line of its own, that many bytes, a newline. The bytes' range and
    /// where the next section starts.
    static func lengthPrefixed(_ bytes: [UInt8], at: Int) -> (Range<Int>, Int)? {
        guard at < bytes.count, let newline = bytes[at...].firstIndex(of: 10), newline > at, newline - at <= 8,
              bytes[at..<newline].allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let length = Int(String(decoding: bytes[at..<newline], as: UTF8.self)),
              newline + 1 + length < bytes.count, bytes[newline + 1 + length] == 10
        else { return nil }
        return (newline + 1 ..< newline + 1 + length, newline + 2 + length)
    }

    /// Keeps `fields` for the input `key`: written to a new file under a random name, then renamed
    /// into place (a reader sees the old entry or the new one, never half of one). Silent on failure.
    public func write(_ key: [UInt8], _ fields: [(String, JSON)], text: [UInt8] = [], profile: [UInt8] = []) {
        let entry = VerdictCache.entry(key, fields, text: text, profile: profile)
        guard entry.count <= VerdictCache.maxEntryBytes, let dir = openTrustedDirectory(create: true) else { return }
        defer { close(dir) }
        let tmp = ".tmp-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
        let fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return }
        let written = (try? FileIO.writeAll(fd: fd, entry, name: tmp)) != nil
        close(fd)
        if !written || renameat(dir, tmp, dir, fnv1a(key)) != 0 { unlinkat(dir, tmp, 0); return }
        evict(dir)
    }

    /// Bounds: entries kept, their bytes together, one entry's bytes (a larger one is not kept).
    public static let maxEntries = 1024
    public static let maxBytes = 32 << 20
    public static let maxEntryBytes = 1 << 20

    /// Keeps the folder within `maxEntries` and `maxBytes`: when either is passed, the oldest entries
    /// (by the time they were written) go until three quarters of both are left. Temporary files of
    /// writers killed between create and rename go once they are a minute old.
    func evict(_ dir: Int32, maxEntries: Int = VerdictCache.maxEntries, maxBytes: Int = VerdictCache.maxBytes) {
        let dup = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dup >= 0, let stream = fdopendir(dup) else { if dup >= 0 { close(dup) }; return }
        var entries = [(name: String, time: Int, size: Int)]()
        var total = 0
        let now = time(nil)
        while let entry = readdir(stream) {
            var raw = entry.pointee.d_name
            let capacity = MemoryLayout.size(ofValue: raw)
            let name = withUnsafePointer(to: &raw) {
                $0.withMemoryRebound(to: CChar.self, capacity: capacity) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            var st = stat()
            guard fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            if name.hasPrefix(".tmp-") {
                if now - st.st_mtim.tv_sec > 60 { unlinkat(dir, name, 0) }
                continue
            }
            entries.append((name, st.st_mtim.tv_sec * 1_000_000_000 + st.st_mtim.tv_nsec, Int(st.st_size)))
            total += Int(st.st_size)
        }
        closedir(stream)
        guard entries.count > maxEntries || total > maxBytes else { return }
        entries.sort { $0.time < $1.time }
        var count = entries.count
        for e in entries {
            if count <= maxEntries * 3 / 4 && total <= maxBytes * 3 / 4 { break }
            if unlinkat(dir, e.name, 0) == 0 {
                count -= 1
                total -= e.size
            }
        }
    }

    /// The cache folder, if it is root's alone (created 0700 when asked and missing).
    func openTrustedDirectory(create: Bool) -> Int32? {
        if create {
            let parent = FileIO.dirname(of: directory)
            if mkdir(parent, 0o755) != 0 && errno != EEXIST { return nil }
            if mkdir(directory, 0o700) != 0 && errno != EEXIST { return nil }
        }
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_uid == 0, st.st_mode & 0o077 == 0 else { close(fd); return nil }
        return fd
    }
}
