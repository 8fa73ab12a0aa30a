import WardenCore
import WardenJSON
#if canImport(Glibc)
import Glibc
#endif

/// The critical-path entry points, dispatched before any argument parsing library runs.
public enum FastPath {
    /// Returns an exit code when argv names a fast-path entry (hook, runtime wrapper), else nil.
    public static func run(_ argv: [String]) -> Int32? {
        if let argv0 = argv.first, let runtime = Wrapper.runtimeName(argv0: argv0) {
            armDeadline()
            JSONDocument.keptUntilExit = true  // it execs the runtime right after its decision
            return Wrapper.run(runtime: runtime, argv0: argv0, arguments: Wrapper.rawArguments())
        }
        // Every `hook` line, `--help` included, goes through the one strict parser (HookCommandLine).
        if argv.count >= 2 && argv[1] == "hook" {
            armDeadline()
            JSONDocument.keptUntilExit = true  // it exits right after its decision
            return HookCommandLine.run(Array(argv.dropFirst(2)))
        }
        return nil
    }

    /// Seconds the hook or the wrapper may take before it gives up and fails closed: below the
    /// 10 s `timeout` of our hook files, so the decision is ours and says why, not the runtime's.
    /// `$SECCOMP_WARDEN_DEADLINE` changes it (0: none).
    public static let defaultDeadline: UInt32 = 8

    /// A closed stdout must give EPIPE, not kill us; a hang (libseccomp has known ones) must end.
    /// `seconds`: the default when `$SECCOMP_WARDEN_DEADLINE` is unset (the hooks' 8 s; the offline
    /// commands take longer, but never forever: libseccomp's compilation grows faster than the rules).
    public static func armDeadline(_ fallback: UInt32? = nil) {
        signal(SIGPIPE, SIG_IGN)
        var seconds = fallback ?? defaultDeadline
        if let env = getenv("SECCOMP_WARDEN_DEADLINE"), let v = UInt32(String(cString: env)) { seconds = v }
        guard seconds > 0 else { return }
        signal(SIGALRM) { _ in
            let message: StaticString = "seccomp-warden: deadline passed before a decision; failing closed\n"
            message.withUTF8Buffer { _ = write(2, $0.baseAddress, $0.count) }
            _exit(3)
        }
        // Whoever started us may have SIGALRM blocked (a blocked mask is inherited across exec).
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGALRM)
        sigprocmask(SIG_UNBLOCK, &set, nil)
        alarm(seconds)
    }

    /// Undoes `armDeadline` before exec'ing the real runtime: alarms and ignored signals survive execve.
    static func disarmDeadline() {
        alarm(0)
        signal(SIGALRM, SIG_DFL)
        signal(SIGPIPE, SIG_DFL)
    }
}
