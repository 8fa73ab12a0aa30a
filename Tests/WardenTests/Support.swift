import WardenCore
import Foundation
import Testing
@testable import WardenJSON
@testable import WardenPolicy
@testable import WardenSeccomp
@testable import WardenSpec

/// Paths and helpers shared by the tests. Foundation is fine here: tests are not on the hook path.
enum Repo {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// Real profiles the tests read (Tests/Fixtures/README.md says where each comes from).
    static let fixtures = root + "/Tests/Fixtures"
    static let samples = root + "/oci-samples"

    /// The CLI under test: $SECCOMP_WARDEN_BIN, else the debug build `swift test` just made.
    static let binary: String = ProcessInfo.processInfo.environment["SECCOMP_WARDEN_BIN"] ?? root + "/.build/debug/seccomp-warden"

    static func sample(_ name: String) -> String { samples + "/" + name }
}

struct Result {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program with arguments; stdin from `input` (or /dev/null).
@discardableResult
func run(_ exe: String, _ args: [String], input: Data? = nil, env: [String: String]? = nil, cwd: String? = nil) throws -> Result {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    if let env { p.environment = env }
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    // Output goes to files, so a full pipe can never block the child or us.
    let base = NSTemporaryDirectory() + "/warden-run-\(UUID().uuidString)"
    FileManager.default.createFile(atPath: base + ".out", contents: nil)
    FileManager.default.createFile(atPath: base + ".err", contents: nil)
    defer {
        try? FileManager.default.removeItem(atPath: base + ".out")
        try? FileManager.default.removeItem(atPath: base + ".err")
    }
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".out"))
    let err = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".err"))
    p.standardOutput = out
    p.standardError = err
    // Input comes from a file too: a child that exits before reading it (a command line refused
    // before stdin is read) must not turn our write into a SIGPIPE that ends the whole test run.
    var inFile: FileHandle? = nil
    if let input {
        FileManager.default.createFile(atPath: base + ".in", contents: input)
        inFile = try FileHandle(forReadingFrom: URL(fileURLWithPath: base + ".in"))
    }
    defer { try? FileManager.default.removeItem(atPath: base + ".in") }
    p.standardInput = inFile ?? FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    try? inFile?.close()
    try? out.close()
    try? err.close()
    let outData = FileManager.default.contents(atPath: base + ".out") ?? Data()
    let errData = FileManager.default.contents(atPath: base + ".err") ?? Data()
    return Result(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                  stderr: String(decoding: errData, as: UTF8.self))
}

/// Runs a bash script (tests that drive real runtimes are clearest as the shell commands a user types).
@discardableResult
func sh(_ script: String, env: [String: String] = [:]) throws -> Result {
    var e = ProcessInfo.processInfo.environment
    for (k, v) in env { e[k] = v }
    // Close every descriptor above stderr first: a daemon the script leaves running must not
    // inherit the one Foundation's Process watches to see the shell exit (the test would hang).
    let closeInherited = "for fd in $(ls /proc/$$/fd); do [ \"$fd\" -gt 2 ] && eval \"exec $fd>&-\" 2>/dev/null; done\n"
    return try run("/bin/bash", ["-c", closeInherited + script], env: e)
}

/// Runs the CLI. Unless a test says otherwise it sees the built-in policy, whatever /etc holds.
func warden(_ args: [String], input: Data? = nil, env: [String: String] = [:]) throws -> Result {
    var e = ProcessInfo.processInfo.environment
    e["SECCOMP_WARDEN_POLICY"] = "builtin"
    for (k, v) in env { e[k] = v }
    return try run(Repo.binary, args, input: input, env: e)
}

/// A fresh temporary folder, removed by the caller with `cleanup`.
func tempDir(_ tag: String = "warden") throws -> String {
    let dir = NSTemporaryDirectory() + "/\(tag)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func cleanup(_ dir: String) { try? FileManager.default.removeItem(atPath: dir) }

func readText(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

func loadProfile(_ text: String) throws -> LinuxSeccomp {
    let doc = try JSONDocument(bytes: Array(text.utf8), name: "test")
    return try LinuxSeccomp(node: doc.root)
}

/// The built-in policy, for tests that tweak it.
func builtinPolicy() throws -> Policy { try Policy.builtin() }

/// Argument values that cross every condition Docker's default profile tests (socket families,
/// personality values, clone namespace flags) and then some.
let sampledArgs: [UInt64] = [0, 1, 8, 37, 38, 39, 40, 41, 0x20000, 0x20008, 0xffff_ffff, 0x7E02_0000,
                             0x0002_0000, 0x1000_0000, 0x4000_0000, 0x0000_0100, UInt64.max]

/// Where two profiles' compiled filters differ for `arch`: every syscall libseccomp knows there,
/// each sampled value as the first argument alone and in every argument. Empty when they agree.
func filterDifferences(_ a: LinuxSeccomp, _ b: LinuxSeccomp, arch: SeccompArch = .x86_64, limit: Int = 20) throws -> [String] {
    let pa = try Compiler.compile(a), pb = try Compiler.compile(b)
    let token = Syscalls.token(arch)
    var out = [String]()
    for (nr, name) in Syscalls.all(arch: arch) {
        for v in sampledArgs {
            for args in [[v, 0, 0, 0, 0, 0], [v, v, v, v, v, v]] {
                let data = SeccompData(nr: nr, arch: token, args: args)
                let ra = try pa.run(data), rb = try pb.run(data)
                if ra != rb {
                    out.append("\(name)(\(args.map { String($0, radix: 16) }.joined(separator: ","))): \(ra) vs \(rb)")
                    if out.count >= limit { return out }
                }
            }
        }
    }
    return out
}

extension Trait where Self == ConditionTrait {
    /// A unit test that writes a policy (which, like sudoers, must be root's and in folders only root can
    /// change) or replaces a file in a folder that must be: it runs as root and is reported skipped, with
    /// this reason, for anyone else.
    static var rootOwnedFiles: Self {
        .enabled(if: geteuid() == 0, "writes files that must be root's (a policy, a file replaced in place): run as root")
    }
}
