import WardenCore
import ArgumentParser
import WardenHook
import WardenJSON
import WardenSpec

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a Docker- or podman-format seccomp profile to the runtime-spec form, as Docker would for one container.",
        discussion: """
            Rules are kept or dropped by their includes/excludes (caps, arches, minKernel) for the given \
            capabilities, architecture and kernel; archMap gives the host architecture and its \
            sub-architectures. A runtime-spec profile is printed as it is.
            Capabilities: --caps, else --bundle's process.capabilities.bounding, else Docker's defaults. \
            Architecture: --arch, else the first of --bundle's linux.seccomp.architectures, else this machine's. \
            Kernel: --kernel, else uname(2).
            Exit: 0 printed, 2 bad input, 3 system error, 64 bad usage (an unknown --arch or capability, a bad --kernel).
            """
    )

    @Argument(help: "The profile file.") var profile: String
    @Option(help: "Capabilities present, comma-separated (CAP_SYS_ADMIN or SYS_ADMIN; empty for none).") var caps: String?
    @Option(help: "The host architecture (amd64, arm64, x86_64, i686, SCMP_ARCH_X86_64, …).") var arch: SeccompArch?
    @Option(help: "The kernel version X.Y (default: this machine's, from uname).") var kernel: String?
    @Option(help: "A bundle folder or config.json to take capabilities and architecture from.") var bundle: String?

    /// `--caps` as `CAP_*` names: `SYS_ADMIN` and `cap_sys_admin` mean CAP_SYS_ADMIN; empty for none.
    static func capabilities(_ list: String) -> [String] {
        list.split(separator: ",").map { c in
            let name = String(c).uppercased().trimmedSpaces
            return name.hasPrefix("CAP_") ? name : "CAP_" + name
        }.filter { $0 != "CAP_" }
    }

    func validate() throws {
        // A misspelt capability would silently drop the rules it grants: a usage error, like a bad --arch.
        let unknown = Self.capabilities(caps ?? "").filter { !ConversionContext.capabilityNames.contains($0) }
        if !unknown.isEmpty {
            throw ValidationError("not a capability in --caps: \(unknown.joined(separator: ", ")) (linux/capability.h names, e.g. CAP_SYS_ADMIN or SYS_ADMIN)")
        }
        if let kernel, KernelVersion(release: kernel) == nil {
            throw ValidationError("\"\(kernel)\" is not a kernel version X.Y (--kernel)")
        }
    }

    func run() throws {
        try runReportingErrors {
            var context = ConversionContext.dockerDefault
            if let bundle {
                context = ConversionContext.of(try Bundle.loadConfig(bundle))
            }
            if let caps { context.capabilities = Self.capabilities(caps) }
            if let arch { context.arch = arch }
            if let kernel, let k = KernelVersion(release: kernel) { context.kernel = k }  // checked in validate()
            let converted = try loadProfile(file: profile, context: context)
            try FileIO.writeAll(fd: 1, converted.json.serialized(.indented), name: "<stdout>")
        }
    }
}

private extension String {
    var trimmedSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
