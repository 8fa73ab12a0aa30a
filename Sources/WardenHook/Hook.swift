import WardenCore
import WardenJSON
import WardenPolicy
import WardenHost
import WardenVerify
import WardenSpec
#if canImport(Glibc)
import Glibc
#endif

/// `seccomp-warden hook STAGE [--policy FILE]` (read by HookCommandLine): the OCI hook entry. It
/// always drains stdin first (crun fails hooks that do not), never rewrites config.json after
/// create, and fails closed.
public enum Hook {
    public static let stages = ["precreate", "createRuntime", "prestart", "createContainer", "poststart"]

    public static func run(_ line: HookCommandLine) -> Int32 {
        let stage = line.stage
        // Drain stdin before anything else, whatever happens next.
        let input: [UInt8]
        do { input = try FileIO.readAll(fd: 0, name: "<stdin>") } catch {
            printErr("seccomp-warden hook \(stage): \(error)")
            return error.exitCode
        }
        let policy: Policy
        do { policy = try Policy.load(explicit: line.policy) } catch {
            // No policy, no decision: fail closed (the container does not start).
            let result = Enforcement.failure("\(error)", exitCode: error.exitCode, mode: nil, stage: .init(hook: stage))
            if let message = result.message { printErr(message) }
            let who = ContainerIdentity.of(stage: stage, input: input)
            AuditLog.record(policy: nil, stage: stage, id: who.id, bundle: who.bundle, result.audit, idFrom: who.idFrom)
            return result.exitCode
        }
        switch stage {
        case "precreate": return precreate(input, policy: policy)
        case "createRuntime", "prestart", "createContainer": return gate(stage, input, policy: policy)
        case "poststart": return poststart(input, policy: policy)
        default:
            printErr("seccomp-warden hook: unknown stage \"\(stage)\" (valid: \(stages.joined(separator: ", ")))")
            return 2
        }
    }

    /// podman's precreate: the config on stdin, the complete (tightened) config on stdout.
    static func precreate(_ input: [UInt8], policy: Policy) -> Int32 {
        var who: ContainerIdentity.Found? = nil
        var result: Enforcement.Result
        var output = input
        do throws(WardenError) {
            let config = try OCIConfig(bytes: input, name: "<stdin config>")
            // Only podman runs precreate, and its creator writes every annotation: no engine facts here.
            let e = try Evaluation.evaluate(config, policy: policy.withoutEngineFacts, cache: .standard(), splice: true)
            who = ContainerIdentity.of(config)
            result = Enforcement.decide(e, mode: policy.mode, stage: .precreate, container: who?.id)
            if case .rewrite(let r) = result.outcome {
                // The text cold and warm runs write alike (the cache keeps it), spliced into the rest.
                if let text = r.written {
                    guard let out = config.compactWritingSeccomp(text) else { throw WardenError.system("the tightened profile's text is not JSON") }
                    output = out
                } else if let profile = r.profile {
                    config.setSeccomp(profile)
                    output = config.document.serialized(.compact)
                }
            }
        } catch {
            // A config that does not parse still names its container where it can.
            who = (try? JSONDocument(bytes: input, name: "<stdin config>")).map { ContainerIdentity.of(OCIConfig(document: $0)) }
            result = Enforcement.failure("\(error)", exitCode: error.exitCode, mode: policy.mode, stage: .precreate)
        }
        if result.refusal == nil {
            do { try FileIO.writeAll(fd: 1, output, name: "<stdout>") } catch {
                result = Enforcement.failure("\(error)", exitCode: error.exitCode, mode: policy.mode, stage: .precreate)
            }
        }
        AuditLog.record(policy: policy, stage: "precreate", id: who?.id, bundle: who?.bundle, result.audit, idFrom: who?.idFrom)
        if let message = result.message { printErr(message) }
        return result.exitCode
    }

    /// createRuntime/prestart/createContainer: the runtime has already read config.json, so this
    /// stage can only judge it; it never rewrites the file.
    static func gate(_ stage: String, _ input: [UInt8], policy: Policy) -> Int32 {
        var id: String? = nil, bundle: String? = nil, digest: String? = nil
        let result: Enforcement.Result
        do {
            let state = try OCIState(document: try JSONDocument(bytes: input, name: "<stdin state>"))
            id = state.id
            bundle = state.bundle
            // The bundle folder, every folder above it and config.json must be writable by root only:
            // otherwise the file judged here need not be the one the runtime read.
            let (file, bytes) = try Bundle.read(state.bundle, writers: .rootAndSelf)
            digest = fnv1aHex(bytes)
            let cache = VerdictCache.standard(), members = ConfigMembers(bytes)
            // A warm gate answers from the bytes; else the config is parsed and judged. A gate only
            // judges: the tightened profile is never written, so it is not compiled either.
            let e: Evaluation
            if let cache, let members, let hit = Evaluation.cachedGate(members, policy: policy, cache: cache) {
                e = hit
            } else {
                e = try Evaluation.evaluate(Bundle.parse(bytes, file: file, members: members), policy: policy, needsProfile: false, cache: cache)
            }
            result = Enforcement.decide(e, mode: policy.mode, stage: .gate(stage), container: state.id)
        } catch {
            result = Enforcement.failure("\(error)", exitCode: error.exitCode, mode: policy.mode, stage: .gate(stage))
        }
        AuditLog.record(policy: policy, stage: stage, id: id, bundle: bundle, result.audit, idFrom: "state", configDigest: digest)
        if let message = result.message { printErr(message) }
        return result.exitCode
    }

    /// poststart: the container's process, seen from the host. runc 1.1.5 runs this inside
    /// `create` (state `created`), when only the init's main thread has its filter and the init waits
    /// for the hook before it execs, so the main thread is what is checked here, at once; `verify`
    /// checks every thread of a running container. crun 1.8.1 runs it (state `running`) as soon as
    /// its init is ready, possibly before that init has loaded its filter and exec'd: the hook waits
    /// (bounded, `$SECCOMP_WARDEN_POSTSTART_WAIT_MS`) until the process no longer runs the runtime's
    /// file. crun ignores a failing poststart hook, so in enforce mode a failure also kills the
    /// container's process.
    static func poststart(_ input: [UInt8], policy: Policy) -> Int32 {
        let stage = "poststart"
        var id: String? = nil, bundle: String? = nil, pid: Int32? = nil
        // Held from the first look to the kill: a pid reused while we wait is never judged or killed.
        var pidfd: Int32? = nil
        defer { if let pidfd { close(pidfd) } }
        func unverifiedExit(_ pid: Int32, _ when: String) -> Int32 {
            AuditLog.record(policy: policy, stage: stage, id: id, bundle: bundle, .init(.unverified, reason: "pid \(pid) exited \(when)"))
            return 0
        }
        do throws(WardenError) {
            let state = try OCIState(document: try JSONDocument(bytes: input, name: "<stdin state>"))
            id = state.id
            bundle = state.bundle
            pid = state.pid
            guard let pid = state.pid else { throw WardenError.input("the state has no pid", file: "<stdin state>", path: .root / "pid") }
            // The wait leaves the verifier at least half of what is left of the hook's deadline (FastPath),
            // which ends the hook without judging or killing anything.
            var budget = try ProcessStart.budgetMillis()
            var timer = itimerval()
            if getitimer(__itimer_which_t(ITIMER_REAL.rawValue), &timer) == 0, timer.it_value.tv_sec > 0 || timer.it_value.tv_usec > 0 {
                budget = min(budget, (Int(timer.it_value.tv_sec) * 1000 + Int(timer.it_value.tv_usec) / 1000) / 2)
            }
            // config.json is read now, with the gate's checks (only root may change it). It is parsed
            // now only for an exemption; else when the verdict needs it (`Verifier.ConfigSource`: a
            // thread without NoNewPrivs), and then a config that does not parse is an error as before.
            let config: Verifier.ConfigSource
            if policy.exemptions.isEmpty {
                let (file, bytes) = try Bundle.read(state.bundle, writers: .rootAndSelf)
                config = .init { () throws(WardenError) in try Bundle.parse(bytes, file: file) }
            } else {
                let parsed = try Bundle.open(state.bundle, writers: .rootAndSelf).config
                if let ex = policy.exemption(for: try parsed.annotations()) {
                    AuditLog.record(policy: policy, stage: stage, id: id, bundle: bundle, .init(.exempt, reason: ex.reason))
                    return 0
                }
                config = .init(parsed: parsed)
            }
            // A short-lived container may be gone before poststart runs (crun): nothing to check, and we say so.
            pidfd = ProcessStart.open(pid)
            guard ContainerProcesses.isLive(pid) else { return unverifiedExit(pid, "before poststart could check it") }
            guard let fd = pidfd else { throw WardenError.system("cannot open a pidfd for pid \(pid), which is alive: nothing was verified") }
            var findings = [String]()
            var report: VerifyReport? = nil
            // Only a runtime that has started the process can be waited for: runc's init execs after the hook.
            let outcome = state.status == "created" ? .execd(waited: nil)
                : ProcessStart.waitForExec(pid: pid, pidfd: fd, runtime: getppid(), millis: budget)
            var waited = [String]()
            switch outcome {
            case .exited: return unverifiedExit(pid, "before it exec'd the container's program")
            case .stillRuntime(let evidence): findings = ["process start: unverified: \(evidence)"]
            case .execd(let w):
                if let w { waited = ["process start: ok: \(w)"] }
                // The verifier: /proc for the main thread (runc's poststart runs before the init's other
                // threads have their filter), and the loaded BPF emulated against the site's deny rules.
                let verifier = try Verifier(policy: policy)
                verifier.mainThreadsOnly = true
                let r = try verifier.verify(pid: pid, config: config, container: nil)
                if let e = config.error { throw e }
                // Unverified (a task that could not be stopped or read) fails like a finding.
                findings = r.failures.map { "\($0.check): \($0.status.rawValue): \($0.evidence)" }
                report = r
            }
            // Nothing found means the verifier ran: findings are empty only after `.execd`.
            let checks = waited + (report?.checks ?? []).map { "\($0.check): \($0.status.rawValue): \($0.evidence)" }
            let result = Enforcement.poststart(findings: findings, checks: checks, container: state.id, mode: policy.mode)
            if result.refusal != nil { ProcessStart.kill(fd) }
            AuditLog.record(policy: policy, stage: stage, id: id, bundle: bundle, result.audit)
            if let message = result.message { printErr(message) }
            return result.exitCode
        } catch {
            // The process may exit while we look (a short-lived container under crun): that is not a finding.
            if let pid, !ContainerProcesses.isLive(pid) { return unverifiedExit(pid, "while poststart was checking it") }
            let result = Enforcement.failure("\(error)", exitCode: error.exitCode, mode: policy.mode, stage: .poststart)
            if result.refusal != nil, let pid {
                // Through the pidfd when we hold one: the pid may name another process by now.
                if let pidfd { ProcessStart.kill(pidfd) } else { kill(pid, SIGKILL) }
            }
            AuditLog.record(policy: policy, stage: stage, id: id, bundle: bundle, result.audit)
            if let message = result.message { printErr(message) }
            return result.exitCode
        }
    }
}
