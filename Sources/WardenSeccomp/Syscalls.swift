import WardenCore
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

extension Syscalls {
    /// Every name libseccomp knows on x86_64, i386 and x32 (and the native architecture), sorted.
    public static let knownNames: [String] = {
        var names = Set<String>()
        for arch in [SeccompArch.native, .x86_64, .x86, .x32] {
            for (_, name) in all(arch: arch) { names.insert(name) }
        }
        return names.sorted()
    }()

    /// The value the kernel puts in seccomp_data.arch for a call of this ABI (x32 calls carry
    /// x86_64's, with bit 30 set in the number), and whether its arguments are 32-bit.
    public static func abi(_ arch: SeccompArch) -> (auditArch: UInt32, narrowArgs: Bool) {
        switch arch {
        case .x32: (token(.x86_64), false)
        case .x86, .arm, .mips, .mipsel, .ppc, .s390, .parisc: (token(arch), true)
        default: (token(arch), false)
        }
    }

    /// The syscall numbers of `arch` above every number libseccomp names (calls newer than this
    /// libseccomp), as a range within the ABI's number space.
    /// Computed once per process for the ABIs a proof walks: libseccomp resolves a number by scanning
    /// its whole table, and every proof needs these ranges for every reading.
    public static func newerThanLibseccomp(_ arch: SeccompArch) -> ClosedRange<UInt32> {
        newerRanges[arch] ?? newerRange(arch)
    }

    /// Every range of `arch`'s numbers no libseccomp name covers above x86_64's highest: on x32 also
    /// those below its own block (512...547), which x32 shares with x86_64 (0x40000000 | 467 is
    /// open_tree_attr there).
    public static func newerThanLibseccompRanges(_ arch: SeccompArch) -> [ClosedRange<UInt32>] {
        var out = [newerThanLibseccomp(arch)]
        if arch == .x32 {
            let low = 0x4000_0000 + newerThanLibseccomp(.x86_64).lowerBound, high: UInt32 = 0x4000_0000 + 511
            if low <= high { out.append(low...high) }
        }
        return out
    }

    private static let newerRanges: [SeccompArch: ClosedRange<UInt32>] = {
        var out = [SeccompArch: ClosedRange<UInt32>]()
        for arch in [SeccompArch.native, .x86_64, .x86, .x32] where out[arch] == nil { out[arch] = newerRange(arch) }
        return out
    }()

    static func newerRange(_ arch: SeccompArch, upTo limit: Int32 = 1024) -> ClosedRange<UInt32> {
        let base: Int32 = arch == .x32 ? 0x4000_0000 : 0
        let top: UInt32 = arch == .x86_64 ? 0x3fff_ffff : arch == .x32 ? 0x7fff_ffff : .max
        // The highest number `all(arch:)` names, searched from the top: most numbers above it are unnamed.
        var highest = UInt32(bitPattern: base)
        for nr in stride(from: limit - 1, through: 0, by: -1) where name(base + nr, arch: arch) != nil {
            highest = UInt32(bitPattern: base + nr)
            break
        }
        return (highest + 1)...top
    }
}
