import WardenCore
import CSeccomp
import CShim

/// What `seccomp-warden --version` reports besides the version: the commit it was built from and the
/// libseccomp it runs with (the shared library loaded now, which may differ from the headers built against).
public enum BuildInfo {
    /// install.sh embeds `git describe`'s commit; a plain `swift build` gives "unknown".
    public static var commit: String { String(cString: sw_build_commit()) }

    public static var libseccomp: String {
        guard let v = seccomp_version() else { return "unknown" }
        return "\(v.pointee.major).\(v.pointee.minor).\(v.pointee.micro)"
    }
}
