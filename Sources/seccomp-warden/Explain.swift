import WardenCore
import ArgumentParser
import WardenHook
import WardenJSON
import WardenPolicy
import WardenHost
import WardenVerify
import WardenSpec

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Say which action a profile, bundle or live process gives one syscall, and which rule gave it.",
        discussion: """
            explain PATH --syscall NAME [--arch A] [--args v0,v1,...]   PATH: a bundle, its config.json, or a profile file.
            explain --pid PID --syscall NAME [--arch A] [--args ...]    the filters loaded in the process (read with ptrace).
            The action is the compiled BPF run in the emulator over seccomp_data, as the kernel would;
            a last line says, by the proof, whether every call (any arguments, any instruction pointer) is denied.
            Exit: 0 explained, 2 error, 64 bad usage (an unknown --arch, a bad --args value).
            """
    )

    @Argument(help: "A bundle folder, a config.json, or a seccomp profile file.") var path: String?
    @Option(help: "A live process instead of a file.") var pid: Int32?
    @Option(help: "The syscall name.") var syscall: String
    @Option(help: "The architecture (x86_64, amd64, x86, i686, x32, aarch64, arm64, … or SCMP_ARCH_*). Default: this machine's.") var arch: SeccompArch?
    @Option(help: "Argument values, comma-separated (decimal, 0x hex, or negative).") var args: String?
    @Option(help: "A runtime state root to find the process's container in (repeatable).") var root: [String] = []
    @OptionGroup var policyOptions: PolicyOptions

    func validate() throws {
        if (path == nil) == (pid == nil) { throw ValidationError("give exactly one of PATH or --pid PID") }
        // A bad value on the command line is a usage error (64), like an unknown --arch.
        do { _ = try parseArgs() } catch { throw ValidationError(error.message) }
    }

    func run() throws {
        do throws(WardenError) {
            let arch = arch ?? .native
            let values = try parseArgs()
            let lines: [String]
            if let pid {
                lines = try Explainer.explain(pid: pid, name: syscall, arch: arch, args: values,
                                              roots: root.isEmpty ? RuntimeState.defaultRoots : root).lines
            } else {
                let (profile, source) = try load(path!)
                lines = try Explainer.explain(profile: profile, source: source, name: syscall, arch: arch, args: values).lines
                    + tighteningLines(profile)
            }
            for l in lines { print(l) }
        } catch {
            printErr("seccomp-warden explain: \(error)")
            throw ExitCode(2)
        }
    }

    func parseArgs() throws(WardenError) -> [UInt64] {
        guard let args, !args.isEmpty else { return [] }
        let parts = args.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count <= 6 else { throw .input("at most 6 argument values, not \(parts.count)") }
        var out = [UInt64]()
        for p in parts {
            let s = p.trimmingCharacters()
            let v: UInt64?
            if s.hasPrefix("0x") || s.hasPrefix("0X") { v = UInt64(s.dropFirst(2), radix: 16) }
            else if s.hasPrefix("-") { v = Int64(s).map { UInt64(bitPattern: $0) } }
            else { v = UInt64(s) }
            guard let v else { throw .input("not a number: \"\(s)\" (in --args)") }
            out.append(v)
        }
        return out
    }

    /// A profile file (top-level defaultAction) or a bundle / config.json (its linux.seccomp).
    func load(_ path: String) throws(WardenError) -> (LinuxSeccomp?, String) {
        let file = try Bundle.configPath(path)
        let doc = try JSONDocument(contentsOf: file)
        if doc.root["defaultAction"] != nil || doc.root["defaultErrno"] != nil {
            // Any format: a Docker/podman one is converted as Docker would for its default capabilities.
            do { return (try loadProfile(node: doc.root, context: .dockerDefault), file) } catch { throw error.inFile(file) }
        }
        return (try OCIConfig(document: doc).seccomp(), file + " (linux.seccomp)")
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        var s = self
        while let f = s.first, f == " " { s.removeFirst() }
        while let l = s.last, l == " " { s.removeLast() }
        return String(s)
    }

}

extension Explain {
    /// What tightening this profile against the policy does to the syscall: where the result would be
    /// stricter than the exact meet (the argument region and why), or that it is exact.
    func tighteningLines(_ profile: LinuxSeccomp?) -> [String] {
        guard let policy = try? Policy.load(explicit: policyOptions.policy),
              let r = try? Tighten.tighten(profile, policy: policy, checkOutput: false) else { return [] }
        let mine = r.changes.compactMap { c -> String? in
            if case .overApproximated(let n, let why) = c, n == syscall { return why }
            return nil
        }
        if mine.isEmpty { return ["tightening: exact for \(syscall) (the stricter of this profile and the policy at every argument value)"] }
        return mine.map { "tightening: stricter than the exact meet for \($0)" }
    }
}
