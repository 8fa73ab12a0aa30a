import WardenCore
import ArgumentParser
import WardenHook
import WardenSeccomp

/// `--version`, `-V` and `version` print the same lines: name and version, the commit, libseccomp.
enum VersionText {
    static var lines: String {
        """
        seccomp-warden \(WardenVersion.string)
        commit: \(BuildInfo.commit)
        libseccomp: \(BuildInfo.libseccomp)
        """
    }
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print the version, the commit it was built from and the libseccomp version (same as --version, -V)."
    )

    func run() throws { print(VersionText.lines) }
}
