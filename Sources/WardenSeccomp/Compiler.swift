import WardenCore
import CSeccomp
import CShim
import WardenJSON
import WardenSpec
#if canImport(Glibc)
import Glibc
#endif

/// How a runtime turns a profile into libseccomp rules: the one place each runtime's reading lives.
/// Both skip names libseccomp does not know and rules whose action equals the default.
public enum RuntimeReading: String, CaseIterable, Sendable {
    /// runc 1.1 (libcontainer/seccomp): every condition of an entry; a repeated argument index turns
    /// the entry into one rule per condition (an OR), otherwise one rule (an AND).
    case runc = "runc 1.1.5"
    /// crun 1.8 (src/libcrun/seccomp.c): only the first six conditions of an entry are read, and the
    /// OR/AND choice is made on those six alone.
    case crun = "crun 1.8.1"

    /// The conditions this runtime reads from an entry.
    func conditions(_ args: [LinuxSeccompArg]) -> [LinuxSeccompArg] {
        self == .crun ? Array(args.prefix(6)) : args
    }

    /// The rules this runtime gives libseccomp for one entry, as lists of conditions that must all
    /// hold: none, for an entry without conditions (every argument value); one rule (AND) when its
    /// conditions name distinct arguments; one rule per condition (OR) when an argument index repeats.
    /// The one model of an entry that the compiler, the meet, `Decision` and `explain` all read.
    public func rules(_ entry: LinuxSyscall) -> [[LinuxSeccompArg]] {
        let args = conditions(entry.args ?? [])
        if Set(args.map(\.index)).count != args.count { return args.map { [$0] } }
        return [args]
    }

    /// Whether the runtime puts a rule with `action` into the filter: one whose action equals the
    /// default is left out (libseccomp refuses it), whatever its conditions.
    public func keeps(_ action: RuleAction, default fallback: RuleAction) -> Bool {
        Compiler.actionValue(action) != Compiler.actionValue(fallback)
    }

    public var name: String { String(rawValue.split(separator: " ")[0]) }

    /// Whether every reading adds the same rules for `profile` (`rules` is the only part of a reading
    /// that depends on the runtime; today they differ only past six conditions). Their filters are
    /// then byte for byte the same, so one compilation and one proof serve both.
    public static func readAlike(_ profile: LinuxSeccomp) -> Bool {
        (profile.syscalls ?? []).allSatisfy { e in allCases.dropFirst().allSatisfy { $0.rules(e) == allCases[0].rules(e) } }
    }
}

/// Builds a profile's filter with libseccomp the way a runtime does (runc's libcontainer/seccomp by
/// default), so what we judge is what the kernel will get (runc's own ENOSYS stub aside).
public enum Compiler {
    /// libseccomp's action value for a rule action.
    public static func actionValue(_ r: RuleAction) -> UInt32 {
        switch r.action {
        case .kill, .killThread: SCMP_ACT_KILL_THREAD
        case .killProcess: SCMP_ACT_KILL_PROCESS
        case .trap: SCMP_ACT_TRAP
        case .errno: sw_act_errno(UInt16(truncatingIfNeeded: r.data))
        case .trace: sw_act_trace(UInt16(truncatingIfNeeded: r.data))
        case .notify: SCMP_ACT_NOTIFY
        case .log: SCMP_ACT_LOG
        case .allow: SCMP_ACT_ALLOW
        }
    }

    public static func filterReturn(_ r: RuleAction) -> FilterReturn { FilterReturn(actionValue(r)) }

    /// The architectures a runtime adds: the native one, then those listed.
    public static func architectures(of profile: LinuxSeccomp) -> [SeccompArch] {
        var out = [SeccompArch.native]
        for a in profile.architectures ?? [] where !out.contains(a) { out.append(a) }
        return out
    }

    /// Compiles `profile` to BPF. Names libseccomp does not know are skipped, as runc skips them.
    public static func compile(_ profile: LinuxSeccomp, as reading: RuntimeReading = .runc) throws(WardenError) -> BPFProgram {
        let ctx = try context(profile, as: reading)
        defer { seccomp_release(ctx) }
        var buf: UnsafeMutablePointer<UInt8>? = nil
        var len = 0
        let rc = sw_export_bpf(ctx, &buf, &len)
        guard rc == 0, let buf else { throw .system("libseccomp: cannot export BPF: \(errnoText(-rc))") }
        defer { free(buf) }
        return BPFProgram(bytes: Array(UnsafeBufferPointer(start: buf, count: len)))
    }

    /// Whether libseccomp accepts every rule of `profile`, the way `compile` adds them, without
    /// generating the program: the same errors as `compile` at rule level, for a fraction of the cost
    /// (libseccomp's BPF generation grows with the square of the rules).
    public static func check(_ profile: LinuxSeccomp) throws(WardenError) {
        seccomp_release(try context(profile))
    }

    /// A rule libseccomp refuses: its entry in the profile's `syscalls`, the name and why.
    public struct RejectedRule: Equatable, Sendable {
        public var index: Int
        public var name: String
        public var reason: String
    }

    /// The first rule of `profile` libseccomp refuses, added as `compile` adds them, or nil. For a
    /// caller that rewrites that entry (Tighten): the index comes from here, never out of an error's
    /// JSON path (which names a place in the user's file).
    public static func rejectedRule(_ profile: LinuxSeccomp) throws(WardenError) -> RejectedRule? {
        let (ctx, rejected) = try build(profile, as: .runc)
        seccomp_release(ctx)
        return rejected
    }

    /// A libseccomp filter context holding every rule of `profile`; the caller releases it.
    static func context(_ profile: LinuxSeccomp, as reading: RuntimeReading = .runc) throws(WardenError) -> scmp_filter_ctx {
        let (ctx, rejected) = try build(profile, as: reading)
        guard let rejected else { return ctx }
        seccomp_release(ctx)
        throw WardenError(.input, path: JSONPath.root / "syscalls" / rejected.index,
                          "libseccomp cannot add the rule for \(rejected.name): \(rejected.reason)")
    }

    /// The context with every rule of `profile` up to the first libseccomp refuses (and which one).
    static func build(_ profile: LinuxSeccomp, as reading: RuntimeReading) throws(WardenError) -> (scmp_filter_ctx, RejectedRule?) {
        guard let ctx = seccomp_init(actionValue(profile.defaultRule)) else {
            throw .system("libseccomp: seccomp_init failed")
        }
        var ok = false
        defer { if !ok { seccomp_release(ctx) } }
        // No NNP here: it is a process attribute, not part of the program.
        _ = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)
        for arch in architectures(of: profile) where arch != .native {
            let rc = seccomp_arch_add(ctx, Syscalls.token(arch))
            if rc != 0 && rc != -EEXIST {
                throw .system("libseccomp: cannot add architecture \(arch.rawValue): \(errnoText(-rc))")
            }
        }
        for (i, rule) in (profile.syscalls ?? []).enumerated() {
            guard reading.keeps(rule.ruleAction, default: profile.defaultRule) else { continue }
            let action = actionValue(rule.ruleAction)
            for name in rule.names {
                let nr = seccomp_syscall_resolve_name(name)
                if nr == __NR_SCMP_ERROR { continue }
                let rc = addRules(ctx, action: action, nr: nr, reading.rules(rule))
                if rc != 0 {
                    ok = true
                    return (ctx, RejectedRule(index: i, name: name, reason: errnoText(-rc)))
                }
            }
        }
        ok = true
        return (ctx, nil)
    }

    /// Adds each rule (`RuntimeReading.rules`) of one entry for one syscall; libseccomp's first error.
    static func addRules(_ ctx: scmp_filter_ctx, action: UInt32, nr: Int32, _ rules: [[LinuxSeccompArg]]) -> Int32 {
        for rule in rules {
            let conds = rule.map { a in scmp_arg_cmp(arg: a.index, op: cmpOp(a.op), datum_a: a.value, datum_b: a.valueTwo ?? 0) }
            let rc = conds.isEmpty ? seccomp_rule_add_array(ctx, action, nr, 0, nil)
                : conds.withUnsafeBufferPointer { seccomp_rule_add_array(ctx, action, nr, UInt32(conds.count), $0.baseAddress) }
            if rc != 0 { return rc }
        }
        return 0
    }

    static func cmpOp(_ op: SeccompOperator) -> scmp_compare {
        switch op {
        case .notEqual: SCMP_CMP_NE
        case .lessThan: SCMP_CMP_LT
        case .lessOrEqual: SCMP_CMP_LE
        case .equal: SCMP_CMP_EQ
        case .greaterOrEqual: SCMP_CMP_GE
        case .greaterThan: SCMP_CMP_GT
        case .maskedEqual: SCMP_CMP_MASKED_EQ
        }
    }
}

extension RuntimeReading {
    /// Annotations this runtime reads that change or replace the seccomp filter `linux.seccomp`
    /// describes. Whoever creates a container writes its annotations, so each is a way around the
    /// profile we proved: a container carrying one is refused unless the policy allows the key.
    public var filterAnnotations: [(key: String, effect: String)] {
        switch self {
        case .runc: []
        case .crun: [
            ("run.oci.seccomp_bpf_data", "a base64 BPF program loaded instead of linux.seccomp"),
            ("run.oci.seccomp.receiver", "a socket that receives the seccomp notify listener"),
            ("run.oci.seccomp.plugins", "libraries loaded to answer seccomp notifications"),
            ("run.oci.seccomp_fail_unknown_syscall", "refuses unknown syscall names instead of skipping them"),
        ]
        }
    }
}

/// Compiling with a time limit: libseccomp 2.5.4 can loop forever in seccomp_rule_add on some rule
/// sets (rules sharing a range comparison, then testing a later argument differently), as runc and
/// crun would with the same profile. The compile runs on a thread of its own; if it has not finished
/// in time it is left running (hooks and commands are short-lived processes) and counts as failed.
extension Compiler {
    private final class Job: @unchecked Sendable {
        let profile: LinuxSeccomp
        let reading: RuntimeReading
        let fd: Int32
        var program: BPFProgram?
        init(_ p: LinuxSeccomp, _ r: RuntimeReading, _ fd: Int32) { profile = p; reading = r; self.fd = fd }
    }

    /// The program, or nil when libseccomp refuses the profile or does not finish within `milliseconds`.
    public static func compile(_ profile: LinuxSeccomp, as reading: RuntimeReading = .runc, within milliseconds: Int32) -> BPFProgram? {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return try? compile(profile, as: reading) }
        let job = Job(profile, reading, fds[1])
        let ref = Unmanaged.passRetained(job)
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            let job = Unmanaged<Job>.fromOpaque(arg!).takeRetainedValue()
            job.program = try? Compiler.compile(job.profile, as: job.reading)
            // The caller may have given up and closed the read end: a write then raises SIGPIPE, which
            // would end the whole process. Blocked on this thread, it only fails with EPIPE.
            var pipeSignal = sigset_t()
            sigemptyset(&pipeSignal)
            sigaddset(&pipeSignal, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
            var one: UInt8 = 1
            _ = write(job.fd, &one, 1)
            close(job.fd)
            return nil
        }, ref.toOpaque())
        guard rc == 0 else {
            ref.release()
            close(fds[0]); close(fds[1])
            return try? compile(profile, as: reading)
        }
        pthread_detach(tid)
        defer { close(fds[0]) }
        var p = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
        var left = milliseconds
        while true {
            let n = poll(&p, 1, left)
            if n > 0 { break }
            if n == 0 { return nil }  // still inside libseccomp: treat as refused
            if errno != EINTR { return nil }
            left = max(1, left / 2)
        }
        var byte: UInt8 = 0
        guard read(fds[0], &byte, 1) == 1 else { return nil }
        return job.program
    }
}
