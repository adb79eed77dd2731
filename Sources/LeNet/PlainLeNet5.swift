import Kernels

// LeNet-5 in plain loops: the `Reference` kernels chained one layer at a time, each forward
// call a line, each backward call a line, every activation and gradient a whole array. Nothing
// is fused, vectorised or skipped, so a reader can check each line against docs/how-it-works.md
// and step through it in a debugger. It computes what `LeNet5.forward` and `LeNet5.backward`
// compute, about 40 times slower (PlainLeNet5Tests holds the two to each other);
// `lenet5 train --kernels reference` trains with it.
//
// Shapes for N images, channel-major as the fast network's:
//   input (1, N, 32, 32) -C1-> (6, N, 28, 28) -ReLU-> -S2-> (6, N, 14, 14) -C3-> (16, N, 10, 10)
//   -ReLU-> -S4-> (16, N, 5, 5) -C5-> (120, N) -ReLU-> -F6-> (84, N) -ReLU-> -F7-> logits (10, N)

/// LeNet-5 with the parameters `parameters` (61,706 floats in `ParameterLayout`'s order),
/// written with the plain reference kernels.
public struct PlainLeNet5: Sendable {
    public let parameters: [Float]

    public init(parameters: [Float]) {
        precondition(parameters.count == ParameterLayout.count)
        self.parameters = parameters
    }

    /// Every stage's output for N images: what `backward` needs.
    public struct Activations: Sendable {
        public let count: Int
        public let input: [Float]   // (1, N, 32, 32)
        public let c1: [Float]      // (6, N, 28, 28), after its ReLU
        public let s2: [Float]      // (6, N, 14, 14)
        public let c3: [Float]      // (16, N, 10, 10), after its ReLU
        public let s4: [Float]      // (16, N, 5, 5)
        public let c5: [Float]      // (120, N), after its ReLU
        public let f6: [Float]      // (84, N), after its ReLU
        public let logits: [Float]  // (10, N)
    }

    /// The network's output for `count` normalised 32x32 input planes, (1, N, 32, 32).
    public func forward(_ input: [Float], count n: Int) -> Activations {
        let (c1, s2, c3, s4, c5, f6, f7) = (LeNet5.c1, LeNet5.s2, LeNet5.c3, LeNet5.s4, LeNet5.c5, LeNet5.f6, LeNet5.f7)
        precondition(input.count == LeNet5.input.count * n)
        let y1 = Reference.relu(Reference.convolutionForward(input, weight: weight(c1), bias: bias(c1), c1.convolutionShape(count: n)))
        let y2 = Reference.maxPool(y1, planes: s2.input.channels * n, height: s2.input.height, width: s2.input.width)
        let y3 = Reference.relu(Reference.convolutionForward(y2, weight: weight(c3), bias: bias(c3), c3.convolutionShape(count: n)))
        let y4 = Reference.maxPool(y3, planes: s4.input.channels * n, height: s4.input.height, width: s4.input.width)
        let y5 = Reference.relu(Reference.convolutionForward(y4, weight: weight(c5), bias: bias(c5), c5.convolutionShape(count: n)))
        let y6 = Reference.relu(Reference.linearForward(y5, weight: weight(f6), bias: bias(f6), inputs: f6.input.count, outputs: f6.output.count, count: n))
        let y7 = Reference.linearForward(y6, weight: weight(f7), bias: bias(f7), inputs: f7.input.count, outputs: f7.output.count, count: n)
        return Activations(count: n, input: input, c1: y1, s2: y2, c3: y3, s4: y4, c5: y5, f6: y6, logits: y7)
    }

    /// The forward pass read in reverse, one call per line: the summed cross-entropy of the
    /// images against `labels`, and the gradient of that sum divided by `lossScale` with respect
    /// to every parameter, in `ParameterLayout`'s order.
    /// - Parameters:
    ///   - a: `forward`'s result for the images.
    ///   - labels: their classes, one per image.
    ///   - labelSmoothing: the share of each target spread evenly over the classes.
    ///   - lossScale: what the summed loss is divided by (the batch's size, for its mean).
    public func backward(_ a: Activations, labels: [UInt8], labelSmoothing: Float = 0, lossScale: Float) -> (loss: Double, gradient: [Float]) {
        let (c1, s2, c3, s4, c5, f6, f7) = (LeNet5.c1, LeNet5.s2, LeNet5.c3, LeNet5.s4, LeNet5.c5, LeNet5.f6, LeNet5.f7)
        let n = a.count
        precondition(labels.count == n)
        var gradient = [Float](repeating: 0, count: ParameterLayout.count)
        func store(_ stage: Stage, _ g: (weight: [Float], bias: [Float], input: [Float])) {
            guard let w = stage.weight, let b = stage.bias else { preconditionFailure("\(stage.name) has no parameters") }
            gradient.replaceSubrange(w.offset..<w.offset + w.count, with: g.weight)
            gradient.replaceSubrange(b.offset..<b.offset + b.count, with: g.bias)
        }
        let (loss, dLogits) = Reference.softmaxCrossEntropy(logits: a.logits, labels: labels, classes: LeNet5.classes, labelSmoothing: labelSmoothing, scale: lossScale)
        let g7 = Reference.linearBackward(a.f6, weight: weight(f7), outputGradient: dLogits, inputs: f7.input.count, outputs: f7.output.count, count: n)
        let dF6 = Reference.reluBackward(output: a.f6, outputGradient: g7.input)
        let g6 = Reference.linearBackward(a.c5, weight: weight(f6), outputGradient: dF6, inputs: f6.input.count, outputs: f6.output.count, count: n)
        let dC5 = Reference.reluBackward(output: a.c5, outputGradient: g6.input)
        let g5 = Reference.convolutionBackward(a.s4, weight: weight(c5), outputGradient: dC5, c5.convolutionShape(count: n))
        let dC3 = Reference.reluBackward(output: a.c3, outputGradient: Reference.maxPoolBackward(a.c3, outputGradient: g5.input, planes: s4.input.channels * n, height: s4.input.height, width: s4.input.width))
        let g3 = Reference.convolutionBackward(a.s2, weight: weight(c3), outputGradient: dC3, c3.convolutionShape(count: n))
        let dC1 = Reference.reluBackward(output: a.c1, outputGradient: Reference.maxPoolBackward(a.c1, outputGradient: g3.input, planes: s2.input.channels * n, height: s2.input.height, width: s2.input.width))
        let g1 = Reference.convolutionBackward(a.input, weight: weight(c1), outputGradient: dC1, c1.convolutionShape(count: n))
        for (stage, g) in [(f7, g7), (f6, g6), (c5, g5), (c3, g3), (c1, g1)] { store(stage, g) }
        return (loss, gradient)
    }

    private func weight(_ stage: Stage) -> [Float] { slice(stage.weight) }
    private func bias(_ stage: Stage) -> [Float] { slice(stage.bias) }

    private func slice(_ tensor: ParameterTensor?) -> [Float] {
        guard let tensor else { preconditionFailure("the stage has no parameters") }
        return Array(parameters[tensor.offset..<tensor.offset + tensor.count])
    }
}

/// Which kernels run the network: what `Runner` computes with.
public enum KernelSet: String, CaseIterable, Sendable, Codable {
    /// The fast kernels (`LeNet5.forward`, `LeNet5.backward`): vectorised, fused, multi-threaded.
    case fast
    /// The plain loops of `PlainLeNet5`, for reading and stepping through; the same numbers to
    /// rounding, about 40 times slower.
    case reference
}

extension PlainLeNet5 {
    /// What `LeNet5.forward` (and, when `gradient` is given, `LeNet5.backward`) does for the
    /// chunk in `workspace`: leaves the logits there, adds the gradient of the chunk's loss
    /// divided by `gradient.lossScale` to its `parameterGradients`, returns the summed loss.
    func run(workspace ws: Workspace, count n: Int, gradient: (lossScale: Float, labelSmoothing: Float)? = nil) -> Double {
        let input = Array(UnsafeBufferPointer(start: ws.input, count: LeNet5.input.count * n))
        let labels = Array(UnsafeBufferPointer(start: ws.labels, count: n))
        let activations = forward(input, count: n)
        for (i, value) in activations.logits.enumerated() { ws.logits[i] = value }
        guard let gradient else {
            return Reference.softmaxCrossEntropy(logits: activations.logits, labels: labels, classes: LeNet5.classes, scale: 1).loss
        }
        let (loss, parameterGradient) = backward(
            activations, labels: labels, labelSmoothing: gradient.labelSmoothing, lossScale: gradient.lossScale)
        for (i, value) in parameterGradient.enumerated() { ws.parameterGradients[i] += value }
        return loss
    }
}

