import Kernels
import XCTest
@testable import LeNet

/// The worked examples of docs/how-it-works.md (and the figures scripts/figures.py draws from
/// them), computed on the route the text walks, then by the plain reference kernels, then by the
/// layer training calls: if a number in the document were wrong, a test here would fail.
final class WorkedExampleTests: XCTestCase {
    private let gemmWorkspace = GEMMWorkspace()

    /// C = op(A) op(B) with the fast `gemm`.
    private func product(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, transposeA: Bool = false, transposeB: Bool = false) -> [Float] {
        var c = [Float](repeating: .nan, count: m * n)
        gemm(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: transposeA ? m : k, b: b,
            ldb: transposeB ? k : n, c: &c, ldc: n, accumulate: false, workspace: gemmWorkspace)
        return c
    }

    /// A 1x3x3 input, one 2x2 kernel, no bias: the column matrix, `Y = W · cols`,
    /// `dW = dY · colsᵀ`, `dcols = Wᵀ · dY`, `dX = col2im(dcols)`, and `dX` again as the full
    /// correlation with the rotated kernel.
    func testConvolution() {
        let shape = ConvolutionShape(inputChannels: 1, outputChannels: 1, height: 3, width: 3, kernel: 2, count: 1)
        let x: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        let w: [Float] = [1, 0, -1, 2]
        let dY: [Float] = [1, 0, 2, 1]

        // The text's route: im2col, then three matrix products and col2im.
        var columns = [Float](repeating: .nan, count: shape.columnsSize)
        im2col(x, shape, into: &columns)
        XCTAssertEqual(columns, [
            1, 2, 4, 5,  // kernel offset (0, 0), at output positions (0,0) (0,1) (1,0) (1,1)
            2, 3, 5, 6,  // (0, 1)
            4, 5, 7, 8,  // (1, 0)
            5, 6, 8, 9,  // (1, 1)
        ])
        XCTAssertEqual(product(w, columns, m: 1, n: 4, k: 4), [7, 9, 13, 15], "Y = W · cols")
        XCTAssertEqual(product(dY, columns, m: 1, n: 4, k: 4, transposeB: true), [14, 18, 26, 30], "dW = dY · colsᵀ")
        let dColumns = product(w, dY, m: 4, n: 4, k: 1, transposeA: true)
        XCTAssertEqual(dColumns, [1, 0, 2, 1, 0, 0, 0, 0, -1, 0, -2, -1, 2, 0, 4, 2], "dcols = Wᵀ · dY")
        var dX = [Float](repeating: .nan, count: 9)
        col2im(dColumns, shape, into: &dX)
        XCTAssertEqual(dX, [1, 0, 0, 1, 3, 0, -2, 3, 2], "dX = col2im(dcols)")

        // dX is the full correlation of dY (zero-padded by 1) with the kernel rotated by 180 degrees.
        let rotated = Array(w.reversed())
        var full = [Float](repeating: 0, count: 9)
        for i in 0..<3 {
            for j in 0..<3 {
                for a in 0..<2 {
                    for c in 0..<2 {
                        let (yy, xx) = (i + a - 1, j + c - 1)
                        if (0..<2).contains(yy) && (0..<2).contains(xx) { full[i * 3 + j] += dY[yy * 2 + xx] * rotated[a * 2 + c] }
                    }
                }
            }
        }
        XCTAssertEqual(full, dX)

        // The plain loops, and the layer as training calls it, give the same numbers.
        XCTAssertEqual(Reference.convolutionForward(x, weight: w, bias: [0], shape), [7, 9, 13, 15])
        let plain = Reference.convolutionBackward(x, weight: w, outputGradient: dY, shape)
        XCTAssertEqual(plain.weight, [14, 18, 26, 30])
        XCTAssertEqual(plain.bias, [4])
        XCTAssertEqual(plain.input, dX)
        let layer = Convolution(inputChannels: 1, outputChannels: 1, kernel: 2)
        var y = [Float](repeating: .nan, count: 4)
        var scratch = [Float](repeating: 0, count: shape.scratchSize)
        layer.forward(x, weight: w, bias: [0], shape, output: &y, columns: &scratch, gemmWorkspace: gemmWorkspace)
        XCTAssertEqual(y, [7, 9, 13, 15])
        var dW: [Float] = [0, 0, 0, 0], dB: [Float] = [0], layerDX = [Float](repeating: .nan, count: 9)
        var dScratch = [Float](repeating: 0, count: shape.scratchSize)
        layer.backward(
            columns: scratch, outputGradient: dY, weight: w, shape, weightGradient: &dW, biasGradient: &dB,
            inputGradient: &layerDX, columnGradient: &dScratch, gemmWorkspace: gemmWorkspace)
        XCTAssertEqual(dW, [14, 18, 26, 30])
        XCTAssertEqual(dB, [4])
        XCTAssertEqual(layerDX, dX)
    }

    /// A 4x4 ReLU output pooled 2x2: the winners (a dead window, a tie), the routed gradient,
    /// and the ReLU's mask on it.
    func testMaxPool() {
        let x: [Float] = [
            1, 3, 0, 0,
            2, 0, 0, 0,
            5, 1, 2, 2,
            4, 6, 1, 0,
        ]
        let dY: [Float] = [0.5, -1, 2, 1]
        var y = [Float](repeating: .nan, count: 4)
        var winners = [UInt8](repeating: 9, count: 4)
        maxPoolForward(x, planes: 1, height: 4, width: 4, into: &y, argmax: &winners)
        XCTAssertEqual(y, [3, 0, 6, 2])
        XCTAssertEqual(winners, [1, 0, 3, 0], "row order in the window; the first of a tie")
        var routed = [Float](repeating: .nan, count: 16)
        maxPoolBackward(outputGradient: dY, argmax: winners, planes: 1, height: 4, width: 4, into: &routed)
        XCTAssertEqual(routed, [
            0, 0.5, -1, 0,
            0, 0, 0, 0,
            0, 0, 1, 0,
            0, 2, 0, 0,
        ])
        let masked: [Float] = [
            0, 0.5, 0, 0,
            0, 0, 0, 0,
            0, 0, 1, 0,
            0, 2, 0, 0,
        ]
        var dX = [Float](repeating: .nan, count: 16)
        reluBackward(output: x, outputGradient: routed, count: 16, into: &dX)
        XCTAssertEqual(dX, masked, "the ReLU's mask stops the dead window's -1")
        // Fused as training reads it: the pool's output tells which windows are dead.
        var fused = [Float](repeating: .nan, count: 16)
        maxPoolBackward(outputGradient: dY, argmax: winners, planes: 1, height: 4, width: 4, pooledOutput: y, into: &fused)
        XCTAssertEqual(fused, masked)
        // The plain loops.
        XCTAssertEqual(Reference.maxPool(x, planes: 1, height: 4, width: 4), y)
        let plain = Reference.maxPoolBackward(x, outputGradient: dY, planes: 1, height: 4, width: 4)
        XCTAssertEqual(plain, routed)
        XCTAssertEqual(Reference.reluBackward(output: x, outputGradient: plain), masked)
    }

    /// Two samples as columns, 3 inputs, 2 outputs.
    func testFullyConnected() {
        let x: [Float] = [1, 0, 2, 1, 3, -1]  // (3, 2): sample 0 is (1, 2, 3), sample 1 is (0, 1, -1)
        let w: [Float] = [1, -1, 0, 2, 0, 1]  // (2, 3)
        let b: [Float] = [0.5, -1]
        let dY: [Float] = [1, -1, 0.5, 2]     // (2, 2)
        let y: [Float] = [-0.5, -0.5, 4, -2]
        let dW: [Float] = [1, 1, 4, 0.5, 3, -0.5]
        let dB: [Float] = [0, 2.5]
        let dX: [Float] = [2, 3, -1, 1, 0.5, 2]

        // The text's route: the layer's matrix products.
        let layer = Linear(inputFeatures: 3, outputFeatures: 2)
        var output = [Float](repeating: .nan, count: 4)
        layer.forward(x, weight: w, bias: b, count: 2, output: &output, gemmWorkspace: gemmWorkspace)
        XCTAssertEqual(output, y, "Y = W · X + b")
        var weightGradient = [Float](repeating: 0, count: 6), biasGradient: [Float] = [0, 0]
        var inputGradient = [Float](repeating: .nan, count: 6)
        layer.backward(
            x, outputGradient: dY, weight: w, count: 2, weightGradient: &weightGradient, biasGradient: &biasGradient,
            inputGradient: &inputGradient, gemmWorkspace: gemmWorkspace)
        XCTAssertEqual(weightGradient, dW, "dW = dY · Xᵀ")
        XCTAssertEqual(biasGradient, dB, "db = row sums of dY")
        XCTAssertEqual(inputGradient, dX, "dX = Wᵀ · dY")
        // The plain loops.
        XCTAssertEqual(Reference.linearForward(x, weight: w, bias: b, inputs: 3, outputs: 2, count: 2), y)
        let plain = Reference.linearBackward(x, weight: w, outputGradient: dY, inputs: 3, outputs: 2, count: 2)
        XCTAssertEqual(plain.weight, dW)
        XCTAssertEqual(plain.bias, dB)
        XCTAssertEqual(plain.input, dX)
    }

    /// Logits (1, 2, 3), label 0: the probabilities, the loss and p - onehot, to 4 decimals.
    func testSoftmaxWithCrossEntropy() {
        let logits: [Float] = [1, 2, 3]  // (3 classes, 1 sample)
        let label: [UInt8] = [0]
        var p = [Float](repeating: .nan, count: 3), gradient = [Float](repeating: .nan, count: 3)
        let loss = softmaxCrossEntropy(logits: logits, labels: label, classes: 3, count: 1, probabilities: &p, gradient: &gradient, scale: 1)
        for (ours, text) in zip(p, [0.0900, 0.2447, 0.6652] as [Float]) { XCTAssertEqual(ours, text, accuracy: 5e-5) }
        XCTAssertEqual(loss, 2.4076, accuracy: 5e-5)
        for (ours, text) in zip(gradient, [-0.9100, 0.2447, 0.6652] as [Float]) { XCTAssertEqual(ours, text, accuracy: 5e-5) }
        // Shifted by the largest logit, the same numbers.
        var shiftedP = [Float](repeating: .nan, count: 3)
        let shiftedLoss = softmaxCrossEntropy(
            logits: [-2, -1, 0], labels: label, classes: 3, count: 1, probabilities: &shiftedP, gradient: nil, scale: 1)
        XCTAssertEqual(shiftedLoss, loss, accuracy: 1e-6)
        for (a, b) in zip(shiftedP, p) { XCTAssertEqual(a, b, accuracy: 1e-7) }
        // The plain loops.
        let plain = Reference.softmaxCrossEntropy(logits: logits, labels: label, classes: 3, scale: 1)
        XCTAssertEqual(plain.loss, 2.4076, accuracy: 5e-5)
        for (a, b) in zip(plain.gradient, gradient) { XCTAssertEqual(a, b, accuracy: 1e-6) }
    }
}
