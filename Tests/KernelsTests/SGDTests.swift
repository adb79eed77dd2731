import TestSupport
import XCTest
@testable import Kernels

final class SGDTests: XCTestCase {
    func testSGDStepMatchesPyTorchRule() {
        var w: [Float] = [1, -2]
        var v: [Float] = [0.5, 0]
        sgdStep(parameters: &w, gradients: [0.1, 0.2], velocity: &v, count: 2, learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        // g = grad + 0.01 w; v = 0.9 v + g; w -= 0.1 v
        let g0: Float = 0.1 + 0.01, g1: Float = 0.2 - 0.02
        XCTAssertEqual(v[0], 0.9 * 0.5 + g0, accuracy: 1e-7)
        XCTAssertEqual(v[1], g1, accuracy: 1e-7)
        XCTAssertEqual(w[0], 1 - 0.1 * (0.45 + g0), accuracy: 1e-7)
        XCTAssertEqual(w[1], -2 - 0.1 * g1, accuracy: 1e-7)
    }
}
