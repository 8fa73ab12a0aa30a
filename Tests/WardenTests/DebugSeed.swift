import Foundation
import Testing
@testable import WardenJSON
@testable import WardenPolicy
@testable import WardenSeccomp
@testable import WardenSpec

@Test(.enabled(if: ProcessInfo.processInfo.environment["WARDEN_SEED"] != nil))
func debugSeed() throws {
    let seed = UInt64(ProcessInfo.processInfo.environment["WARDEN_SEED"]!)!
    let name = ProcessInfo.processInfo.environment["WARDEN_NAME"] ?? ""
    var g = SplitMix(state: seed)
    var policy = try builtinPolicy()
    policy.architectures = nil
    var container = RandomProfiles.profile(&g)
    policy.deny = RandomProfiles.profile(&g, deny: true).syscalls ?? []
    policy.inject = RandomProfiles.profile(&g)
    if seed % 5 == 0 { container = policy.inject }
    let r = try Tighten.tighten(container, policy: policy)
    func show(_ p: LinuxSeccomp) -> String {
        "default \(p.defaultRule)\n" + (p.syscalls ?? []).filter { name.isEmpty || $0.names.contains(name) }.map { "  \($0.names) \($0.ruleAction) \(($0.args ?? []).map { "arg\($0.index) \($0.op.rawValue) \($0.value) \($0.valueTwo ?? 0)" })" }.joined(separator: "\n")
    }
    print("CONTAINER\n" + show(container))
    print("DENY\n" + show(policy.denyProfile))
    print("OUT\n" + show(r.profile))
    print("CHANGES\n" + r.changes.map(\.description).joined(separator: "\n"))
}
