// swift-tools-version: 6.0
import PackageDescription

// MARK: - Compiler settings

/// The numeric code is built optimised even in debug builds (so `swift test` does not crawl at
/// 0.1 GFLOPS) and for the host CPU's vector units: without a CPU target, `SIMD.addingProduct`
/// lowers to one libm `fmaf` call per lane.
var numericSettings: [SwiftSetting] = [.unsafeFlags(["-O"])]
#if arch(x86_64)
numericSettings.append(.unsafeFlags(["-Xcc", "-march=native"]))
#endif

// MARK: - Package

let package = Package(
    name: "swift-lenet",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "lenet5", targets: ["lenet5"]),
        .library(name: "LeNet", targets: ["LeNet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // MARK: Numeric core: SIMD kernels and their plain reference versions.
        .target(name: "Kernels", swiftSettings: numericSettings),

        // MARK: Data: the IDX format, gzip, and the bundled MNIST files.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
        .target(
            name: "Datasets",
            dependencies: ["CZlib"],
            resources: [.copy("Resources/mnist")]
        ),

        // MARK: Images: PNG and JPEG through libpng and libjpeg, PGM, digit preprocessing.
        .target(
            name: "CImageCodecs",
            linkerSettings: [.linkedLibrary("png"), .linkedLibrary("jpeg")]
        ),
        .target(name: "Imaging", dependencies: ["CImageCodecs"]),

        // MARK: The model, its trainer and checkpoints.
        .target(name: "LeNet", dependencies: ["Kernels", "Datasets"], swiftSettings: numericSettings),

        // MARK: Command-line tool.
        .executableTarget(
            name: "lenet5",
            dependencies: [
                "LeNet", "Datasets", "Imaging",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: Tests
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"], swiftSettings: numericSettings),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "CZlib"]),
        .testTarget(
            name: "LeNetTests", dependencies: ["LeNet"], exclude: ["Fixtures"], swiftSettings: numericSettings),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "CZlib"]),
        .testTarget(name: "lenet5Tests", dependencies: ["lenet5", "Imaging", "Datasets"]),
    ]
)
