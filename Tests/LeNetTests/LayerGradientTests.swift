import Kernels
import TestSupport
import XCTest
@testable import LeNet

/// A numerical gradient check of every layer, input and parameter gradients, with the loss
/// L = sum(output * R) for a fixed random R, so that dL/d(output) = R.
final class LayerGradientTests: XCTestCase {
    private func checkConvolution(_ layer: Convolution, height: Int, width: Int, count: Int, seed: UInt64) {
        let shape = layer.shape(height: height, width: width, count: count)
        var random = TestRandom(seed: seed)
        let input = random.array(shape.inputSize)
        let weight = random.array(shape.outputChannels * shape.patchSize, scale: 0.5)
        let bias = random.array(shape.outputChannels)
        let r = random.array(shape.outputSize)
        let gemm = GEMMWorkspace()

        func forward(_ input: [Float], _ weight: [Float], _ bias: [Float]) -> (output: [Float], columns: [Float]) {
            var output = [Float](repeating: 0, count: shape.outputSize)
            var columns = [Float](repeating: 0, count: shape.scratchSize)
            layer.forward(input, weight: weight, bias: bias, shape, output: &output, columns: &columns, gemmWorkspace: gemm)
            return (output, columns)
        }
        let columns = forward(input, weight, bias).columns
        var dWeight = [Float](repeating: 0, count: weight.count)
        var dBias = [Float](repeating: 0, count: bias.count)
        var dInput = [Float](repeating: .nan, count: input.count)
        var dColumns = [Float](repeating: 0, count: shape.scratchSize)
        layer.backward(
            input, columns: columns, outputGradient: r, weight: weight, shape, weightGradient: &dWeight,
            biasGradient: &dBias, inputGradient: &dInput, columnGradient: &dColumns, gemmWorkspace: gemm)

        assertGradient("weight", analytic: dWeight, of: weight) { dot(forward(input, $0, bias).output, r) }
        assertGradient("bias", analytic: dBias, of: bias) { dot(forward(input, weight, $0).output, r) }
        assertGradient("input", analytic: dInput, of: input) { dot(forward($0, weight, bias).output, r) }
    }

    func testConvolutionDirectPath() {
        // LeNet-5's C1: one input channel, the direct SIMD kernel.
        checkConvolution(LeNet5.c1.convolution, height: 20, width: 21, count: 2, seed: 1)
    }

    func testConvolutionImplicitPath() {
        // Up to 16 filters (C3): implicit-GEMM forward and weight gradient.
        checkConvolution(LeNet5.c3.convolution, height: 8, width: 7, count: 2, seed: 2)
        checkConvolution(Convolution(inputChannels: 3, outputChannels: 4, kernel: 3), height: 6, width: 5, count: 3, seed: 3)
    }

    func testConvolutionColumnPath() {
        // More filters (C5): im2col + GEMM.
        checkConvolution(Convolution(inputChannels: 2, outputChannels: 20, kernel: 3), height: 5, width: 6, count: 2, seed: 8)
        checkConvolution(Convolution(inputChannels: 2, outputChannels: 40, kernel: 3), height: 4, width: 4, count: 2, seed: 9)
    }

    func testLinear() {
        let layer = Linear(inputFeatures: 13, outputFeatures: 7)
        let n = 5
        var random = TestRandom(seed: 4)
        let input = random.array(13 * n), weight = random.array(7 * 13), bias = random.array(7), r = random.array(7 * n)
        let gemm = GEMMWorkspace()
        func forward(_ input: [Float], _ weight: [Float], _ bias: [Float]) -> [Float] {
            var output = [Float](repeating: 0, count: 7 * n)
            layer.forward(input, weight: weight, bias: bias, count: n, output: &output, gemmWorkspace: gemm)
            return output
        }
        var dWeight = [Float](repeating: 0, count: weight.count)
        var dBias = [Float](repeating: 0, count: bias.count)
        var dInput = [Float](repeating: .nan, count: input.count)
        layer.backward(
            input, outputGradient: r, weight: weight, count: n, weightGradient: &dWeight, biasGradient: &dBias,
            inputGradient: &dInput, gemmWorkspace: gemm)
        assertGradient("weight", analytic: dWeight, of: weight) { dot(forward(input, $0, bias), r) }
        assertGradient("bias", analytic: dBias, of: bias) { dot(forward(input, weight, $0), r) }
        assertGradient("input", analytic: dInput, of: input) { dot(forward($0, weight, bias), r) }
    }

    func testReLU() {
        var random = TestRandom(seed: 5)
        // Keep inputs clear of the kink at 0 so a finite difference never straddles it.
        let input = random.array(53).map { $0 < 0 ? $0 - 0.05 : $0 + 0.05 }
        let r = random.array(53)
        func forward(_ x: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: x.count)
            reluForward(x, count: x.count, into: &y)
            return y
        }
        var dInput = [Float](repeating: .nan, count: 53)
        reluBackward(output: forward(input), outputGradient: r, count: 53, into: &dInput)
        assertGradient("input", analytic: dInput, of: input, epsilon: 1e-3) { dot(forward($0), r) }
    }

    func testMaxPool() {
        let (planes, h, w) = (3, 6, 8)
        var random = TestRandom(seed: 6)
        // Distinct values at least 0.01 apart, shuffled, so no window has a near tie.
        var values = (0..<planes * h * w).map { Float($0) * 0.01 }
        random.generator.shuffle(&values)
        let r = random.array(planes * h * w / 4)
        func forward(_ x: [Float]) -> (output: [Float], argmax: [UInt8]) {
            var y = [Float](repeating: 0, count: x.count / 4)
            var argmax = [UInt8](repeating: 0, count: x.count / 4)
            maxPoolForward(x, planes: planes, height: h, width: w, into: &y, argmax: &argmax)
            return (y, argmax)
        }
        var dInput = [Float](repeating: .nan, count: values.count)
        maxPoolBackward(outputGradient: r, argmax: forward(values).argmax, planes: planes, height: h, width: w, into: &dInput)
        assertGradient("input", analytic: dInput, of: values, epsilon: 1e-3) { dot(forward($0).output, r) }
    }

    func testSoftmaxCrossEntropy() {
        let (classes, n) = (10, 6)
        var random = TestRandom(seed: 7)
        let logits = random.array(classes * n, scale: 3)
        let labels: [UInt8] = [3, 0, 9, 9, 5, 1]
        func loss(_ z: [Float], gradient: UnsafeMutablePointer<Float>?) -> Double {
            var p = [Float](repeating: 0, count: z.count)
            return softmaxCrossEntropy(logits: z, labels: labels, classes: classes, count: n, probabilities: &p, gradient: gradient, scale: Float(n)) / Double(n)
        }
        var dLogits = [Float](repeating: .nan, count: logits.count)
        _ = loss(logits, gradient: &dLogits)
        assertGradient("logits", analytic: dLogits, of: logits, epsilon: 1e-3, absolute: 1e-4) { loss($0, gradient: nil) }
    }
}
