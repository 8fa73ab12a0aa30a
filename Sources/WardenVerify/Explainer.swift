import WardenCore
import WardenHost
import WardenJSON
import WardenSeccomp
import WardenSpec

/// Which action a profile (or a live process's filters) gives one syscall, and which rule gave it.
public enum Explainer {
    /// The rule of `profile` that decides `name` with `args` on `arch`, as libseccomp builds the filter:
    /// an unconditional rule for the name wins over conditional ones; among conditional rules that hold,
    /// the strictest; else the default. Returns the action and a line naming the rule.
    public static func rule(in profile: LinuxSeccomp, name: String, arch: SeccompArch, args: [UInt64]) -> (action: RuleAction?, text: String) {
        if !Compiler.architectures(of: profile).contains(arch) {
            return (nil, "\(arch.rawValue) is not in the profile's architectures: the filter's bad-architecture action applies")
        }
        let rules = (profile.syscalls ?? []).enumerated().filter { $0.element.names.contains(name) }
        let unconditional = rules.filter { ($0.element.args ?? []).isEmpty }
        if let first = unconditional.first {
            var text = "linux.seccomp.syscalls[\(first.offset)]: " + describe(first.element)
            let others = unconditional.dropFirst().filter { !$0.element.ruleAction.sameEffect(first.element.ruleAction) }
            if !others.isEmpty {
                text += " (also syscalls[\(others.map { String($0.offset) }.joined(separator: ","))] with another action: libseccomp keeps one of them)"
            }
            return (first.element.ruleAction, text + sameAsDefault(first.element, profile))
        }
        let holding = rules.filter { r in
            RuntimeReading.runc.rules(r.element).contains { rule in rule.allSatisfy { $0.holds(args) } }
        }
        if let best = holding.max(by: { $0.element.ruleAction.strictness < $1.element.ruleAction.strictness }) {
            var text = "linux.seccomp.syscalls[\(best.offset)]: " + describe(best.element)
            if holding.count > 1 { text += " (\(holding.count) conditional rules hold; the strictest is named)" }
            return (best.element.ruleAction, text + sameAsDefault(best.element, profile))
        }
        let why = rules.isEmpty ? "no rule names \(name)" : "\(rules.count) rule\(rules.count == 1 ? " names" : "s name") \(name), but no argument condition holds"
        return (profile.defaultRule, "linux.seccomp.defaultAction \(profile.defaultRule) (\(why))")
    }

    static func sameAsDefault(_ r: LinuxSyscall, _ p: LinuxSeccomp) -> String {
        RuntimeReading.runc.keeps(r.ruleAction, default: p.defaultRule) ? "" : " (same as the default action; runc leaves it out of the filter)"
    }

    public static func describe(_ r: LinuxSyscall) -> String {
        let names = r.names.count <= 6 ? r.names.joined(separator: ", ") : r.names.prefix(5).joined(separator: ", ") + ", … (\(r.names.count) names)"
        var s = "names [\(names)] action \(r.ruleAction)"
        if let args = r.args, !args.isEmpty {
            // As runc reads it: a repeated argument index makes one rule per condition (any holds).
            let or = RuntimeReading.runc.rules(r).count > 1
            s += " when " + args.map { "arg\($0.index) \($0.op.rawValue.dropFirst("SCMP_CMP_".count)) \($0.value)" + ($0.op == .maskedEqual ? "/\($0.valueTwo ?? 0)" : "") }
                .joined(separator: or ? " || " : " && ")
            if or { s += " (runc: a repeated argument index, so any one of them)" }
        }
        return s
    }

    /// The seccomp_data for a syscall name on an architecture, or an error naming what is wrong.
    public static func data(name: String, arch: SeccompArch, args: [UInt64]) throws(WardenError) -> SeccompData {
        guard let nr = Syscalls.number(name, arch: arch) else {
            throw .input("\"\(name)\" is not a syscall on \(arch.rawValue) (libseccomp does not know it there)")
        }
        var a = args + [UInt64](repeating: 0, count: max(0, 6 - args.count))
        a = Array(a.prefix(6))
        if PolicyProbes.is32Bit(arch) { a = a.map { $0 & 0xffff_ffff } }
        return SeccompData(nr: nr, arch: PolicyProbes.auditArch(arch), args: a)
    }

    /// Explains a profile: the emulated action of its compiled BPF, and the rule that gave it.
    public static func explain(profile: LinuxSeccomp?, source: String, name: String, arch: SeccompArch,
                               args: [UInt64]) throws(WardenError) -> (action: FilterReturn, lines: [String]) {
        let d = try data(name: name, arch: arch, args: args)
        var lines = ["\(source): \(name) on \(arch.libseccompName) (nr \(d.nr)), args \(d.args.map { "0x" + String($0, radix: 16) }.joined(separator: ","))"]
        guard let profile else {
            lines.append("action: ALLOW (no seccomp profile: the container runs with no filter)")
            return (FilterReturn(0x7fff_0000), lines)
        }
        let program = try Compiler.compile(profile)
        let action: FilterReturn
        do { action = try program.run(d) } catch { throw .system("the compiled filter cannot be emulated: \(error)") }
        let (ruleAction, text) = rule(in: profile, name: name, arch: arch, args: d.args)
        lines.append("action: \(action) (the profile compiled by libseccomp, \(program.instructions.count) instructions, emulated)")
        lines.append("rule: \(text)")
        if let ruleAction, Compiler.filterReturn(ruleAction) != action {
            lines.append("note: the rule says \(ruleAction), the compiled filter gives \(action) (libseccomp orders overlapping rules by their comparisons)")
        }
        // runc's reading above; a runtime that reads the profile otherwise (crun: six conditions an
        // entry) gets its own filter, and its own answer when that differs.
        if !RuntimeReading.readAlike(profile) {
            for reading in RuntimeReading.allCases where reading != .runc {
                let other: FilterReturn
                do { other = try Compiler.compile(profile, as: reading).run(d) } catch {
                    lines.append("\(reading.rawValue): the profile as it reads it cannot be compiled or emulated: \(error)")
                    continue
                }
                lines.append(other == action
                    ? "\(reading.rawValue) reads this profile otherwise (only the first six conditions of an entry), with the same action here"
                    : "\(reading.rawValue) reads this profile otherwise (only the first six conditions of an entry): action \(other)")
            }
        }
        lines.append(proofLine([program], nr: d.nr, arch: arch))
        return (action, lines)
    }

    /// The same question for every argument value and instruction pointer, by the proof: denied
    /// everywhere, or a counterexample (the guarantee's machinery, on this program or chain).
    static func proofLine(_ chain: [BPFProgram], nr: Int32, arch: SeccompArch) -> String {
        let (audit, narrow) = Syscalls.abi(arch)
        let eperm = FilterReturn(Compiler.actionValue(RuleAction(.errno, errnoRet: 1)))
        switch Prover.prove(chain, arch: audit, nr: UInt32(bitPattern: nr), narrowArgs: narrow, atLeast: eperm) {
        case .holds: return "every call: denied (ERRNO or stricter) for every argument value and instruction pointer (proved on the BPF)"
        case .fallsShort(let c, let got):
            return "every call: not denied for all values: \(got) for args \(c.args.map { "0x" + String($0, radix: 16) }.joined(separator: ",")) ip 0x\(String(c.instructionPointer, radix: 16)) (proved on the BPF)"
        case .undecided(let why): return "every call: undecided (\(why))"
        }
    }

    #if os(Linux)
    /// Explains a live process: each loaded filter's answer and the kernel's (the strictest); when the
    /// process is a known container's and a filter is its profile compiled, the profile rule that gave it.
    public static func explain(pid: Int32, name: String, arch: SeccompArch, args: [UInt64],
                               roots: [String]) throws(WardenError) -> (action: FilterReturn, lines: [String]) {
        guard ProcFS.exists(pid), let status = TaskStatus.read(pid: pid, tid: pid) else { throw .input("no such process: \(pid)") }
        let d = try data(name: name, arch: arch, args: args)
        var lines = ["pid \(pid) (\(status.name)): \(name) on \(arch.libseccompName) (nr \(d.nr)), args \(d.args.map { "0x" + String($0, radix: 16) }.joined(separator: ","))"]
        guard status.seccomp == .filter else {
            let mode = status.seccomp.map { "\($0.rawValue) (\($0))" } ?? "unknown"
            lines.append("action: \(status.seccomp == .strict ? "strict mode: only read, write, _exit and sigreturn are allowed" : "ALLOW (no seccomp filter)") — Seccomp \(mode)")
            return (FilterReturn(status.seccomp == .strict ? 0 : 0x7fff_0000), lines)
        }
        let programs: [BPFProgram]
        switch FilterDump.filters(of: pid) {
        case .success(let p): programs = p
        case .failure(let e): throw .system("cannot read the loaded filters of pid \(pid): \(e)")
        }
        var best: (index: Int, action: FilterReturn)? = nil
        // The kernel runs the newest filter first; a tie goes to the one run first.
        for (i, p) in programs.enumerated().reversed() {
            let r: FilterReturn
            do { r = try p.run(d) } catch { throw .system("filter \(i) cannot be emulated: \(error)") }
            lines.append("filter \(i) (\(p.instructions.count) instructions\(i == programs.count - 1 ? ", newest" : "")): \(r)")
            if best == nil || r.isStricter(than: best!.action) { best = (i, r) }
        }
        guard let best else {
            lines.append("action: ALLOW (no filter returned)")
            return (FilterReturn(0x7fff_0000), lines)
        }
        lines.append("action: \(best.action) (from filter \(best.index); the kernel takes the strictest across the chain)")
        if let record = RuntimeState.find(pid: pid, roots: roots), let path = record.configPath,
           let config = try? Bundle.loadConfig(path), let profile = try? config.seccomp(),
           let compiled = try? Compiler.compile(profile) {
            let loaded = programs[best.index].instructions
            let same = loaded == compiled.instructions
                || (loaded.count > compiled.instructions.count && Array(loaded.suffix(compiled.instructions.count)) == compiled.instructions)
            let how = same ? (loaded == compiled.instructions ? "is" : "is, after runc's ENOSYS stub,")
                : "does not match instruction for instruction"
            lines.append("container \(record.id) (\(record.format.rawValue)): filter \(best.index) \(how) its linux.seccomp compiled by libseccomp (\(path))")
            let (_, text) = rule(in: profile, name: name, arch: arch, args: d.args)
            lines.append("rule: \(text)")
        }
        lines.append(proofLine(programs, nr: d.nr, arch: arch))
        return (best.action, lines)
    }
    #endif
}
