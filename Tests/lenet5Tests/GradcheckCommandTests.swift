import TestSupport
import XCTest

final class GradcheckTests: XCTestCase {
    func testGradcheckPrintsEveryCheckAndPasses() throws {
        let result = try runLenet5(["gradcheck"])
        XCTAssertEqual(result.status, 0, result.error)
        for text in [
            "C1 convolution (direct forward)", "C1 conv + ReLU + max-pool (backward in one)",
            "C3 conv + ReLU + max-pool (both passes in one)", "ReLU + max-pool 2x2 (fused backward)",
            "softmax + cross-entropy, label smoothing 0.1", "fc2.bias", "35 passed, 0 failed",
        ] {
            XCTAssertTrue(result.output.contains(text), "\(text) missing from:\n\(result.output)")
        }
    }
}
