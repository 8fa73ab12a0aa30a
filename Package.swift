// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "seccomp-warden",
    products: [
        .executable(name: "seccomp-warden", targets: ["seccomp-warden"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // System libraries, found through pkg-config.
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(name: "CJansson", pkgConfig: "jansson", providers: [.apt(["libjansson-dev"])]),
        // C for what Swift cannot import: libseccomp's macros and variadics, ptrace, memfd.
        .target(name: "CShim", dependencies: ["CSeccomp"]),
        .target(name: "WardenJSON", dependencies: ["CJansson"]),
        .target(name: "WardenSpec", dependencies: ["WardenJSON"]),
        .target(name: "WardenSeccomp", dependencies: ["WardenSpec", "CSeccomp", "CShim"]),
        .target(name: "WardenPolicy", dependencies: ["WardenSpec", "WardenSeccomp", "WardenJSON"]),
        .target(name: "WardenProc", dependencies: ["WardenSpec", "WardenSeccomp", "WardenPolicy", "WardenJSON", "CShim"]),
        .target(name: "WardenHook", dependencies: ["WardenPolicy", "WardenProc", "WardenJSON", "WardenSpec"]),
        .executableTarget(
            name: "seccomp-warden",
            dependencies: [
                "WardenHook", "WardenPolicy", "WardenSpec", "WardenJSON", "WardenSeccomp", "WardenProc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // bench/run only: in-process tightening throughput. Not part of the product or any hook path.
        .executableTarget(name: "warden-bench", dependencies: ["WardenPolicy", "WardenSpec", "WardenJSON"]),
        // libFuzzer targets (scripts/fuzz); a plain build replays corpus files.
        .executableTarget(name: "warden-fuzz", dependencies: ["WardenPolicy", "WardenSeccomp", "WardenSpec", "WardenJSON"]),
        // Unit tests: no root, no runtime, no container; seconds (`scripts/test --unit`). Its Support.swift
        // is a link to the integration target's; ArgvTable.swift and RandomProfiles.swift are linked the other way.
        .testTarget(
            name: "WardenUnitTests",
            dependencies: ["WardenHook", "WardenPolicy", "WardenSpec", "WardenJSON", "WardenSeccomp", "WardenProc"]
        ),
        // Integration tests: root, real runc, crun, podman, dockerd, containerd.
        .testTarget(
            name: "WardenTests",
            dependencies: ["WardenHook", "WardenPolicy", "WardenSpec", "WardenJSON", "WardenSeccomp", "WardenProc"]
        ),
    ]
)
