import Kernels

/// Numerical gradient checks: every layer's hand-written backward pass, and the whole
/// network's, against central differences of the loss. The tests assert them and
/// `lenet5 gradcheck` prints them.
///
/// A layer is checked with the loss L = sum(output * R) for a fixed random R, so that
/// dL/d(output) = R, element by element: the score of an element is
/// |analytic - numerical| / (absolute + relative * |numerical|) and at most 1 passes. In float32
/// a step of epsilon = 1e-2 (1e-3 near kinks) balances truncation error (which grows with
/// epsilon) against rounding error (which grows as epsilon shrinks: 1e-7 would leave only noise).
public enum GradientCheck {
    /// One tensor's check.
    public struct Result: Sendable {
        /// What was checked, e.g. `C1 convolution (direct forward)`.
        public let check: String
        /// Which gradient: `input`, `weight`, `bias`, or a parameter's name for the whole network.
        public let tensor: String
        /// The worst element's score (layers), or the relative error of the sampled gradient
        /// vector (the whole network).
        public let worst: Double
        public let tolerance: Double
        /// The worst element's analytic and numerical gradient (layers only).
        public let analytic: Double?
        public let numerical: Double?

        public var passed: Bool { worst <= tolerance }
    }

    /// Deliberate mistakes the checks must catch.
    public enum Fault: Sendable {
        /// The fused ReLU + max-pool backward reads its ReLU mask (the pooled output) one window off.
        case shiftedReLUMask
    }

    // MARK: The machinery

    /// Checks an analytic gradient against central differences at every element of `x`:
    /// d loss / d x[i] ~ (loss(x + eps e_i) - loss(x - eps e_i)) / 2 eps.
    /// - Parameters:
    ///   - check: what is checked, for the report (a layer, the network).
    ///   - tensor: which of its tensors.
    ///   - analytic: the gradient under test, one element per element of `x`.
    ///   - x: the point the loss is differentiated at.
    ///   - epsilon: the step of the central differences.
    ///   - absolute: the tolerance's absolute part.
    ///   - relative: the tolerance's part relative to the numerical gradient.
    ///   - kinks: the loss has kinks (a ReLU's, a max's) that a difference may straddle, and is
    ///     meaningless there: elements whose forward and backward one-sided differences
    ///     disagree by more than the tolerance are skipped (a central difference's error from a
    ///     kink is at most half that disagreement), and unless most are compared, the check fails.
    ///   - loss: the loss at a given `x`.
    public static func compare(
        _ check: String, _ tensor: String, analytic: [Float], of x: [Float], epsilon: Float = 1e-2,
        absolute: Double = 1e-3, relative: Double = 1e-2, kinks: Bool = false, loss: ([Float]) -> Double
    ) -> Result {
        let center = kinks ? loss(x) : 0
        var probe = x
        var worst = (score: 0.0, analytic: 0.0, numerical: 0.0)
        var compared = 0
        for i in x.indices {
            probe[i] = x[i] + epsilon
            let plus = loss(probe)
            probe[i] = x[i] - epsilon
            let minus = loss(probe)
            probe[i] = x[i]
            if kinks {
                let forward = (plus - center) / Double(epsilon), backward = (center - minus) / Double(epsilon)
                if abs(forward - backward) > absolute + relative * abs(forward + backward) / 2 { continue }
            }
            compared += 1
            let (a, g) = (Double(analytic[i]), (plus - minus) / Double(2 * epsilon))
            let score = abs(a - g) / (absolute + relative * abs(g))
            if !(score <= worst.score) { worst = (score, a, g) }
        }
        if 2 * compared < x.count { worst.score = .infinity }
        return Result(check: check, tensor: tensor, worst: worst.score, tolerance: 1, analytic: worst.analytic, numerical: worst.numerical)
    }

    /// sum(output * weights) in Double: a loss whose gradient with respect to the output is `weights`.
    static func dot(_ output: [Float], _ weights: [Float]) -> Double {
        zip(output, weights).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }

    /// Uniform values in [-scale, scale).
    static func uniform(_ count: Int, scale: Float = 1, _ generator: inout SplitMix64) -> [Float] {
        (0..<count).map { _ in (2 * generator.nextUnitFloat() - 1) * scale }
    }

    // MARK: Layers

    /// Every layer's input and parameter gradients, each kernel path of the convolution included.
    public static func layers(fault: Fault? = nil) -> [Result] {
        convolution("C1 convolution (direct forward)", LeNet5.c1.convolution, height: 20, width: 21, count: 2, seed: 1)
            + convolution("C5-like convolution, 5x5 input (im2col + GEMM)", Convolution(inputChannels: 3, outputChannels: 12, kernel: 5), height: 5, width: 5, count: 3, seed: 2)
            + convolution("3x3 convolution, 7 channels (im2col + GEMM)", Convolution(inputChannels: 7, outputChannels: 20, kernel: 3), height: 5, width: 6, count: 2, seed: 8)
            + convolution("3x3 convolution, 40 filters (im2col + GEMM)", Convolution(inputChannels: 2, outputChannels: 40, kernel: 3), height: 4, width: 4, count: 2, seed: 9)
            + c1ReLUMaxPool() + c3ReLUMaxPool() + linear()
            + [relu(), maxPool(), maxPoolWithReLU(fault: fault), softmaxCrossEntropy(), softmaxCrossEntropy(labelSmoothing: 0.1)]
    }

    static func convolution(_ name: String, _ layer: Convolution, height: Int, width: Int, count: Int, seed: UInt64) -> [Result] {
        let shape = layer.shape(height: height, width: width, count: count)
        var random = SplitMix64(seed: seed)
        let input = uniform(shape.inputSize, &random)
        let weight = uniform(shape.outputChannels * shape.patchSize, scale: 0.5, &random)
        let bias = uniform(shape.outputChannels, &random)
        let r = uniform(shape.outputSize, &random)
        let gemm = GEMMWorkspace()

        func forward(_ input: [Float], _ weight: [Float], _ bias: [Float]) -> [Float] {
            var output = [Float](repeating: 0, count: shape.outputSize)
            var columns = [Float](repeating: 0, count: shape.scratchSize)
            layer.forward(input, weight: weight, bias: bias, shape, output: &output, columns: &columns, gemmWorkspace: gemm)
            return output
        }
        // The backward pass reads the input's column matrix, which the direct forward pass never builds.
        var columns = [Float](repeating: 0, count: shape.columnsSize)
        im2col(input, shape, into: &columns)
        var dWeight = [Float](repeating: 0, count: weight.count)
        var dBias = [Float](repeating: 0, count: bias.count)
        var dInput = [Float](repeating: .nan, count: input.count)
        var dColumns = [Float](repeating: 0, count: shape.columnsSize)
        layer.backward(
            columns: columns, outputGradient: r, weight: weight, shape, weightGradient: &dWeight,
            biasGradient: &dBias, inputGradient: &dInput, columnGradient: &dColumns, gemmWorkspace: gemm)
        return [
            compare(name, "weight", analytic: dWeight, of: weight) { dot(forward(input, $0, bias), r) },
            compare(name, "bias", analytic: dBias, of: bias) { dot(forward(input, weight, $0), r) },
            compare(name, "input", analytic: dInput, of: input) { dot(forward($0, weight, bias), r) },
        ]
    }

    static func c1ReLUMaxPool() -> [Result] { convolutionReLUMaxPool(LeNet5.c1, height: 10, width: 26, seed: 14, epsilon: 1e-3) }

    /// C3's sums over 6 channels take a larger step to stand clear of float32's rounding.
    static func c3ReLUMaxPool() -> [Result] { convolutionReLUMaxPool(LeNet5.c3, height: 10, width: 14, seed: 15, epsilon: 3e-3) }

    /// A convolution (C1 or C3), its ReLU and the max-pool after it as training runs them: C1's
    /// forward passes one by one, C3's in one (`pooledConvolutionForward`), the backward passes in
    /// one, from the pool's output gradient (`pooledConvolutionWeightGradient`, and for C3
    /// `pooledConvolutionInputGradient`).
    static func convolutionReLUMaxPool(_ stage: Stage, height: Int, width: Int, seed: UInt64, epsilon: Float) -> [Result] {
        let layer = stage.convolution
        let shape = layer.shape(height: height, width: width, count: 2)
        var random = SplitMix64(seed: seed)
        let input = uniform(shape.inputSize, &random)
        let weight = uniform(shape.outputChannels * shape.patchSize, scale: 0.5, &random)
        let bias = uniform(shape.outputChannels, scale: 0.5, &random)
        let r = uniform(shape.outputSize / 4, &random)
        let planes = shape.outputChannels * shape.count
        let poolsInForward = LeNet5.stagesPoolingInForward.contains { $0.name == stage.name }
        let gemm = GEMMWorkspace()
        func forward(_ input: [Float], _ weight: [Float], _ bias: [Float]) -> (output: [Float], argmax: [UInt8]) {
            var scratch = [Float](repeating: 0, count: shape.scratchSize)
            var output = [Float](repeating: 0, count: planes * shape.outputHeight * shape.outputWidth / 4)
            var argmax = [UInt8](repeating: 0, count: output.count)
            if poolsInForward {
                pooledConvolutionForward(input, weight: weight, bias: bias, shape, scratch: &scratch, into: &output, winners: &argmax)
                return (output, argmax)
            }
            var activations = [Float](repeating: 0, count: shape.outputSize)
            layer.forward(input, weight: weight, bias: bias, shape, relu: true, output: &activations, columns: &scratch, gemmWorkspace: gemm)
            maxPoolForward(activations, planes: planes, height: shape.outputHeight, width: shape.outputWidth, into: &output, argmax: &argmax)
            return (output, argmax)
        }
        let (output, argmax) = forward(input, weight, bias)
        var dWeight = [Float](repeating: 0, count: weight.count)
        var dBias = [Float](repeating: 0, count: bias.count)
        pooledConvolutionWeightGradient(
            input, pooledGradient: r, argmax: argmax, pooledOutput: output, shape, weightGradient: &dWeight, biasGradient: &dBias)
        let name = "\(stage.name) conv + ReLU + max-pool (\(poolsInForward ? "both passes" : "backward") in one)"
        var results = [
            compare(name, "weight", analytic: dWeight, of: weight, epsilon: epsilon, kinks: true) { dot(forward(input, $0, bias).output, r) },
            compare(name, "bias", analytic: dBias, of: bias, epsilon: epsilon, kinks: true) { dot(forward(input, weight, $0).output, r) },
        ]
        if stage.name != LeNet5.c1.name {  // C1's input, the image, needs no gradient
            var dInput = [Float](repeating: .nan, count: input.count)
            pooledConvolutionInputGradient(pooledGradient: r, argmax: argmax, pooledOutput: output, weight: weight, shape, into: &dInput)
            results.append(compare(name, "input", analytic: dInput, of: input, epsilon: epsilon, kinks: true) { dot(forward($0, weight, bias).output, r) })
        }
        return results
    }

    static func linear() -> [Result] {
        let layer = Linear(inputFeatures: 13, outputFeatures: 7)
        let n = 5
        var random = SplitMix64(seed: 4)
        let input = uniform(13 * n, &random), weight = uniform(7 * 13, &random), bias = uniform(7, &random), r = uniform(7 * n, &random)
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
        let name = "fully connected 13->7"
        return [
            compare(name, "weight", analytic: dWeight, of: weight) { dot(forward(input, $0, bias), r) },
            compare(name, "bias", analytic: dBias, of: bias) { dot(forward(input, weight, $0), r) },
            compare(name, "input", analytic: dInput, of: input) { dot(forward($0, weight, bias), r) },
        ]
    }

    static func relu() -> Result {
        var random = SplitMix64(seed: 5)
        // Kept clear of the kink at 0, so a finite difference never straddles it.
        let input = uniform(53, &random).map { $0 < 0 ? $0 - 0.05 : $0 + 0.05 }
        let r = uniform(53, &random)
        func forward(_ x: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: x.count)
            reluForward(x, count: x.count, into: &y)
            return y
        }
        var dInput = [Float](repeating: .nan, count: 53)
        reluBackward(output: forward(input), outputGradient: r, count: 53, into: &dInput)
        return compare("ReLU", "input", analytic: dInput, of: input, epsilon: 1e-3) { dot(forward($0), r) }
    }

    /// Distinct values at least 0.01 apart, shuffled, so no pooling window has a near tie; with
    /// `signed`, half of them negative and none within 0.005 of 0 (a ReLU's kink).
    private static func poolInput(count: Int, signed: Bool, _ random: inout SplitMix64) -> [Float] {
        let offset: Float = signed ? Float(count / 2) * 0.01 - 0.005 : 0
        var values = (0..<count).map { (i: Int) -> Float in Float(i) * 0.01 - offset }
        random.shuffle(&values)
        return values
    }

    static func maxPool() -> Result {
        let (planes, h, w) = (3, 6, 8)
        var random = SplitMix64(seed: 6)
        let values = poolInput(count: planes * h * w, signed: false, &random)
        let r = uniform(planes * h * w / 4, &random)
        func forward(_ x: [Float]) -> (output: [Float], argmax: [UInt8]) {
            var y = [Float](repeating: 0, count: x.count / 4)
            var argmax = [UInt8](repeating: 0, count: x.count / 4)
            maxPoolForward(x, planes: planes, height: h, width: w, into: &y, argmax: &argmax)
            return (y, argmax)
        }
        var dInput = [Float](repeating: .nan, count: values.count)
        maxPoolBackward(outputGradient: r, argmax: forward(values).argmax, planes: planes, height: h, width: w, into: &dInput)
        return compare("max-pool 2x2", "input", analytic: dInput, of: values, epsilon: 1e-3) { dot(forward($0).output, r) }
    }

    /// ReLU then max-pool, with the ReLU's backward pass fused into the pool's
    /// (`maxPoolBackward(pooledOutput:)`): the routing that C1's and C3's backward passes fold in
    /// when training.
    static func maxPoolWithReLU(fault: Fault? = nil) -> Result {
        let (planes, h, w) = (4, 6, 8)
        var random = SplitMix64(seed: 10)
        let values = poolInput(count: planes * h * w, signed: true, &random)
        let r = uniform(planes * h * w / 4, &random)
        func forward(_ x: [Float]) -> (output: [Float], argmax: [UInt8]) {
            var activated = [Float](repeating: 0, count: x.count)
            reluForward(x, count: x.count, into: &activated)
            var y = [Float](repeating: 0, count: x.count / 4)
            var argmax = [UInt8](repeating: 0, count: x.count / 4)
            maxPoolForward(activated, planes: planes, height: h, width: w, into: &y, argmax: &argmax)
            return (y, argmax)
        }
        let (pooled, argmax) = forward(values)
        let mask = fault == .shiftedReLUMask ? Array(pooled.dropFirst()) + [pooled[0]] : pooled
        var dInput = [Float](repeating: .nan, count: values.count)
        maxPoolBackward(outputGradient: r, argmax: argmax, planes: planes, height: h, width: w, pooledOutput: mask, into: &dInput)
        return compare("ReLU + max-pool 2x2 (fused backward)", "input", analytic: dInput, of: values, epsilon: 1e-3) {
            dot(forward($0).output, r)
        }
    }

    static func softmaxCrossEntropy(labelSmoothing: Float = 0) -> Result {
        let (classes, n) = (10, 6)
        var random = SplitMix64(seed: 7)
        let logits = uniform(classes * n, scale: 3, &random)
        let labels: [UInt8] = [3, 0, 9, 9, 5, 1]
        func loss(_ z: [Float], gradient: UnsafeMutablePointer<Float>?) -> Double {
            var p = [Float](repeating: 0, count: z.count)
            return Kernels.softmaxCrossEntropy(
                logits: z, labels: labels, classes: classes, count: n, probabilities: &p, gradient: gradient, scale: Float(n),
                labelSmoothing: labelSmoothing) / Double(n)
        }
        var dLogits = [Float](repeating: .nan, count: logits.count)
        _ = loss(logits, gradient: &dLogits)
        // The real loss here: the mean cross-entropy of the softmax, not sum(output * R).
        let name = labelSmoothing == 0 ? "softmax + cross-entropy" : "softmax + cross-entropy, label smoothing \(labelSmoothing)"
        return compare(name, "logits", analytic: dLogits, of: logits, epsilon: 1e-3, absolute: 1e-4) {
            loss($0, gradient: nil)
        }
    }

    // MARK: The whole network

    /// The tolerance of the whole-network check: the relative error of a tensor's sampled
    /// gradient vector. Float32 rounding leaves 0.01-4% on a correct gradient; an off-by-one
    /// index pushes it far above (the tests assert above 0.3).
    public static let modelTolerance = 0.06

    /// A batch of 4 random images with initialised parameters: its mean loss's gradient by the
    /// backward pass against central differences, tensor by tensor.
    /// - Parameter corrupt: applied to the analytic gradient before the comparison (the tests
    ///   use it to prove the check catches an off-by-one).
    public static func model(corrupt: ((inout [Float]) -> Void)? = nil) -> [Result] {
        let count = 4
        var generator = SplitMix64(seed: 11)
        let parameters = Initialization.pytorch.parameters(using: &generator)
        let ws = Workspace(capacity: count)
        var random = SplitMix64(seed: 12)
        let pixels = uniform(count * LeNet5.input.count, &random)
        for (i, v) in pixels.enumerated() { ws.input[i] = v }
        for i in 0..<count { ws.setLabel(UInt8(i * 3 % LeNet5.classes), at: i) }

        ws.parameterGradients.update(repeating: 0, count: ParameterLayout.count)
        LeNet5.forward(parameters: parameters, workspace: ws, count: count, computeGradient: true, lossScale: Float(count))
        LeNet5.backward(parameters: parameters, workspace: ws, count: count)
        var analytic = Array(UnsafeBufferPointer(start: ws.parameterGradients, count: ParameterLayout.count))
        corrupt?(&analytic)

        // Every element of a tensor of up to 200, else 100 drawn deterministically.
        var sampler = SplitMix64(seed: 13)
        let sampled = ParameterLayout.tensors.flatMap { t in
            t.count <= 200 ? Array(t.offset..<t.offset + t.count) : (0..<100).map { _ in t.offset + sampler.next(below: t.count) }
        }
        // The loss has thousands of kinks (ReLU, max-pool) and is computed in float32, so a
        // difference that straddles a kink is meaningless: such points, where the forward and
        // backward one-sided differences disagree, are skipped.
        let epsilon: Float = 1e-3
        var probe = parameters
        func loss() -> Double { LeNet5.forward(parameters: probe, workspace: ws, count: count) / Double(count) }
        let center = loss()
        return ParameterLayout.tensors.map { tensor in
            var difference = 0.0, norm = 0.0
            for i in sampled where i >= tensor.offset && i < tensor.offset + tensor.count {
                probe[i] = parameters[i] + epsilon
                let plus = loss()
                probe[i] = parameters[i] - epsilon
                let minus = loss()
                probe[i] = parameters[i]
                let forward = (plus - center) / Double(epsilon), backward = (center - minus) / Double(epsilon)
                if abs(forward - backward) > 1e-3 + 0.05 * abs(forward + backward) { continue }
                let numerical = (forward + backward) / 2
                difference += (Double(analytic[i]) - numerical) * (Double(analytic[i]) - numerical)
                norm += numerical * numerical
            }
            // Every sample straddling a kink leaves nothing compared: reported as a failure.
            let error = norm > 0 ? (difference / norm).squareRoot() : .infinity
            return Result(check: "LeNet-5, whole network", tensor: tensor.name, worst: error, tolerance: modelTolerance, analytic: nil, numerical: nil)
        }
    }
}
