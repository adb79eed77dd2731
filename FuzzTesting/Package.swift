// swift-tools-version: 6.0
import PackageDescription

// Coverage-guided fuzzing of swift-lenet's parsers with libFuzzer, one executable per parser:
//   swift build -c release --sanitize=fuzzer,address   (from this folder; see README.md here)
// Each target exports LLVMFuzzerTestOneInput and must never crash, hang or leak on any input.
let package = Package(
    name: "FuzzTesting",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "swift-lenet", path: ".."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
    ],
    targets: [
        // What the custom mutators share.
        .target(name: "FuzzSupport"),
        .executableTarget(name: "FuzzIDX", dependencies: ["FuzzSupport", .product(name: "Datasets", package: "swift-lenet")]),
        .executableTarget(
            name: "FuzzCheckpoint",
            dependencies: [
                "FuzzSupport", .product(name: "LeNet", package: "swift-lenet"), .product(name: "Training", package: "swift-lenet"),
                .product(name: "Datasets", package: "swift-lenet"),
            ]),
        .executableTarget(name: "FuzzImage", dependencies: [.product(name: "Imaging", package: "swift-lenet")]),
        .executableTarget(
            name: "FuzzRequest",
            dependencies: [
                .product(name: "LeNetServer", package: "swift-lenet"), .product(name: "Datasets", package: "swift-lenet"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]),
    ]
)
