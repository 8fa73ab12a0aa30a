import Foundation
import Testing
@testable import WardenJSON
@testable import WardenPolicy
@testable import WardenSeccomp
@testable import WardenSpec

@Test(.enabled(if: ProcessInfo.processInfo.environment["WARDEN_OVERLAP"] != nil))
func debugOverlap() throws {
    let x = Syscalls.token(.x86_64)
    let nr = Syscalls.number("read", arch: .x86_64)!
    let cond = [LinuxSeccompArg(index: 0, value: 1, op: .equal)]
    let cond2 = [LinuxSeccompArg(index: 0, value: 0, op: .greaterThan)]
    let cases: [(String, [LinuxSyscall])] = [
        ("uncond ERRNO then cond KILL", [.init(names: ["read"], action: .errno), .init(names: ["read"], action: .kill, args: cond)]),
        ("cond KILL then uncond ERRNO", [.init(names: ["read"], action: .kill, args: cond), .init(names: ["read"], action: .errno)]),
        ("uncond KILL then cond ERRNO", [.init(names: ["read"], action: .kill), .init(names: ["read"], action: .errno, args: cond)]),
        ("cond EQ1 KILL then GT0 ERRNO", [.init(names: ["read"], action: .kill, args: cond), .init(names: ["read"], action: .errno, args: cond2)]),
        ("cond GT0 ERRNO then EQ1 KILL", [.init(names: ["read"], action: .errno, args: cond2), .init(names: ["read"], action: .kill, args: cond)]),
        ("cond EQ1 ERRNO then GT0 KILL", [.init(names: ["read"], action: .errno, args: cond), .init(names: ["read"], action: .kill, args: cond2)]),
        ("uncond ERRNO then uncond KILL", [.init(names: ["read"], action: .errno), .init(names: ["read"], action: .kill)]),
        ("uncond KILL then uncond ERRNO", [.init(names: ["read"], action: .kill), .init(names: ["read"], action: .errno)]),
        ("uncond TRAP then uncond ERRNO(5)", [.init(names: ["read"], action: .trap), .init(names: ["read"], action: .errno, errnoRet: 5)]),
        ("same cond KILL then ERRNO", [.init(names: ["read"], action: .kill, args: cond), .init(names: ["read"], action: .errno, args: cond)]),
        ("cond GT0 TRAP then EQ1 ERRNO(5)", [.init(names: ["read"], action: .trap, args: cond2), .init(names: ["read"], action: .errno, errnoRet: 5, args: cond)]),
    ]
    for (label, rules) in cases {
        let p = LinuxSeccomp(defaultAction: .allow, syscalls: rules)
        do {
            let bpf = try Compiler.compile(p)
            let r = try [0, 1, 2].map { try bpf.run(SeccompData(nr: nr, arch: x, args: [UInt64($0), 0, 0, 0, 0, 0])).description }
            print("OVERLAP \(label): arg0=0,1,2 -> \(r)")
        } catch { print("OVERLAP \(label): error \(error)") }
    }
}
