import CSeccomp
import WardenSpec

/// libseccomp's syscall tables: names and numbers per architecture.
public enum Syscalls {
    /// libseccomp's token for an architecture (the AUDIT_ARCH value).
    public static func token(_ arch: SeccompArch) -> UInt32 {
        seccomp_arch_resolve_name(arch.libseccompName)
    }

    /// The number of `name` on `arch`, or nil where the syscall does not exist there.
    public static func number(_ name: String, arch: SeccompArch) -> Int32? {
        let nr = seccomp_syscall_resolve_name_arch(token(arch), name)
        return nr >= 0 ? nr : nil
    }

    /// Whether libseccomp knows `name` at all (on any architecture it has tables for).
    public static func isKnown(_ name: String) -> Bool {
        seccomp_syscall_resolve_name(name) != __NR_SCMP_ERROR
    }

    public static func name(_ number: Int32, arch: SeccompArch) -> String? {
        guard let p = seccomp_syscall_resolve_num_arch(token(arch), number) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// Every syscall number that exists on `arch` with its name (x86_64: 0 through ~460).
    public static func all(arch: SeccompArch, upTo limit: Int32 = 1024) -> [(number: Int32, name: String)] {
        var out = [(Int32, String)]()
        let base: Int32 = arch == .x32 ? 0x4000_0000 : 0
        for nr in 0..<limit {
            if let name = name(base + nr, arch: arch) { out.append((base + nr, name)) }
        }
        return out
    }
}

#if canImport(Glibc)
import Glibc
#endif
