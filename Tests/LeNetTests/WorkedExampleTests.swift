import Kernels
import XCTest
@testable import LeNet

/// The worked example of docs/how-it-works.md, computed by the real layer and kernels: a 1x3x3
/// input, one 2x2 kernel, its output, the column matrix, and the gradients. If the numbers in
/// the document were wrong, this test would fail.
final class WorkedExampleTests: XCTestCase {
    func testTheDocumentsNumbers() {
        let layer = Convolution(inputChannels: 1, outputChannels: 1, kernel: 2)
        let shape = layer.shape(height: 3, width: 3, count: 1)
        let x: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        let w: [Float] = [1, 0, -1, 2]
        let b: [Float] = [0]
        let gemm = GEMMWorkspace()

        var columns = [Float](repeating: .nan, count: shape.patchSize * shape.positions)
        im2col(x, shape, into: &columns)
        XCTAssertEqual(columns, [
            1, 2, 4, 5,  // kernel offset (0, 0), at output positions (0,0) (0,1) (1,0) (1,1)
            2, 3, 5, 6,  // (0, 1)
            4, 5, 7, 8,  // (1, 0)
            5, 6, 8, 9,  // (1, 1)
        ])

        var y = [Float](repeating: .nan, count: 4)
        var scratch = [Float](repeating: 0, count: shape.scratchSize)
        layer.forward(x, weight: w, bias: b, shape, output: &y, columns: &scratch, gemmWorkspace: gemm)
        XCTAssertEqual(y, [7, 9, 13, 15])

        let dY: [Float] = [1, 0, 2, 1]
        var dW: [Float] = [0, 0, 0, 0], dB: [Float] = [0], dX = [Float](repeating: .nan, count: 9)
        var dColumns = [Float](repeating: 0, count: shape.scratchSize)
        layer.backward(
            columns: scratch, outputGradient: dY, weight: w, shape, weightGradient: &dW, biasGradient: &dB,
            inputGradient: &dX, columnGradient: &dColumns, gemmWorkspace: gemm)
        XCTAssertEqual(dW, [14, 18, 26, 30])
        XCTAssertEqual(dB, [4])
        XCTAssertEqual(dX, [1, 0, 0, 1, 3, 0, -2, 3, 2])

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
    }
}
