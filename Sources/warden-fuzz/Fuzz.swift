// libFuzzer targets, one binary: $WARDEN_FUZZ_TARGET picks json, model, policy, docker or tighten.
// Built with -sanitize=fuzzer,address -DFUZZING by scripts/fuzz; a plain build replays files
// given as arguments through the same code, so a crash found once stays a regression case.
import WardenCore
import WardenJSON
import WardenPolicy
import WardenSeccomp
import WardenSpec
#if canImport(Glibc)
import Glibc
#endif

let target: String = getenv("WARDEN_FUZZ_TARGET").map { String(cString: $0) } ?? "json"
nonisolated(unsafe) var builtin: Policy? = nil

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch target {
    case "json": fuzzJSON(bytes)
    case "model": fuzzModel(bytes)
    case "policy": _ = try? Policy.parse(bytes: bytes, name: "fuzz")
    case "docker": fuzzDocker(bytes)
    case "tighten": fuzzTighten(bytes)
    default: fatalError("unknown WARDEN_FUZZ_TARGET \(target)")
    }
    return 0
}

/// Whatever parses must serialize and parse back to the same value.
func fuzzJSON(_ bytes: [UInt8]) {
    // A warm gate's reading of config.json without jansson (`sw_config_index`) must be jansson's.
    if let why = ConfigMembers.disagreement(bytes) { fatalError("config members: \(why)") }
    guard let doc = try? JSONDocument(bytes: bytes, name: "fuzz") else { return }
    let again = try! JSONDocument(bytes: doc.serialized(.compact), name: "again")
    precondition(again.root.value == doc.root.value, "JSON round trip changed the value")
}

/// The seccomp model: decode as a profile and as a config; what decodes must encode and decode alike.
func fuzzModel(_ bytes: [UInt8]) {
    guard let doc = try? JSONDocument(bytes: bytes, name: "fuzz") else { return }
    if let p = try? LinuxSeccomp(node: doc.root) {
        let back = try! JSONDocument(bytes: p.json.serialized(.compact), name: "back")
        precondition(try! LinuxSeccomp(node: back.root) == p, "profile encode/decode changed it")
    }
    _ = try? OCIConfig(document: doc).seccomp()
}

/// Docker/podman-format conversion, under a few contexts: what converts must be a valid profile.
func fuzzDocker(_ bytes: [UInt8]) {
    guard let doc = try? JSONDocument(bytes: bytes, name: "fuzz") else { return }
    for caps in [ConversionContext.dockerDefaultCapabilities, [], ["CAP_SYS_ADMIN", "CAP_BPF"]] {
        let context = ConversionContext(capabilities: caps, arch: .x86_64, kernel: KernelVersion(6, 1))
        guard let p = try? loadProfile(node: doc.root, context: context) else { continue }
        let back = try! JSONDocument(bytes: p.json.serialized(.compact), name: "back")
        precondition(try! LinuxSeccomp(node: back.root) == p, "converted profile does not decode back the same")
    }
}

/// Two profiles (split at the first NUL byte): the container's and the deny rules. Whatever the
/// engine accepts must come out at least as strict as both, by BPF emulation.
func fuzzTighten(_ bytes: [UInt8]) {
    let cut = bytes.firstIndex(of: 0) ?? bytes.count / 2
    guard let a = try? JSONDocument(bytes: Array(bytes[..<cut]), name: "a"), let container = try? LinuxSeccomp(node: a.root),
          let b = try? JSONDocument(bytes: Array(bytes[min(cut + 1, bytes.count)...]), name: "b"), let denyProfile = try? LinuxSeccomp(node: b.root)
    else { return }
    // libseccomp 2.5.4 can hang on overlapping multi-argument rules (runc would hang the same way;
    // the hook's deadline turns that into a refusal): keep such inputs out of the library here.
    if ((container.syscalls ?? []) + (denyProfile.syscalls ?? [])).contains(where: { ($0.args ?? []).count > 1 }) { return }
    if builtin == nil { builtin = try! Policy.builtin() }
    let policy = builtin!.replacing(deny: (denyProfile.syscalls ?? []).filter { $0.action.strictness >= SeccompAction.errno.strictness },
                                    architectures: nil)
    guard let result = try? Tighten.tighten(container, policy: policy) else { return }
    // Inputs libseccomp refuses are inputs a runtime refuses too.
    guard let bpfA = try? Compiler.compile(container), let bpfB = try? Compiler.compile(policy.denyProfile) else { return }
    let bpfOut: BPFProgram
    do { bpfOut = try Compiler.compile(result.profile) } catch { fatalError("tightened profile does not compile: \(error)") }
    let arch = Syscalls.token(.x86_64)
    var names = Set<String>()
    for r in (container.syscalls ?? []) + policy.deny { names.formUnion(r.names) }
    let values: [UInt64] = [0, 1, 2, 8, 9, 40, 0x20000, 0x1000_0000, 0x7E02_0000, 0xffff_ffff, 1 << 40]
    for name in names {
        guard let nr = Syscalls.number(name, arch: .x86_64) else { continue }
        for i in 0..<3 {
            for v in values {
                var args: [UInt64] = [0, 0, 0, 0, 0, 0]
                args[i] = v
                let d = SeccompData(nr: nr, arch: arch, args: args)
                guard let ra = try? bpfA.run(d), let rb = try? bpfB.run(d), let ro = try? bpfOut.run(d) else { continue }
                precondition(!ra.isStricter(than: ro) && !rb.isStricter(than: ro),
                             "unsound: \(name) \(args): container \(ra) baseline \(rb) out \(ro)")
            }
        }
    }
}

#if FUZZING
// SwiftPM links an executable's entry point under the name <target>_main; hand it to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("warden_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var c = argc
    var v = argv
    return LLVMFuzzerRunDriver(&c, &v) { data, size in fuzzOne(data, size) }
}
#else
/// Replays corpus files: `WARDEN_FUZZ_TARGET=tighten warden-fuzz FILE...`.
@main
struct Replay {
    static func main() {
        for path in CommandLine.arguments.dropFirst() {
            guard let bytes = try? FileIO.readFile(path) else { continue }
            bytes.withUnsafeBufferPointer { _ = fuzzOne($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count) }
        }
    }
}
#endif
