/// The tool's version; `--version` adds the commit and libseccomp's (WardenSeccomp's BuildInfo).
public enum WardenVersion {
    public static let string = "0.1.0"
}
