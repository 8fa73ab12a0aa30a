// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "seccomp-warden",
    products: [
        .executable(name: "seccomp-warden", targets: ["seccomp-warden"]),
        .executable(name: "seccomp-warden-agent", targets: ["seccomp-warden-agent"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        // The node agent only (never the hook binary): the Prometheus text format, and HTTP over SwiftNIO.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // System libraries, found through pkg-config.
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(name: "CJansson", pkgConfig: "jansson", providers: [.apt(["libjansson-dev"])]),
        // C for what Swift cannot import: libseccomp's macros and variadics, ptrace, memfd.
        .target(name: "CShim", dependencies: ["CSeccomp"]),
        // C headers Swift's Glibc module leaves out (sys/vfs.h).
        .target(name: "CLinux"),
        // Errors with their JSON path, file descriptors and folders opened safely, stderr, the version.
        .target(name: "WardenCore", dependencies: ["CLinux", .product(name: "SystemPackage", package: "swift-system")]),
        // The JSON document (jansson): parse, walk with paths, edit in place, write.
        .target(name: "WardenJSON", dependencies: ["WardenCore", "CJansson"]),
        // The runtime-spec's types (config.json, linux.seccomp); Docker's profile format in Docker/.
        .target(name: "WardenSpec", dependencies: ["WardenCore", "WardenJSON"]),
        // Seccomp: libseccomp compilation as runc and crun read a profile, BPF, the proof over BPF.
        .target(name: "WardenSeccomp", dependencies: ["WardenCore", "WardenSpec", "CSeccomp", "CShim"]),
        // The site policy: loading, the baseline, the meet, evaluation, enforcement, the verdict cache.
        .target(name: "WardenPolicy", dependencies: ["WardenCore", "WardenJSON", "WardenSpec", "WardenSeccomp"]),
        // The host: /proc, ptrace, filters read from the kernel, runtime state, the kernel log. No policy.
        .target(name: "WardenHost", dependencies: ["WardenCore", "WardenJSON", "WardenSpec", "WardenSeccomp", "CShim", .product(name: "SystemPackage", package: "swift-system")]),
        // Judging running processes against the policy.
        .target(name: "WardenVerify", dependencies: ["WardenCore", "WardenJSON", "WardenSpec", "WardenSeccomp", "WardenPolicy", "WardenHost"]),
        // The critical path: hook stages, the runtime wrapper, the audit log.
        .target(name: "WardenHook", dependencies: ["WardenCore", "WardenJSON", "WardenSpec", "WardenPolicy", "WardenHost", "WardenVerify", .product(name: "SystemPackage", package: "swift-system")]),
        // `node install` / `node uninstall`: files under a host root, each change recorded for uninstall.
        .target(name: "WardenNode", dependencies: ["WardenCore", "WardenJSON", "WardenPolicy", "CShim"]),
        // The node agent's core: state roots watched with inotify, containers verified, their series kept.
        .target(name: "WardenAgent", dependencies: ["WardenCore", "WardenJSON", "WardenPolicy", "WardenHost", "WardenVerify", "WardenHook", .product(name: "Prometheus", package: "swift-prometheus")]),
        .executableTarget(
            name: "seccomp-warden",
            dependencies: [
                "WardenCore", "WardenJSON", "WardenSpec", "WardenSeccomp", "WardenPolicy", "WardenHost",
                "WardenVerify", "WardenHook", "WardenNode",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // `seccomp-warden-agent`: one long-running process per node; /metrics and /healthz over HTTP.
        .executableTarget(name: "seccomp-warden-agent", dependencies: [
            "WardenCore", "WardenPolicy", "WardenHost", "WardenVerify", "WardenAgent",
            .product(name: "Prometheus", package: "swift-prometheus"), .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // bench/run only: in-process tightening throughput. Not part of the product or any hook path.
        .executableTarget(name: "warden-bench", dependencies: ["WardenCore", "WardenPolicy", "WardenSpec", "WardenJSON", "WardenHost", "WardenVerify"]),
        // libFuzzer targets (scripts/fuzz); a plain build replays corpus files.
        .executableTarget(name: "warden-fuzz", dependencies: ["WardenCore", "WardenPolicy", "WardenSeccomp", "WardenSpec", "WardenJSON"]),
        // Unit tests: no root, no runtime, no container; seconds (`scripts/test --unit`). Its Support.swift
        // is a link to the integration target's; ArgvTable.swift, EnforcementTable.swift and RandomProfiles.swift are linked the other way.
        .testTarget(
            name: "WardenUnitTests",
            dependencies: ["WardenCore", "WardenJSON", "WardenSpec", "WardenSeccomp", "WardenPolicy", "WardenHost", "WardenVerify", "WardenHook", "WardenAgent"]
        ),
        // Integration tests: root, real runc, crun, podman, dockerd, containerd.
        .testTarget(
            name: "WardenTests",
            dependencies: ["WardenCore", "WardenJSON", "WardenSpec", "WardenSeccomp", "WardenPolicy", "WardenHost", "WardenVerify", "WardenHook"]
        ),
    ]
)
