import Foundation
import Imaging
import LeNet
import TestSupport
import XCTest

final class InspectTests: XCTestCase {
    func testInspectCountsParametersShowsMetadataAndDrawsFilters() throws {
        let folder = try TemporaryDirectory("inspect")
        defer { folder.remove() }
        let directory = folder.url
        let model = Model.random(seed: 4)
        let checkpoint = directory.appendingPathComponent("model.safetensors")
        try Checkpoint(model: model, metadata: ["epoch": "7", "test_accuracy": "99.01"]).write(to: checkpoint)
        let filters = directory.appendingPathComponent("filters.png")
        let result = try runLenet5(["inspect", "--checkpoint", checkpoint.path, "--filters", filters.path])
        XCTAssertEqual(result.status, 0, result.error)
        for text in ["C5 conv 5x5 + ReLU", "48,120", "total", "61,706", "conv3.weight", "test_accuracy", "99.01", "normalization_std"] {
            XCTAssertTrue(result.output.contains(text), "\(text) missing from:\n\(result.output)")
        }
        let image = try GrayImage(contentsOf: filters.path)
        XCTAssertGreaterThan(image.width * image.height, 100_000)

        let missing = try runLenet5(["inspect", "--checkpoint", directory.appendingPathComponent("none.safetensors").path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.error.contains("no such file"), missing.error)
    }
}
