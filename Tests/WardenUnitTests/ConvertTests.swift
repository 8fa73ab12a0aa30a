import WardenCore
import Foundation
import Testing
@testable import WardenJSON
@testable import WardenPolicy
@testable import WardenSeccomp
@testable import WardenSpec

/// Converts a Docker/podman-format profile text for one context through the single reader.
func convertDocker(_ text: String, caps: [String] = ConversionContext.dockerDefaultCapabilities,
                   arch: SeccompArch = .x86_64, kernel: KernelVersion? = KernelVersion(6, 1)) throws -> LinuxSeccomp {
    let doc = try JSONDocument(bytes: Array(text.utf8), name: "test")
    return try loadProfile(node: doc.root, context: ConversionContext(capabilities: caps, arch: arch, kernel: kernel))
}

@Suite("Docker/podman profile formats and convert")
struct ConvertTests {
    static let dockerDefault = Repo.fixtures + "/docker-default.json"

    /// A profile with one ERRNO(7) rule for getpid under `filter` (an includes/excludes fragment).
    static func oneRule(_ filter: String) -> String {
        #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7, \#(filter)}]}"#
    }

    // MARK: filters

    struct FilterCase: CustomTestStringConvertible, Sendable {
        var name: String
        var filter: String
        var caps: [String]
        var arch: SeccompArch
        var kernel: KernelVersion
        var kept: Bool
        var testDescription: String { name }
    }

    static let filterCases: [FilterCase] = [
        // includes × caps
        .init(name: "includes.caps all present: kept", filter: #""includes": {"caps": ["CAP_SYS_ADMIN", "CAP_KILL"]}"#,
              caps: ["CAP_KILL", "CAP_SYS_ADMIN"], arch: .x86_64, kernel: .init(6, 1), kept: true),
        .init(name: "includes.caps one missing: dropped", filter: #""includes": {"caps": ["CAP_SYS_ADMIN", "CAP_KILL"]}"#,
              caps: ["CAP_KILL"], arch: .x86_64, kernel: .init(6, 1), kept: false),
        .init(name: "includes.caps with no capabilities: dropped", filter: #""includes": {"caps": ["CAP_KILL"]}"#,
              caps: [], arch: .x86_64, kernel: .init(6, 1), kept: false),
        // includes × arches
        .init(name: "includes.arches lists amd64 on x86_64: kept", filter: #""includes": {"arches": ["amd64", "x32"]}"#,
              caps: [], arch: .x86_64, kernel: .init(6, 1), kept: true),
        .init(name: "includes.arches x86_64 is not Docker's name: dropped", filter: #""includes": {"arches": ["x86_64"]}"#,
              caps: [], arch: .x86_64, kernel: .init(6, 1), kept: false),
        .init(name: "includes.arches lists arm64 on aarch64: kept", filter: #""includes": {"arches": ["arm", "arm64"]}"#,
              caps: [], arch: .aarch64, kernel: .init(6, 1), kept: true),
        .init(name: "includes.arches without the host: dropped", filter: #""includes": {"arches": ["s390", "s390x"]}"#,
              caps: [], arch: .x86_64, kernel: .init(6, 1), kept: false),
        // includes × minKernel
        .init(name: "includes.minKernel below the kernel: kept", filter: #""includes": {"minKernel": "4.8"}"#,
              caps: [], arch: .x86_64, kernel: .init(6, 1), kept: true),
        .init(name: "includes.minKernel equal to the kernel: kept", filter: #""includes": {"minKernel": "6.1"}"#,
              caps: [], arch: .x86_64, kernel: .init(6, 1), kept: true),
        .init(name: "includes.minKernel above the kernel: dropped", filter: #""includes": {"minKernel": "6.2"}"#,
              caps: [], arch: .x86_64, kernel: .init(6, 1), kept: false),
        .init(name: "includes.minKernel compares numerically (6.10 > 6.9)", filter: #""includes": {"minKernel": "6.10"}"#,
              caps: [], arch: .x86_64, kernel: .init(6, 9), kept: false),
        // excludes × caps
        .init(name: "excludes.caps one present: dropped", filter: #""excludes": {"caps": ["CAP_SYS_ADMIN", "CAP_BPF"]}"#,
              caps: ["CAP_BPF"], arch: .x86_64, kernel: .init(6, 1), kept: false),
        .init(name: "excludes.caps none present: kept", filter: #""excludes": {"caps": ["CAP_SYS_ADMIN", "CAP_BPF"]}"#,
              caps: ["CAP_KILL"], arch: .x86_64, kernel: .init(6, 1), kept: true),
        // excludes × arches
        .init(name: "excludes.arches lists the host: dropped", filter: #""excludes": {"arches": ["amd64"]}"#,
              caps: [], arch: .x86_64, kernel: .init(6, 1), kept: false),
        .init(name: "excludes.arches without the host: kept", filter: #""excludes": {"arches": ["s390", "s390x"]}"#,
              caps: [], arch: .x86_64, kernel: .init(6, 1), kept: true),
        // excludes × minKernel
        .init(name: "excludes.minKernel at or below the kernel: dropped", filter: #""excludes": {"minKernel": "6.1"}"#,
              caps: [], arch: .x86_64, kernel: .init(6, 1), kept: false),
        .init(name: "excludes.minKernel above the kernel: kept", filter: #""excludes": {"minKernel": "6.2"}"#,
              caps: [], arch: .x86_64, kernel: .init(6, 1), kept: true),
        // combinations and empties
        .init(name: "includes and excludes both pass: kept",
              filter: #""includes": {"arches": ["s390", "s390x"]}, "excludes": {"caps": ["CAP_SYS_ADMIN"]}"#,
              caps: [], arch: .s390x, kernel: .init(6, 1), kept: true),
        .init(name: "excludes wins over includes",
              filter: #""includes": {"caps": ["CAP_SYS_ADMIN"]}, "excludes": {"caps": ["CAP_SYS_ADMIN"]}"#,
              caps: ["CAP_SYS_ADMIN"], arch: .x86_64, kernel: .init(6, 1), kept: false),
        .init(name: "empty includes/excludes and empty minKernel: kept",
              filter: #""includes": {"caps": [], "minKernel": ""}, "excludes": {}"#,
              caps: [], arch: .x86_64, kernel: .init(6, 1), kept: true),
        .init(name: "null includes/excludes: kept", filter: #""includes": null, "excludes": null"#,
              caps: [], arch: .x86_64, kernel: .init(6, 1), kept: true),
    ]

    @Test("includes/excludes × caps/arches/minKernel", arguments: filterCases)
    func filters(c: FilterCase) throws {
        let p = try convertDocker(Self.oneRule(c.filter), caps: c.caps, arch: c.arch, kernel: c.kernel)
        let kept = p.syscalls?.contains { $0.names == ["getpid"] && $0.errnoRet == 7 } ?? false
        #expect(kept == c.kept)
    }

    @Test("the kernel from uname(2) when none is given")
    func hostKernel() throws {
        let release = try #require(ConversionContext.hostRelease())
        let host = try #require(KernelVersion(release: release))
        let at = try convertDocker(Self.oneRule(#""includes": {"minKernel": "\#(host)"}"#), kernel: nil)
        #expect(at.syscalls?.count == 1)
        let above = try convertDocker(Self.oneRule(#""includes": {"minKernel": "\#(host.kernel).\#(host.major + 1)"}"#), kernel: nil)
        #expect(above.syscalls == nil)
    }

    @Test("kernel releases parse as Docker reads them", arguments: [
        ("6.1.0-18-amd64", KernelVersion(6, 1)), ("3.12-1-amd64", .init(3, 12)), ("6.18.44-fc-v669", .init(6, 18)),
        ("5.10", .init(5, 10)), ("4.8.0-rc1", .init(4, 8)),
    ])
    func releases(text: String, version: KernelVersion) {
        #expect(KernelVersion(release: text) == version)
    }

    @Test("kernel releases that are not X.Y", arguments: ["6", "x.1", "", ".1", "6."])
    func badReleases(text: String) {
        #expect(KernelVersion(release: text) == nil)
    }

    // MARK: fields

    @Test("the old single name becomes names")
    func legacyName() throws {
        let p = try convertDocker(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "getpid", "action": "SCMP_ACT_ERRNO"}, {"name": "", "names": ["read"], "action": "SCMP_ACT_ERRNO"}]}"#)
        #expect(p.syscalls == [LinuxSyscall(names: ["getpid"], action: .errno), LinuxSyscall(names: ["read"], action: .errno)])
    }

    @Test("name and names together: an error when the rule applies, as in Docker")
    func nameAndNames() throws {
        let text = #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "getpid", "names": ["getpid"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["ppc64le"]}}]}"#
        #expect(try convertDocker(text, arch: .x86_64).syscalls == nil)
        #expect {
            _ = try convertDocker(text, arch: .ppc64le)
        } throws: { e in
            (e as? WardenError)?.path?.description == "syscalls[0].name" && (e as? WardenError)?.message.contains("both name and names") == true
        }
    }

    @Test("comment, errnoRet, args and defaultErrnoRet carry over")
    func fields() throws {
        let p = try convertDocker(#"""
            {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "syscalls": [
              {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "comment": "ENOSYS for the fallback"},
              {"names": ["socket"], "action": "SCMP_ACT_ALLOW", "comment": "", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_GT"}]}]}
            """#)
        #expect(p.defaultAction == .errno && p.defaultErrnoRet == 38)
        #expect(p.architectures == nil)
        #expect(p.syscalls == [
            LinuxSyscall(names: ["clone3"], action: .errno, errnoRet: 38),
            LinuxSyscall(names: ["socket"], action: .allow, args: [LinuxSeccompArg(index: 0, value: 40, op: .greaterThan)]),
        ])
    }

    @Test("podman's errno names and numbers", arguments: [
        (#""defaultErrno": "ENOSYS""#, #""errno": "EPERM""#, UInt32(38), UInt32(1)),
        (#""defaultErrno": "38", "defaultErrnoRet": 1"#, #""errno": "EACCES", "errnoRet": 5"#, 38, 13),
        (#""defaultErrno": "", "defaultErrnoRet": 22"#, #""errno": "", "errnoRet": 5"#, 22, 5),
        (#""defaultErrno": "EWOULDBLOCK""#, #""errno": "ENOTSUP""#, 11, 95),
    ])
    func errnoNames(top: String, rule: String, defaultErrno: UInt32, errno: UInt32) throws {
        let p = try convertDocker(#"{"defaultAction": "SCMP_ACT_ERRNO", \#(top), "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", \#(rule)}]}"#)
        #expect(p.defaultErrnoRet == defaultErrno)
        #expect(p.syscalls?.first?.errnoRet == errno)
    }

    @Test("archMap: the host's entry and its sub-architectures, whatever else it lists")
    func archMap() throws {
        let text = try String(contentsOfFile: Self.dockerDefault, encoding: .utf8)
        #expect(try convertDocker(text, arch: .x86_64).architectures == [.x86_64, .x86, .x32])
        #expect(try convertDocker(text, arch: .aarch64).architectures == [.aarch64, .arm])
        #expect(try convertDocker(text, arch: .riscv64).architectures == [.riscv64])  // subArchitectures: null
        // No entry for the host: no architectures (the runtime's native one only).
        #expect(try convertDocker(text, arch: .ppc64le).architectures == nil)
        // aarch64 gets the arm rules, x86_64 does not.
        #expect(try convertDocker(text, arch: .aarch64).syscalls?.contains { $0.names.contains("arm_fadvise64_64") } == true)
        #expect(try convertDocker(text, arch: .x86_64).syscalls?.contains { $0.names.contains("arm_fadvise64_64") } == false)
        #expect(try convertDocker(text, arch: .x86_64).syscalls?.contains { $0.names.contains("arch_prctl") } == true)
    }

    @Test("a plain architectures list passes as it is")
    func plainArchitectures() throws {
        let p = try convertDocker(#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_KILL"]}}]}"#, caps: [])
        #expect(p.architectures == [.x86_64, .x86])
        #expect(p.syscalls?.count == 1)
    }

    @Test("bad Docker-format profiles are errors that name the JSON path", arguments: [
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#,
         "archMap", "both architectures and archMap"),
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"subArchitectures": []}]}"#, "archMap[0].architecture", "missing"),
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_Z80"]}]}"#,
         "archMap[0].subArchitectures[0]", "not a valid architecture"),
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "archMap": "x"}"#, "archMap", "must be an array"),
        (#"{"archMap": []}"#, "defaultAction", "missing"),
        (#"{"defaultAction": "SCMP_ACT_NOPE", "archMap": []}"#, "defaultAction", "not a valid action"),
        (#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrno": "ENOPE"}"#, "defaultErrno", "unknown errno"),
        (#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrno": "5000"}"#, "defaultErrno", "out of range"),
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "defaultErrno": "EPERM"}"#, "defaultErrno", "only allowed"),
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errno": "EBOGUS"}]}"#,
         "syscalls[0].errno", "unknown errno"),
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_KILL", "errno": "EPERM"}]}"#,
         "syscalls[0].errno", "only allowed"),
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_LOG", "errnoRet": 1, "comment": "x"}]}"#,
         "syscalls[0].errnoRet", "only allowed"),
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO", "comment": "x"}]}"#, "syscalls[0].names", "missing"),
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "getpid", "action": "SCMP_ACT_ERRNOX"}]}"#, "syscalls[0].action", "not a valid action"),
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": 3, "action": "SCMP_ACT_ERRNO"}]}"#, "syscalls[0].name", "must be a string"),
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "4"}}]}"#,
         "syscalls[0].includes.minKernel", "expected \"<kernel>.<major>\""),
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "excludes": {"minKernel": "4.8.1"}}]}"#,
         "syscalls[0].excludes.minKernel", "expected \"<kernel>.<major>\""),
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "0.0"}}]}"#,
         "syscalls[0].includes.minKernel", "cannot be 0.0"),
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "a.b"}}]}"#,
         "syscalls[0].includes.minKernel", "each part"),
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": 4.8}}]}"#,
         "syscalls[0].includes.minKernel", "must be a string"),
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": "CAP_KILL"}}]}"#,
         "syscalls[0].includes.caps", "must be an array"),
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "excludes": {"arches": [1]}}]}"#,
         "syscalls[0].excludes.arches[0]", "must be a string"),
        (#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "excludes": []}]}"#,
         "syscalls[0].excludes", "must be an object"),
    ])
    func errors(text: String, path: String, words: String) throws {
        #expect {
            _ = try convertDocker(text)
        } throws: { e in
            guard let w = e as? WardenError else { return false }
            return w.path?.description == path && w.message.contains(words)
        }
    }

    // MARK: format detection

    @Test("a runtime-spec profile is read as it is; Docker's markers select the Docker reader")
    func detection() throws {
        let oci = #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "flags": [], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#
        let doc = try JSONDocument(bytes: Array(oci.utf8), name: "t")
        #expect(!DockerProfile.isDockerFormat(doc.root))
        #expect(try convertDocker(oci) == LinuxSeccomp(node: doc.root))
        for marker in [#""archMap": [], "syscalls": []"#, #""defaultErrno": "EPERM", "syscalls": []"#,
                       #""syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "comment": "c"}]"#,
                       #""syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {}}]"#,
                       #""syscalls": [{"name": "read", "action": "SCMP_ACT_ALLOW"}]"#] {
            let d = try JSONDocument(bytes: Array(#"{"defaultAction": "SCMP_ACT_ERRNO", \#(marker)}"#.utf8), name: "t")
            #expect(DockerProfile.isDockerFormat(d.root), "\(marker)")
        }
    }

    // MARK: Docker's default profile

    @Test("Docker's default profile for x86_64, kernel 6.1, default caps compiles to the same filter as the sample")
    func dockerDefaultMatchesSample() throws {
        let converted = try loadProfile(file: Self.dockerDefault, context: ConversionContext(arch: .x86_64, kernel: KernelVersion(6, 1)))
        let sample = try loadProfile(try String(contentsOfFile: Repo.sample("docker-default") + "/seccomp.json", encoding: .utf8))
        #expect(converted.architectures == [.x86_64, .x86, .x32])
        let diffs = try filterDifferences(converted, sample)
        #expect(diffs.isEmpty, "\(diffs.joined(separator: "\n"))")
        for arch in [SeccompArch.x86, .x32] {
            let d = try filterDifferences(converted, sample, arch: arch)
            #expect(d.isEmpty, "\(arch): \(d.joined(separator: "\n"))")
        }
        // The built-in injected profile is this conversion too.
        #expect(try Policy.builtinProfile() == converted)
    }

    @Test("capabilities change Docker's default profile as Docker's rules say")
    func dockerDefaultCapabilities() throws {
        func convert(_ caps: [String]) throws -> LinuxSeccomp {
            try loadProfile(file: Self.dockerDefault, context: ConversionContext(capabilities: caps, arch: .x86_64, kernel: KernelVersion(6, 1)))
        }
        let base = try convert(ConversionContext.dockerDefaultCapabilities)
        let admin = try convert(ConversionContext.dockerDefaultCapabilities + ["CAP_SYS_ADMIN"])
        let none = try convert([])
        let token = Syscalls.token(.x86_64)
        func run(_ p: LinuxSeccomp, _ name: String, _ args: [UInt64] = [0, 0, 0, 0, 0, 0]) throws -> FilterReturn {
            try Compiler.compile(p).run(SeccompData(nr: try #require(Syscalls.number(name, arch: .x86_64)), arch: token, args: args))
        }
        #expect(try run(base, "clone3").description == "ERRNO(38)")
        #expect(try run(admin, "clone3").description == "ALLOW")
        #expect(try run(base, "clone", [0x1000_0000, 0, 0, 0, 0, 0]).description == "ERRNO(1)")  // CLONE_NEWUSER
        #expect(try run(admin, "clone", [0x1000_0000, 0, 0, 0, 0, 0]).description == "ALLOW")
        #expect(try run(base, "mount").description == "ERRNO(1)")
        #expect(try run(admin, "mount").description == "ALLOW")
        #expect(try run(base, "chroot").description == "ALLOW")  // CAP_SYS_CHROOT is a default
        #expect(try run(none, "chroot").description == "ERRNO(1)")
        #expect(try run(none, "clone3").description == "ERRNO(38)")
    }

    // MARK: the policy takes either format

    @Test("a policy's inject profile may be a Docker-format file or inline object")
    func policyInject() throws {
        let dir = try tempDir("convert-policy")
        defer { cleanup(dir) }
        let file = dir + "/policy.json"
        try #"{"inject": "\#(Self.dockerDefault)"}"#.write(toFile: file, atomically: false, encoding: .utf8)
        let p = try Policy.load(file: file, checkOwnership: false)
        let expected = try loadProfile(file: Self.dockerDefault, context: .dockerDefault)
        #expect(p.inject == expected)
        #expect(p.inject.architectures?.first == SeccompArch.native)

        try #"{"inject": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrno": "ENOSYS", "archMap": [{"architecture": "\#(SeccompArch.native.rawValue)", "subArchitectures": null}], "syscalls": [{"name": "getpid", "action": "SCMP_ACT_ALLOW"}, {"names": ["bpf"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}}]}}"#
            .write(toFile: file, atomically: false, encoding: .utf8)
        let inline = try Policy.load(file: file, checkOwnership: false)
        #expect(inline.inject == LinuxSeccomp(defaultAction: .errno, defaultErrnoRet: 38, architectures: [.native],
                                              syscalls: [LinuxSyscall(names: ["getpid"], action: .allow)]))

        try #"{"inject": {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86"], "archMap": []}, "deny": []}"#
            .write(toFile: file, atomically: false, encoding: .utf8)
        // An empty archMap is no archMap (Go's len() == 0): fine.
        #expect(throws: Never.self) { _ = try Policy.load(file: file, checkOwnership: false) }
        try #"{"inject": {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86"], "archMap": [{"architecture": "SCMP_ARCH_X86"}]}}"#
            .write(toFile: file, atomically: false, encoding: .utf8)
        #expect {
            _ = try Policy.load(file: file, checkOwnership: false)
        } throws: { e in
            (e as? WardenError)?.description.contains("\(file): inject.archMap: both architectures and archMap") == true
        }
    }

    @Test("a Docker-format inject profile is converted for each container's own capabilities")
    func perContainerBaseline() throws {
        let dir = try tempDir("convert-percontainer")
        defer { cleanup(dir) }
        func config(_ caps: [String]) throws -> OCIConfig {
            let text = try String(contentsOfFile: Repo.sample("no-seccomp") + "/config.json", encoding: .utf8)
            let doc = try JSONDocument(bytes: Array(text.utf8), name: "config.json")
            let process = doc.object(at: doc.root, key: "process")
            let c = doc.object(at: process, key: "capabilities")
            doc.set(.array(caps.map { .string($0) }), at: c, key: "bounding")
            return OCIConfig(document: doc)
        }
        func decide(_ profile: LinuxSeccomp, _ name: String) throws -> String {
            try Compiler.compile(profile).run(SeccompData(nr: try #require(Syscalls.number(name, arch: .x86_64)),
                                                          arch: Syscalls.token(.x86_64))).description
        }
        let file = dir + "/policy.json"
        for (deny, mountForAdmin, clone3ForAdmin) in [("[]", "ALLOW", "ALLOW"), (#"["builtin"]"#, "ERRNO(1)", "ERRNO(38)")] {
            try #"{"inject": "\#(Self.dockerDefault)", "deny": \#(deny)}"#.write(toFile: file, atomically: false, encoding: .utf8)
            let policy = try Policy.load(file: file, checkOwnership: false)
            #expect(policy.injectSource != nil)
            let plain = try Evaluation.evaluate(try config(ConversionContext.dockerDefaultCapabilities), policy: policy)
            let admin = try Evaluation.evaluate(try config(ConversionContext.dockerDefaultCapabilities + ["CAP_SYS_ADMIN"]), policy: policy)
            #expect(plain.verdict == .injected && admin.verdict == .injected)
            let p = try #require(plain.profile), a = try #require(admin.profile)
            #expect(try decide(p, "clone3") == "ERRNO(38)")
            #expect(try decide(p, "mount") == "ERRNO(1)")
            // CAP_SYS_ADMIN: Docker's profile grants mount and clone3; only the site's deny rules take them
            // back (clone3 with ENOSYS: its namespace flags are in memory seccomp cannot read).
            #expect(try decide(a, "mount") == mountForAdmin, "deny: \(deny)")
            #expect(try decide(a, "clone3") == clone3ForAdmin, "deny: \(deny)")
        }
        // A runtime-spec inject profile is the same for every container.
        try #"{"inject": "\#(Repo.sample("docker-default"))/seccomp.json", "deny": []}"#.write(toFile: file, atomically: false, encoding: .utf8)
        let fixed = try Policy.load(file: file, checkOwnership: false)
        #expect(fixed.injectSource == nil)
        let admin = try Evaluation.evaluate(try config(["CAP_SYS_ADMIN"]), policy: fixed)
        #expect(try decide(try #require(admin.profile), "mount") == "ERRNO(1)")
    }

    // MARK: the CLI

    @Test("convert prints the runtime-spec profile for --caps, --arch and --kernel")
    func cli() throws {
        let r = try warden(["convert", Self.dockerDefault, "--caps", "sys_admin,CAP_BPF", "--arch", "amd64", "--kernel", "6.1"])
        #expect(r.status == 0, "\(r.stderr)")
        let p = try loadProfile(r.stdout)
        #expect(p.architectures == [.x86_64, .x86, .x32])
        let names = Set((p.syscalls ?? []).filter { $0.action == .allow }.flatMap(\.names))
        #expect(names.contains("bpf") && names.contains("mount") && names.contains("clone3"))
        #expect(!names.contains("chroot"))  // --caps replaces the defaults
        #expect(!(p.syscalls ?? []).contains { $0.errnoRet == 38 })

        let arm = try warden(["convert", Self.dockerDefault, "--arch", "arm64", "--kernel", "4.7"])
        #expect(arm.status == 0, "\(arm.stderr)")
        let pa = try loadProfile(arm.stdout)
        #expect(pa.architectures == [.aarch64, .arm])
        // ptrace needs kernel 4.8.
        #expect(!(pa.syscalls ?? []).contains { $0.names.contains("ptrace") })

        let none = try warden(["convert", Self.dockerDefault, "--caps", ""])
        #expect(none.status == 0, "\(none.stderr)")
        #expect(!(try loadProfile(none.stdout).syscalls ?? []).contains { $0.names.contains("chroot") })
    }

    @Test("convert --bundle takes the capabilities and architecture from config.json")
    func cliBundle() throws {
        let dir = try tempDir("convert-bundle")
        defer { cleanup(dir) }
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Repo.sample("docker-default") + "/config.json"))) as! [String: Any]
        var process = config["process"] as! [String: Any]
        var caps = process["capabilities"] as? [String: Any] ?? [:]
        caps["bounding"] = ConversionContext.dockerDefaultCapabilities + ["CAP_SYS_PTRACE"]
        process["capabilities"] = caps
        config["process"] = process
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        let r = try warden(["convert", Self.dockerDefault, "--bundle", dir, "--kernel", "6.1"])
        #expect(r.status == 0, "\(r.stderr)")
        let p = try loadProfile(r.stdout)
        #expect((p.syscalls ?? []).contains { $0.names.contains("kcmp") && $0.action == .allow })
        #expect(!(p.syscalls ?? []).contains { $0.names.contains("mount") })
        #expect(p.architectures?.first == .x86_64)
    }

    @Test("a bundle's context: its bounding set, and its first architecture when that is a host architecture", arguments: [
        (#"["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]"#, SeccompArch.aarch64),
        (#"["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]"#, .x86_64),
        (#"["SCMP_ARCH_X86", "SCMP_ARCH_X86_64"]"#, .native),
        ("null", .native),
    ])
    func bundleContext(architectures: String, arch: SeccompArch) throws {
        let text = #"{"process": {"capabilities": {"bounding": ["CAP_KILL"]}}, "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "architectures": \#(architectures)}}}"#
        let c = ConversionContext.of(OCIConfig(document: try JSONDocument(bytes: Array(text.utf8), name: "config.json")))
        #expect(c.arch == arch)
        #expect(c.capabilities == ["CAP_KILL"])
        let none = ConversionContext.of(OCIConfig(document: try JSONDocument(bytes: Array("{}".utf8), name: "config.json")))
        #expect(none.capabilities.isEmpty && none.arch == .native)
    }

    @Test("apply --profile takes a Docker-format file, converted for the bundle, then tightened")
    func applyProfile() throws {
        let dir = try tempDir("convert-apply")
        defer { cleanup(dir) }
        try FileManager.default.copyItem(atPath: Repo.sample("weak-allow") + "/config.json", toPath: dir + "/config.json")
        let r = try warden(["apply", "--profile", Self.dockerDefault, "--policy", "builtin", dir])
        #expect(r.status == 0, "\(r.stderr)")
        let config = OCIConfig(document: try JSONDocument(contentsOf: dir + "/config.json"))
        let p = try #require(try config.seccomp())
        #expect(p.defaultAction == .errno)
        #expect(p.architectures?.first == SeccompArch.native)
        let bad = try warden(["apply", "--profile", dir + "/missing.json", dir])
        #expect(bad.status == 2, "\(bad.stderr)")
    }

    @Test("convert refuses a bad option value with one line naming it: an unknown architecture or capability is a usage error (64)",
          arguments: [
        (["--kernel", "six"], Int32(64), "--kernel"),
        (["--arch", "z80"], 64, "--arch"),
        (["--caps", "BOGUS"], 64, "CAP_BOGUS"),
        (["--caps", "SYS_ADMIN,CAP_NET_ROOT"], 64, "CAP_NET_ROOT"),
    ])
    func cliBadOptions(extra: [String], status: Int32, words: String) throws {
        let r = try warden(["convert", Self.dockerDefault] + extra)
        #expect(r.status == status, "\(r.stderr)")
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.contains(words), "\(r.stderr)")
        #expect(!r.stderr.contains("<input>"), "\(r.stderr)")
        // Positive control: the same command with good values prints the profile.
        let ok = try warden(["convert", Self.dockerDefault, "--kernel", "6.1", "--arch", "i686", "--caps", "sys_admin,CAP_BPF"])
        #expect(ok.status == 0 && ok.stdout.contains("\"defaultAction\""), "\(ok.stderr)")
    }

    @Test("convert of a bad profile names the file and JSON path")
    func cliBadProfile() throws {
        let dir = try tempDir("convert-bad")
        defer { cleanup(dir) }
        try #"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#
            .write(toFile: dir + "/p.json", atomically: false, encoding: .utf8)
        let r = try warden(["convert", dir + "/p.json"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("\(dir)/p.json: archMap: both architectures and archMap"), "\(r.stderr)")
    }
}
