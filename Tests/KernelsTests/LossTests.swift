import TestSupport
import XCTest
@testable import Kernels

final class LossTests: XCTestCase {
    func testSoftmaxCrossEntropyIsStableAndMatchesDefinition() {
        // (K = 3 classes, N = 2 samples) column-major per sample; the second has huge logits.
        let logits: [Float] = [1, 1000, 2, 1001, 3, 1002]
        let labels: [UInt8] = [2, 0]
        var p = [Float](repeating: 0, count: 6)
        var g = [Float](repeating: 0, count: 6)
        let loss = softmaxCrossEntropy(logits: logits, labels: labels, classes: 3, count: 2, probabilities: &p, gradient: &g, scale: 2)
        let e = [exp(-2.0), exp(-1.0), 1.0]
        let probs = e.map { $0 / e.reduce(0, +) }
        XCTAssertEqual(loss, -log(probs[2]) - log(probs[0]), accuracy: 1e-5)
        for k in 0..<3 {
            for n in 0..<2 {
                XCTAssertEqual(Double(p[k * 2 + n]), probs[k], accuracy: 1e-6)
                let target = k == Int(labels[n]) ? 1.0 : 0.0
                XCTAssertEqual(Double(g[k * 2 + n]), (probs[k] - target) / 2, accuracy: 1e-6)
            }
        }
    }
}
