import TestSupport
import XCTest
@testable import Kernels

final class PoolingTests: XCTestCase {
    func testMaxPoolMatchesReferenceAndRoutesGradientToWinner() {
        var random = TestRandom(seed: 7)
        // Rows of 14 windows (S2: forward in vectors of 8, backward of 4, the last overlapping),
        // of 8 (exactly one forward), of 7 and 5 (vectors of 4, the last overlapping), and of 3
        // (no vector).
        for (planes, h, w) in [(6, 8, 28), (2, 4, 16), (5, 10, 14), (3, 6, 10), (4, 4, 6)] {
            // Values on a coarse grid, half of them at most 0: ties within windows, and a ReLU's
            // zeros for the fused backward pass.
            let input = random.array(planes * h * w).map { max(($0 * 4).rounded() / 4, 0) }
            var output = [Float](repeating: 0, count: planes * h * w / 4)
            var argmax = [UInt8](repeating: 9, count: output.count)
            maxPoolForward(input, planes: planes, height: h, width: w, into: &output, argmax: &argmax)
            XCTAssertEqual(output, Reference.maxPool(input, planes: planes, height: h, width: w))
            // Inference's pass, which records no winners, gives the same maxima.
            var maxima = [Float](repeating: .nan, count: output.count)
            maxPoolForward(input, planes: planes, height: h, width: w, into: &maxima)
            XCTAssertEqual(maxima, output)

            let gradient = random.array(output.count)
            var inputGradient = [Float](repeating: .nan, count: input.count)
            var fused = inputGradient
            maxPoolBackward(outputGradient: gradient, argmax: argmax, planes: planes, height: h, width: w, into: &inputGradient)
            maxPoolBackward(outputGradient: gradient, argmax: argmax, planes: planes, height: h, width: w, pooledOutput: output, into: &fused)
            for p in 0..<planes {
                for y in 0..<h {
                    for x in 0..<w {
                        let o = (p * h / 2 + y / 2) * w / 2 + x / 2
                        // The first input of the window (row-major) equal to its maximum wins.
                        let window = [(0, 0), (0, 1), (1, 0), (1, 1)].map { input[(p * h + y / 2 * 2 + $0) * w + x / 2 * 2 + $1] }
                        let winner = window.firstIndex(of: output[o])!
                        let i = (p * h + y) * w + x
                        let wins = winner == (y % 2) * 2 + x % 2
                        XCTAssertEqual(inputGradient[i], wins ? gradient[o] : 0, "\(w) wide, plane \(p), (\(y), \(x))")
                        XCTAssertEqual(fused[i], wins && input[i] > 0 ? gradient[o] : 0, "\(w) wide, plane \(p), (\(y), \(x)), fused")
                    }
                }
            }
        }
    }
}
