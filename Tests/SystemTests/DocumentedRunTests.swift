import Foundation
import Kernels
import TestSupport
import XCTest

/// What the documentation says the default run prints is what it prints: the log in
/// docs/results.md and the final accuracy README states, line for line but for the timings.
final class DocumentedRunTests: XCTestCase {
    func testTheDefaultRunPrintsTheDocumentedLog() throws {
        // The documented log is the default build's; an AVX-512 build adds in another order.
        guard InstructionSet.vectorBits == 256 else { throw XCTSkip("the documented log is the default (AVX2) build's") }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let results = try String(contentsOf: root.appendingPathComponent("docs/results.md"), encoding: .utf8)
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let folder = try TemporaryDirectory("documented-run")
        defer { folder.remove() }
        let run = try runLenet5(["train", "--threads", "2", "--output", folder.url("run").path])
        XCTAssertEqual(run.status, 0, run.error)

        /// An epoch line up to its timings, which differ from run to run.
        func withoutTimings(_ line: Substring) -> String {
            String(line.range(of: ")  ", options: .backwards).map { line[..<$0.upperBound] } ?? line)
        }
        let documented = results.split(separator: "\n").filter { $0.hasPrefix("epoch ") && $0.contains("/15  lr ") }.map(withoutTimings)
        let printed = run.output.split(separator: "\n").filter { $0.hasPrefix("epoch ") }.map(withoutTimings)
        XCTAssertEqual(documented.count, 15, "docs/results.md shows the 15 epochs")
        XCTAssertEqual(printed, documented)
        let final = try XCTUnwrap(run.output.split(separator: "\n").first { $0.hasPrefix("final test accuracy") }, run.output)
        XCTAssertTrue(results.contains(final), "docs/results.md: \(final)")
        XCTAssertTrue(readme.contains(final), "README: \(final)")
    }

    /// `--preset quick` reaches 99% in 3 epochs: seed 1 prints the final accuracy docs/results.md
    /// and README state.
    func testTheQuickPresetReachesItsDocumentedAccuracy() throws {
        guard InstructionSet.vectorBits == 256 else { throw XCTSkip("the documented figures are the default (AVX2) build's") }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let results = try String(contentsOf: root.appendingPathComponent("docs/results.md"), encoding: .utf8)
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let folder = try TemporaryDirectory("quick-run")
        defer { folder.remove() }
        let run = try runLenet5(["train", "--preset", "quick", "--threads", "2", "--output", folder.url("run").path])
        XCTAssertEqual(run.status, 0, run.error)
        let final = try XCTUnwrap(run.output.split(separator: "\n").first { $0.hasPrefix("final test accuracy") }, run.output)
        XCTAssertTrue(final.hasSuffix("= 99.18%"), String(final))
        XCTAssertTrue(results.contains("| 99.18%, 99.22%, 99.08% (median 99.18%) |"), "docs/results.md's quick row")
        XCTAssertTrue(readme.contains("`--preset quick` reaches 99.18%"), "README")
    }
}
