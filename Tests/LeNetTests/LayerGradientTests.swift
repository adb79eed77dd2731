import Kernels
import XCTest
@testable import LeNet

/// A numerical gradient check of every layer's input and parameter gradients, element by
/// element (`GradientCheck.layers`, which `lenet5 gradcheck` prints too).
final class LayerGradientTests: XCTestCase {
    private func assertPassed(_ results: [GradientCheck.Result], file: StaticString = #filePath, line: UInt = #line) {
        for r in results {
            XCTAssertLessThanOrEqual(
                r.worst, r.tolerance, "\(r.check), \(r.tensor): analytic \(r.analytic ?? .nan), numerical \(r.numerical ?? .nan)",
                file: file, line: line)
        }
    }

    func testConvolutionDirectPath() {
        // LeNet-5's C1: one input channel, the direct SIMD forward; the backward pass by GEMM
        // (training takes C1's gradients from S2's gradient instead, below).
        assertPassed(GradientCheck.convolution("C1", LeNet5.c1.convolution, height: 20, width: 21, count: 2, seed: 1))
    }

    /// The path every training step takes through C1 and C3: C3's forward pass with its ReLU and
    /// S4 in one; their weight and bias gradients, and C3's input gradient, read from the pool's
    /// output gradient, the ReLU's and the pool's backward passes folded in.
    func testConvolutionReLUMaxPoolInOne() {
        assertPassed(GradientCheck.c1ReLUMaxPool())
        assertPassed(GradientCheck.c3ReLUMaxPool())
    }

    func testConvolutionColumnPath() {
        // im2col + GEMM, forward and backward: a kernel as large as its input plane (C5, whose
        // column matrix is a transpose of the input), and 3x3 kernels with more channels and filters.
        assertPassed(GradientCheck.convolution("C5-like", Convolution(inputChannels: 3, outputChannels: 12, kernel: 5), height: 5, width: 5, count: 3, seed: 2))
        assertPassed(GradientCheck.convolution("20", Convolution(inputChannels: 7, outputChannels: 20, kernel: 3), height: 5, width: 6, count: 2, seed: 8))
        assertPassed(GradientCheck.convolution("40", Convolution(inputChannels: 2, outputChannels: 40, kernel: 3), height: 4, width: 4, count: 2, seed: 9))
    }

    func testLinear() {
        assertPassed(GradientCheck.linear())
    }

    func testReLU() {
        assertPassed([GradientCheck.relu()])
    }

    func testMaxPool() {
        assertPassed([GradientCheck.maxPool()])
    }

    /// The ReLU's backward pass fused into the pool's: the routing C1's and C3's backward passes
    /// fold in when training.
    func testMaxPoolWithFusedReLU() {
        assertPassed([GradientCheck.maxPoolWithReLU()])
    }

    /// The fused check must be able to fail: a ReLU mask read one element off is caught.
    func testFusedCheckCatchesAWrongMask() {
        let wrong = GradientCheck.maxPoolWithReLU(fault: .shiftedReLUMask)
        XCTAssertGreaterThan(wrong.worst, 10 * wrong.tolerance, "a shifted ReLU mask went unnoticed")
    }

    func testSoftmaxCrossEntropy() {
        assertPassed([GradientCheck.softmaxCrossEntropy(), GradientCheck.softmaxCrossEntropy(labelSmoothing: 0.1)])
    }

    func testEveryCheckIsListed() {
        let results = GradientCheck.layers()
        XCTAssertEqual(results.count, 4 * 3 + 2 + 3 + 3 + 5)
        XCTAssertTrue(results.allSatisfy(\.passed))
    }
}
