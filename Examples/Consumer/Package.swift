// swift-tools-version: 6.2
// A package that uses swift-lenet as any other package would: by URL and version. In your own
// package that is `.package(url: "https://github.com/<owner>/swift-lenet", from: "1.0.0")`; here
// the URL is SWIFT_LENET_URL, which CI points at a clone of this repository tagged 1.0.0 (.ci/run),
// or else this repository itself (then tag a version in it first).
import Foundation
import PackageDescription

let swiftLeNet = Context.environment["SWIFT_LENET_URL"]
    ?? URL(fileURLWithPath: Context.packageDirectory).appendingPathComponent("../..").standardizedFileURL.absoluteString

let package = Package(
    name: "Consumer",
    platforms: [.macOS(.v14)],
    dependencies: [.package(url: swiftLeNet, from: "1.0.0")],
    targets: [
        .executableTarget(name: "classify", dependencies: [.product(name: "LeNet", package: "swift-lenet")]),
    ]
)
