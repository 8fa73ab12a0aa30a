import Foundation
import Testing

/// Issue 11, item 3: a policy is what root wrote. The policy and every file it names are opened once
/// and checked with `fstat` on the descriptor read: owned by root, writable by no one else, in a
/// folder with the same property under folders only root can change. Names in the policy are
/// relative to its own folder; the digest covers every file that contributed.
@Suite("Policy files: what root wrote", .serialized)
struct PolicyTrustTests {
    static let user = "65534"

    /// A deny set that takes `keyctl` away (runtime-spec format, a permissive default).
    static let denyKeyctl = #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#
    /// A deny set that takes nothing away.
    static let denyNothing = #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}"#

    func write(_ text: String, _ path: String, mode: Int32 = 0o644) throws {
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, mode_t(mode))
    }

    func state(_ bundle: String) -> Data {
        Data("{\"ociVersion\": \"1.0.2\", \"id\": \"pol\", \"status\": \"creating\", \"pid\": 1, \"bundle\": \"\(bundle)\"}".utf8)
    }

    /// A bundle whose profile allows everything, keyctl included.
    func weakBundle(_ dir: String) throws -> String {
        let b = dir + "/bundle"
        try FileManager.default.createDirectory(atPath: b, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Repo.sample("weak-allow") + "/config.json", toPath: b + "/config.json")
        return b
    }

    @Test("a deny file another user can write (mode 666, or owned by them) is refused; root's own is listed with its digest",
          arguments: ["chmod 666", "chown \(user)", "control"])
    func userWritableDenyFile(change: String) throws {
        let dir = try realTempDir("pol-deny")
        defer { cleanup(dir) }
        try write(Self.denyKeyctl, dir + "/deny.json")
        try write("{\"deny\": [\"builtin\", \"\(dir)/deny.json\"]}", dir + "/policy.json", mode: 0o600)
        if change != "control" { _ = try sh("\(change) \(dir)/deny.json") }
        let r = try warden(["policy", "check", dir + "/policy.json"])
        let g = try warden(["hook", "createRuntime", "--policy", dir + "/policy.json"], input: state(try weakBundle(dir)),
                           env: ["SECCOMP_WARDEN_AUDIT_LOG": dir + "/audit.log"])
        if change == "control" {
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("  policy: \(dir)/policy.json (digest "), "\(r.stdout)")
            #expect(r.stdout.contains("  deny[1]: \(dir)/deny.json (digest "), "\(r.stdout)")
            #expect(g.status == 1 && g.stderr.contains("falls short"), "\(g.stderr)")
        } else {
            let words = change == "chmod 666" ? "\(dir)/deny.json is writable by group or others (mode 666)" : "\(dir)/deny.json is owned by uid \(Self.user), not root"
            for (via, res) in [("policy check", r), ("gate", g)] {
                #expect(res.status == 2, "\(via): \(res.stderr)")
                #expect(res.stderr.contains(words), "\(via): \(res.stderr)")
                #expect(res.stderr.split(separator: "\n").count == 1, "\(via): \(res.stderr)")
            }
        }
    }

    @Test("the digest covers the files a policy names: change a deny file, the policy's digest changes")
    func digestCoversNamedFiles() throws {
        let dir = try realTempDir("pol-digest")
        defer { cleanup(dir) }
        try write(Self.denyKeyctl, dir + "/deny.json")
        try write("{\"deny\": [\"deny.json\"]}", dir + "/policy.json", mode: 0o600)
        func digest() throws -> String {
            let r = try warden(["policy", "check", dir + "/policy.json"])
            #expect(r.status == 0, "\(r.stderr)")
            return String(r.stdout.split(separator: "digest ").dropFirst().first?.prefix(16) ?? "")
        }
        let first = try digest()
        try write(Self.denyKeyctl.replacingOccurrences(of: "keyctl", with: "add_key"), dir + "/deny.json")
        let second = try digest()
        #expect(first.count == 16 && second.count == 16 && first != second, "\(first) \(second)")
        // The gate logs the same digest it decided with.
        let g = try warden(["hook", "createRuntime", "--policy", dir + "/policy.json"], input: state(try weakBundle(dir)),
                           env: ["SECCOMP_WARDEN_AUDIT_LOG": dir + "/audit.log"])
        #expect(g.status == 1)
        #expect(readText(dir + "/audit.log").contains("\"policyDigest\":\"\(second)\""))
    }

    /// A relative name is the policy folder's: a same-named file in the bundle (a hook's current folder)
    /// or the caller's current folder is never read.
    @Test("a relative deny path is read from the policy's folder, not from the bundle the hook runs in")
    func relativeDenyPath() throws {
        let dir = try realTempDir("pol-rel")
        defer { cleanup(dir) }
        try FileManager.default.createDirectory(atPath: dir + "/etc", withIntermediateDirectories: true)
        try write(Self.denyKeyctl, dir + "/etc/site-deny.json")
        try write("{\"deny\": [\"site-deny.json\"]}", dir + "/etc/policy.json", mode: 0o600)
        let b = try weakBundle(dir)
        // The container's creator puts a permissive file of the same name in the bundle.
        try write(Self.denyNothing, b + "/site-deny.json")
        let env = ["SECCOMP_WARDEN_AUDIT_LOG": dir + "/audit.log"]
        let g = try run(Repo.binary, ["hook", "createRuntime", "--policy", dir + "/etc/policy.json"], input: state(b),
                        env: env, cwd: b)
        #expect(g.status == 1 && g.stderr.contains("keyctl"), "the bundle's site-deny.json was used: \(g.stderr)")
        let c = try run(Repo.binary, ["policy", "check", dir + "/etc/policy.json"], cwd: b)
        #expect(c.stdout.contains("deny[0]: \(dir)/etc/site-deny.json"), "\(c.stdout) \(c.stderr)")
        // After apply with that policy the gate passes: the policy's deny set is the one in force.
        #expect(try run(Repo.binary, ["apply", "--policy", dir + "/etc/policy.json", b], cwd: b).status == 0)
        let ok = try run(Repo.binary, ["hook", "createRuntime", "--policy", dir + "/etc/policy.json"], input: state(b), env: env, cwd: b)
        #expect(ok.status == 0, "\(ok.stderr)")
        // Without the file beside the policy, the policy does not load, whatever the bundle holds.
        try FileManager.default.removeItem(atPath: dir + "/etc/site-deny.json")
        let missing = try run(Repo.binary, ["hook", "createRuntime", "--policy", dir + "/etc/policy.json"], input: state(b), env: env, cwd: b)
        #expect(missing.status == 2 && missing.stderr.contains("\(dir)/etc/site-deny.json"), "\(missing.stderr)")
    }

    @Test("a policy in a folder another user can write is refused (folder theirs, or mode 777, or a folder above theirs)",
          arguments: ["chown \(user) $D/etc", "chmod 777 $D/etc", "chmod 1777 $D/etc", "mkdir $D/u && mv $D/etc $D/u/etc && chown \(user) $D/u", "control"])
    func policyFolder(change: String) throws {
        let dir = try realTempDir("pol-dir")
        defer { cleanup(dir) }
        try FileManager.default.createDirectory(atPath: dir + "/etc", withIntermediateDirectories: true)
        try write("{\"mode\": \"enforce\"}", dir + "/etc/policy.json", mode: 0o600)
        if change != "control" { _ = try sh("D=\(dir); " + change) }
        let path = change.contains("$D/u") ? dir + "/u/etc/policy.json" : dir + "/etc/policy.json"
        let r = try warden(["policy", "check", path])
        if change == "control" {
            #expect(r.status == 0, "\(r.stderr)")
        } else {
            #expect(r.status == 2, "\(change): \(r.stdout) \(r.stderr)")
            #expect(r.stderr.contains("refusing it:") && r.stderr.contains(change.contains("chown") ? "owned by uid \(Self.user)" : "writable by group or others"),
                    "\(change): \(r.stderr)")
        }
    }

    /// The attack that won 45 of 200 times: a user who may create files in the policy's folder renames
    /// their own policy (audit mode, no deny rules) over it in a loop while hooks load it.
    @Test("a user renaming their own policy over root's, in a loop: 200 loads, never accepted")
    func policySwapRace() throws {
        let dir = try realTempDir("pol-race")
        defer { cleanup(dir) }
        let r = try sh("""
            D=\(dir)
            mkdir $D/etc && chmod 1777 $D/etc
            echo '{"mode": "enforce"}' > $D/etc/policy.json && chmod 600 $D/etc/policy.json
            setpriv --reuid=\(Self.user) --regid=\(Self.user) --clear-groups sh -c 'cd \(dir)/etc; echo "{\\"mode\\": \\"audit\\", \\"deny\\": []}" > mine; while :; do cp mine .m; mv -f .m policy.json 2>/dev/null; done' 2>/dev/null & attacker=$!
            accepted=0 refused=0
            for i in $(seq 1 200); do
                out=$(\(Repo.binary) policy check $D/etc/policy.json 2>&1)
                case $out in *"valid (mode audit"*) accepted=$((accepted + 1)); echo "ACCEPTED: $out" ;; *"refusing it"*) refused=$((refused + 1)) ;; *) echo "other: $out" ;; esac
            done
            kill -KILL $attacker
            echo "accepted=$accepted refused=$refused"
            """)
        #expect(r.stdout.contains("accepted=0 refused=200"), "\(r.stdout)")
        // Positive control: the same policy in a root-only folder is valid.
        _ = try sh("mkdir \(dir)/root-etc && echo '{\"mode\": \"enforce\"}' > \(dir)/root-etc/policy.json && chmod 600 \(dir)/root-etc/policy.json")
        let ok = try warden(["policy", "check", dir + "/root-etc/policy.json"])
        #expect(ok.status == 0 && ok.stdout.contains("valid (mode enforce"), "\(ok.stderr)")
    }

    @Test("a symlinked policy in root's folders is followed; names in it are relative to the file's real folder")
    func symlinkedPolicy() throws {
        let dir = try realTempDir("pol-link")
        defer { cleanup(dir) }
        try FileManager.default.createDirectory(atPath: dir + "/etc/v2", withIntermediateDirectories: true)
        try write(Self.denyKeyctl, dir + "/etc/v2/deny.json")
        try write("{\"deny\": [\"deny.json\"]}", dir + "/etc/v2/policy.json", mode: 0o600)
        try FileManager.default.createSymbolicLink(atPath: dir + "/etc/policy.json", withDestinationPath: "v2/policy.json")
        let r = try warden(["policy", "check", dir + "/etc/policy.json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("policy: \(dir)/etc/v2/policy.json") && r.stdout.contains("deny[0]: \(dir)/etc/v2/deny.json"), "\(r.stdout)")
    }
}
