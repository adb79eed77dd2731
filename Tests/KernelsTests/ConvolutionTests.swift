import TestSupport
import XCTest
@testable import Kernels

final class ConvolutionTests: XCTestCase {
    enum Path: CaseIterable { case direct, columns }

    /// Forward through one of the two kernels; `relu` only on the direct one, which fuses it.
    private func fastForward(_ input: [Float], _ weight: [Float], _ bias: [Float], _ s: ConvolutionShape, path: Path, relu: Bool = false) -> [Float] {
        precondition(!relu || path == .direct)
        var out = [Float](repeating: .nan, count: s.outputSize)
        var columns = [Float](repeating: .nan, count: s.scratchSize)
        let workspace = GEMMWorkspace()
        out.withUnsafeMutableBufferPointer { o in
            if path == .direct {
                directConvolutionForward(input, weight: weight, bias: bias, s, relu: relu, into: o.baseAddress!)
            } else {
                columns.withUnsafeMutableBufferPointer { cols in
                    im2col(input, s, into: cols.baseAddress!)
                    gemm(
                        transposeA: false, transposeB: false, m: s.outputChannels, n: s.positions, k: s.patchSize,
                        a: weight, lda: s.patchSize, b: cols.baseAddress!, ldb: s.positions, c: o.baseAddress!,
                        ldc: s.positions, accumulate: false, workspace: workspace)
                    addBias(o.baseAddress!, bias: bias, channels: s.outputChannels, positions: s.positions)
                }
            }
        }
        return out
    }

    private func operands(_ s: ConvolutionShape, seed: UInt64) -> (input: [Float], weight: [Float], bias: [Float], gradient: [Float]) {
        var random = TestRandom(seed: seed)
        return (random.array(s.inputSize), random.array(s.outputChannels * s.patchSize), random.array(s.outputChannels), random.array(s.outputSize))
    }

    let shapes = [
        // C1 of LeNet-5, a filter count that is not a multiple of 6, odd widths (overlapping last vector).
        ConvolutionShape(inputChannels: 1, outputChannels: 6, height: 32, width: 32, kernel: 5, count: 3),
        ConvolutionShape(inputChannels: 1, outputChannels: 8, height: 21, width: 23, kernel: 5, count: 2),
        ConvolutionShape(inputChannels: 1, outputChannels: 3, height: 40, width: 41, kernel: 5, count: 1),
        // C3, C5 (its columns a transpose: element by element on 5 images, in 8x8 blocks on 19,
        // the last overlapping; on one image, the input itself), and odd shapes.
        ConvolutionShape(inputChannels: 6, outputChannels: 16, height: 14, width: 14, kernel: 5, count: 3),
        ConvolutionShape(inputChannels: 16, outputChannels: 120, height: 5, width: 5, kernel: 5, count: 5),
        ConvolutionShape(inputChannels: 16, outputChannels: 120, height: 5, width: 5, kernel: 5, count: 19),
        ConvolutionShape(inputChannels: 16, outputChannels: 120, height: 5, width: 5, kernel: 5, count: 1),
        ConvolutionShape(inputChannels: 3, outputChannels: 5, height: 9, width: 11, kernel: 3, count: 2),
        ConvolutionShape(inputChannels: 1, outputChannels: 4, height: 7, width: 8, kernel: 5, count: 2),
        // Rows of exactly one SIMD16, more filters than a vector holds, and C3 on a chunk of 16
        // images and an odd shape on 21 (im2col's short-row copies, GEMM's block edges).
        ConvolutionShape(inputChannels: 4, outputChannels: 7, height: 13, width: 16, kernel: 5, count: 2),
        ConvolutionShape(inputChannels: 2, outputChannels: 20, height: 12, width: 15, kernel: 5, count: 2),
        ConvolutionShape(inputChannels: 6, outputChannels: 16, height: 14, width: 14, kernel: 5, count: 16),
        ConvolutionShape(inputChannels: 5, outputChannels: 3, height: 9, width: 11, kernel: 3, count: 21),
    ]

    func testForwardMatchesReferenceOnEveryApplicablePath() {
        var checked: [Path: Int] = [:]
        for (index, s) in shapes.enumerated() {
            let (input, weight, bias, _) = operands(s, seed: UInt64(index))
            let expected = Reference.convolutionForward(input, weight: weight, bias: bias, s)
            for path in Path.allCases {
                if path == .direct && !supportsDirectConvolution(s) { continue }
                let plain = fastForward(input, weight, bias, s, path: path)
                assertClose(plain, expected, tolerance: 1e-5, "\(path) \(s)")
                if path == .direct {
                    // The fused ReLU is exactly the separate pass over the same sums.
                    var separate = plain
                    reluForward(plain, count: plain.count, into: &separate)
                    XCTAssertEqual(fastForward(input, weight, bias, s, path: path, relu: true), separate, "\(path) \(s) with ReLU")
                }
                checked[path, default: 0] += 1
            }
        }
        XCTAssertEqual(checked, [.direct: 3, .columns: shapes.count])
    }

    func testBackwardMatchesReference() {
        for (index, s) in shapes.enumerated() {
            let (input, weight, _, gradient) = operands(s, seed: 100 + UInt64(index))
            let expected = Reference.convolutionBackward(input, weight: weight, outputGradient: gradient, s)
            let workspace = GEMMWorkspace()
            var dWeight = [Float](repeating: 0.5, count: weight.count)  // accumulated into
            var dBias = [Float](repeating: 0.5, count: s.outputChannels)
            var dInput = [Float](repeating: .nan, count: input.count)
            var columns = [Float](repeating: 0, count: s.patchSize * s.positions)
            var dColumns = columns
            columns.withUnsafeMutableBufferPointer { cols in
                im2col(input, s, into: cols.baseAddress!)
                gemm(
                    transposeA: false, transposeB: true, m: s.outputChannels, n: s.patchSize, k: s.positions,
                    a: gradient, lda: s.positions, b: cols.baseAddress!, ldb: s.positions, c: &dWeight,
                    ldc: s.patchSize, accumulate: true, workspace: workspace)
            }
            accumulateBiasGradient(gradient, channels: s.outputChannels, positions: s.positions, into: &dBias)
            dColumns.withUnsafeMutableBufferPointer { dcols in
                gemm(
                    transposeA: true, transposeB: false, m: s.patchSize, n: s.positions, k: s.outputChannels,
                    a: weight, lda: s.patchSize, b: gradient, ldb: s.positions, c: dcols.baseAddress!,
                    ldc: s.positions, accumulate: false, workspace: workspace)
                col2im(dcols.baseAddress!, s, into: &dInput)
            }
            assertClose(dWeight, expected.weight.map { $0 + 0.5 }, tolerance: 1e-4, "weight \(s)")
            assertClose(dBias, expected.bias.map { $0 + 0.5 }, tolerance: 1e-4, "bias \(s)")
            assertClose(dInput, expected.input, tolerance: 1e-4, "input \(s)")
        }
    }

    /// Applies the ReLU to a convolution's `output` in place and max-pools it: the maxima and
    /// winners the pooled kernels are checked against.
    private func reluThenPool(_ output: inout [Float], _ s: ConvolutionShape) -> (pooled: [Float], winners: [UInt8]) {
        reluForward(output, count: output.count, into: &output)
        var pooled = [Float](repeating: .nan, count: s.outputSize / 4)
        var winners = [UInt8](repeating: 9, count: pooled.count)
        maxPoolForward(output, planes: s.outputChannels * s.count, height: s.outputHeight, width: s.outputWidth, into: &pooled, argmax: &winners)
        return (pooled, winners)
    }

    /// C1's and C3's weight gradients and C3's input gradient, read from their pools' gradients,
    /// are the convolution's backward pass after the pool's and the ReLU's.
    func testPooledGradientsMatchPoolThenConvolutionBackward() {
        let shapes = [
            // C1 and C3 on a chunk of 16 images.
            ConvolutionShape(inputChannels: 1, outputChannels: 6, height: 32, width: 32, kernel: 5, count: 16),
            ConvolutionShape(inputChannels: 6, outputChannels: 16, height: 14, width: 14, kernel: 5, count: 16),
            // Groups of images that do not divide the count (C1's 2 in 3, 21 in 22 for the 8x12
            // planes), planes of windows in no multiple of 8, odd channel counts, rows under 8 floats.
            ConvolutionShape(inputChannels: 1, outputChannels: 3, height: 32, width: 32, kernel: 5, count: 3),
            ConvolutionShape(inputChannels: 1, outputChannels: 5, height: 16, width: 12, kernel: 5, count: 2),
            ConvolutionShape(inputChannels: 3, outputChannels: 4, height: 12, width: 16, kernel: 5, count: 2),
            ConvolutionShape(inputChannels: 8, outputChannels: 2, height: 8, width: 12, kernel: 5, count: 22),
            ConvolutionShape(inputChannels: 5, outputChannels: 3, height: 6, width: 6, kernel: 5, count: 3),
        ]
        for (index, s) in shapes.enumerated() {
            XCTAssertTrue(supportsPooledWeightGradient(s))
            XCTAssertTrue(supportsPooledInputGradient(s))
            let (input, weight, bias, _) = operands(s, seed: 200 + UInt64(index))
            var activations = Reference.convolutionForward(input, weight: weight, bias: bias, s)
            let (pooled, argmax) = reluThenPool(&activations, s)
            let planes = s.outputChannels * s.count
            XCTAssertGreaterThan(pooled.filter { $0 == 0 }.count, 0, "some windows' maxima are the ReLU's zeros")
            var random = TestRandom(seed: 300 + UInt64(index))
            var pooledGradient = random.array(pooled.count)
            // Some windows whose maximum passed the ReLU but whose gradient is 0: skipped too.
            for k in stride(from: 0, to: pooledGradient.count, by: 7) { pooledGradient[k] = 0 }

            var outputGradient = [Float](repeating: .nan, count: s.outputSize)
            maxPoolBackward(
                outputGradient: pooledGradient, argmax: argmax, planes: planes, height: s.outputHeight, width: s.outputWidth,
                pooledOutput: pooled, into: &outputGradient)
            let expected = Reference.convolutionBackward(input, weight: weight, outputGradient: outputGradient, s)
            var dWeight = [Float](repeating: 0.5, count: weight.count)  // accumulated into
            var dBias = [Float](repeating: 0.5, count: s.outputChannels)
            let visited = pooledConvolutionWeightGradient(
                input, pooledGradient: pooledGradient, argmax: argmax, pooledOutput: pooled, s, weightGradient: &dWeight,
                biasGradient: &dBias)
            // It visits exactly the windows with a gradient after the ReLU (what lenet5 bench counts as its work).
            XCTAssertEqual(visited, zip(pooled, pooledGradient).filter { $0 > 0 && $1 != 0 }.count, "\(s)")
            assertClose(dWeight, expected.weight.map { $0 + 0.5 }, tolerance: 1e-4, "weight \(s)")
            assertClose(dBias, expected.bias.map { $0 + 0.5 }, tolerance: 1e-4, "bias \(s)")
            var dInput = [Float](repeating: .nan, count: s.inputSize)  // overwritten
            pooledConvolutionInputGradient(
                pooledGradient: pooledGradient, argmax: argmax, pooledOutput: pooled, weight: weight, s, into: &dInput)
            assertClose(dInput, expected.input, tolerance: 1e-4, "input \(s)")
        }
        // Not taken: an output plane of part windows, a 3x3 kernel; more than 8 channels for the
        // input gradient.
        XCTAssertFalse(supportsPooledWeightGradient(ConvolutionShape(inputChannels: 1, outputChannels: 6, height: 32, width: 31, kernel: 5, count: 1)))
        XCTAssertFalse(supportsPooledWeightGradient(ConvolutionShape(inputChannels: 2, outputChannels: 6, height: 32, width: 32, kernel: 3, count: 1)))
        let nine = ConvolutionShape(inputChannels: 9, outputChannels: 2, height: 14, width: 14, kernel: 5, count: 1)
        XCTAssertTrue(supportsPooledWeightGradient(nine))
        XCTAssertFalse(supportsPooledInputGradient(nine))
    }

    /// The fused forward pass: its maxima and winners are exactly the ReLU and the max-pool of the
    /// convolution it also writes out, and that convolution is the reference's.
    func testPooledForwardMatchesConvolutionReluThenPool() {
        let shapes = [
            // C3 on a chunk of 16 images.
            ConvolutionShape(inputChannels: 6, outputChannels: 16, height: 14, width: 14, kernel: 5, count: 16),
            // Two groups of filters, the last of 4, and two tiles of windows a row (AVX-512
            // builds); 7 windows a row, the last tile overlapping, and one channel; rows of
            // windows not a tile apart.
            ConvolutionShape(inputChannels: 2, outputChannels: 20, height: 14, width: 24, kernel: 5, count: 2),
            ConvolutionShape(inputChannels: 1, outputChannels: 6, height: 20, width: 18, kernel: 5, count: 3),
            ConvolutionShape(inputChannels: 9, outputChannels: 3, height: 6, width: 14, kernel: 5, count: 1),
            // 12 filters: the windows written out in 8 x 8 blocks, the second block of filters
            // overlapping the first.
            ConvolutionShape(inputChannels: 3, outputChannels: 12, height: 12, width: 20, kernel: 5, count: 2),
        ]
        var zeroWindows = 0
        for (index, s) in shapes.enumerated() {
            XCTAssertTrue(supportsPooledConvolution(s), "\(s)")
            let (input, weight, bias, _) = operands(s, seed: 400 + UInt64(index))
            var scratch = [Float](repeating: .nan, count: pooledConvolutionScratchSize(s))
            var pooled = [Float](repeating: .nan, count: s.outputSize / 4)
            var winners = [UInt8](repeating: 9, count: pooled.count)
            var unpooled = [Float](repeating: .nan, count: s.outputSize)
            pooledConvolutionForward(input, weight: weight, bias: bias, s, scratch: &scratch, into: &pooled, winners: &winners, unpooled: &unpooled)
            var reference = Reference.convolutionForward(input, weight: weight, bias: bias, s)
            reluForward(reference, count: reference.count, into: &reference)
            assertClose(unpooled, reference, tolerance: 1e-4, "reference \(s)")
            var expected = unpooled
            let (expectedPooled, expectedWinners) = reluThenPool(&expected, s)
            XCTAssertEqual(expected.map(\.bitPattern), unpooled.map(\.bitPattern), "the unpooled output is after the ReLU \(s)")
            XCTAssertEqual(pooled.map(\.bitPattern), expectedPooled.map(\.bitPattern), "maxima \(s)")
            XCTAssertEqual(winners, expectedWinners, "winners \(s)")
            zeroWindows += expectedPooled.filter { $0 == 0 }.count

            // Inference: no winners, no unpooled output, the same maxima.
            var maxima = [Float](repeating: .nan, count: pooled.count)
            pooledConvolutionForward(input, weight: weight, bias: bias, s, scratch: &scratch, into: &maxima)
            XCTAssertEqual(maxima.map(\.bitPattern), expectedPooled.map(\.bitPattern), "inference maxima \(s)")
        }
        XCTAssertGreaterThan(zeroWindows, 0, "some windows are all the ReLU's zeros (the winner is the first)")
        // Not taken: an output plane of part windows, a 3x3 kernel.
        for (height, width, kernel) in [(14, 15, 5), (15, 14, 5), (12, 12, 3)] {
            XCTAssertFalse(supportsPooledConvolution(ConvolutionShape(inputChannels: 6, outputChannels: 16, height: height, width: width, kernel: kernel, count: 1)))
        }
    }

    func testIm2colPlacesEveryPatch() {
        let s = ConvolutionShape(inputChannels: 2, outputChannels: 1, height: 4, width: 5, kernel: 2, count: 2)
        let input = (0..<s.inputSize).map(Float.init)
        var columns = [Float](repeating: -1, count: s.patchSize * s.positions)
        im2col(input, s, into: &columns)
        for c in 0..<2 {
            for kh in 0..<2 {
                for kw in 0..<2 {
                    for n in 0..<2 {
                        for y in 0..<3 {
                            for x in 0..<4 {
                                let row = (c * 2 + kh) * 2 + kw
                                let column = (n * 3 + y) * 4 + x
                                XCTAssertEqual(columns[row * s.positions + column], input[((c * 2 + n) * 4 + y + kh) * 5 + x + kw])
                            }
                        }
                    }
                }
            }
        }
    }
}
