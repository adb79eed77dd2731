import Foundation
import Kernels
import TestSupport
import Training
import XCTest

/// What the documentation says the default run prints is what it prints: the log in
/// docs/results.md and the final accuracy README states, line for line but for the timings; and
/// the quick preset's documented accuracy.
final class DocumentedRunTests: XCTestCase {
    /// docs/results.md, README.md, and what `lenet5 train` with `options` printed, exit status 0.
    private func documentsAndRun(_ options: [String]) throws -> (results: String, readme: String, output: String) {
        // The documented figures are the default build's; an AVX-512 build adds in another order.
        guard InstructionSet.vectorBits == 256 else { throw XCTSkip("the documented figures are the default (AVX2) build's") }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let results = try String(contentsOf: root.appendingPathComponent("docs/results.md"), encoding: .utf8)
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let folder = try TemporaryDirectory("documented-run")
        defer { folder.remove() }
        let run = try runLenet5(["train", "--threads", "2", "--output", folder.url("run").path] + options)
        XCTAssertEqual(run.status, 0, run.error)
        return (results, readme, run.output)
    }

    func testTheDefaultRunPrintsTheDocumentedLog() throws {
        let (results, readme, output) = try documentsAndRun([])

        /// An epoch line up to its timings, which differ from run to run.
        func withoutTimings(_ line: Substring) -> String {
            String(line.range(of: ")  ", options: .backwards).map { line[..<$0.upperBound] } ?? line)
        }
        let epochs = TrainingConfiguration().epochs
        let documented = results.split(separator: "\n").filter { $0.hasPrefix("epoch ") && $0.contains("/\(epochs)  lr ") }.map(withoutTimings)
        let printed = output.split(separator: "\n").filter { $0.hasPrefix("epoch ") }.map(withoutTimings)
        XCTAssertEqual(documented.count, epochs, "docs/results.md shows the \(epochs) epochs")
        XCTAssertEqual(printed, documented)
        let legend = try XCTUnwrap(output.split(separator: "\n").first { $0.hasPrefix("per epoch: ") }, output)
        XCTAssertTrue(results.contains(legend), "docs/results.md: \(legend)")
        XCTAssertTrue(readme.contains(legend), "README: \(legend)")
        let final = try XCTUnwrap(output.split(separator: "\n").first { $0.hasPrefix("final test accuracy") }, output)
        XCTAssertTrue(results.contains(final), "docs/results.md: \(final)")
        XCTAssertTrue(readme.contains(final), "README: \(final)")
    }

    /// `--preset quick` reaches 99% in 3 epochs: seed 1 prints the final accuracy docs/results.md
    /// and README state.
    func testTheQuickPresetReachesItsDocumentedAccuracy() throws {
        let (results, readme, output) = try documentsAndRun(["--preset", "quick"])
        let final = try XCTUnwrap(output.split(separator: "\n").first { $0.hasPrefix("final test accuracy") }, output)
        XCTAssertTrue(final.hasSuffix("= 99.15%"), String(final))
        XCTAssertTrue(results.contains("| 99.15%, 99.15%, 99.11% (median 99.15%) |"), "docs/results.md's quick row")
        XCTAssertTrue(readme.contains("`--preset quick` reaches 99.15%"), "README")
    }
}
