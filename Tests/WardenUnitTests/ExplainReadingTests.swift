import Foundation
import Testing

/// `explain` answers for runc's reading, and says so when crun reads the same profile otherwise
/// (red team: an unshare entry with seven flags, CLONE_NEWUSER last: runc denies unshare -U, crun
/// reads six conditions and allows it; seen with the real runtimes, RouteTests).
@Suite("explain and the runtimes' readings")
struct ExplainReadingTests {
    static func config(_ seccomp: String) -> String {
        #"{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"},"linux":{"seccomp":"# + seccomp + "}}"
    }

    @Test("seven conditions: runc's answer, then crun's where it differs")
    func sevenConditions() throws {
        // CLONE_NEWNS, NEWUTS, NEWIPC, NEWPID, NEWNET, NEWCGROUP, then NEWUSER seventh.
        let flags: [UInt64] = [0x20000, 0x0400_0000, 0x0800_0000, 0x2000_0000, 0x4000_0000, 0x0200_0000, 0x1000_0000]
        let args = flags.map { #"{"index":0,"value":\#($0),"valueTwo":\#($0),"op":"SCMP_CMP_MASKED_EQ"}"# }.joined(separator: ",")
        let dir = try tempDir("explain-reading")
        defer { cleanup(dir) }
        try Self.config(#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["unshare"],"action":"SCMP_ACT_ERRNO","args":[\#(args)]}]}"#)
            .write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        let user = try warden(["explain", dir, "--syscall", "unshare", "--args", "0x10000000"])
        #expect(user.status == 0, "\(user.stderr)")
        #expect(user.stdout.contains("action: ERRNO(1)"), "\(user.stdout)")
        #expect(user.stdout.contains("arg0 MASKED_EQ 131072/131072 || arg0 MASKED_EQ 67108864/67108864"), "runc ORs a repeated index: \(user.stdout)")
        #expect(user.stdout.contains("crun 1.8.1 reads this profile otherwise (only the first six conditions of an entry): action ALLOW"), "\(user.stdout)")
        // A flag among the first six: both readings deny, and the line says the action is the same.
        let net = try warden(["explain", dir, "--syscall", "unshare", "--args", "0x40000000"])
        #expect(net.stdout.contains("action: ERRNO(1)"), "\(net.stdout)")
        #expect(net.stdout.contains("with the same action here"), "\(net.stdout)")
    }

    @Test("six conditions or fewer: one reading, no crun line")
    func readAlike() throws {
        let dir = try tempDir("explain-alike")
        defer { cleanup(dir) }
        try Self.config(#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["unshare"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":268435456,"valueTwo":268435456,"op":"SCMP_CMP_MASKED_EQ"}]}]}"#)
            .write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        let r = try warden(["explain", dir, "--syscall", "unshare", "--args", "0x10000000"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("action: ERRNO(1)"), "\(r.stdout)")
        #expect(!r.stdout.contains("crun"), "\(r.stdout)")
    }
}
