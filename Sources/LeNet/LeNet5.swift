import Datasets
import Dispatch
import Imaging
import Kernels

// LeNet-5: Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based learning applied to
// document recognition", Proc. IEEE 86(11), 1998. As in the course exercise this replaces, it
// departs from the paper in four ways: ReLU instead of the scaled tanh, max-pooling instead of
// trainable subsampling, C3 connected to all six S2 maps instead of the paper's sparse table,
// and softmax with cross-entropy instead of the RBF output units.
//
// Shapes for a chunk of N images, activations channel-major (C, N, H, W), as `LeNet5.stages` derives them:
//   input (1, N, 32, 32) -C1 conv 5x5-> (6, N, 28, 28) -ReLU-> -S2 max 2x2-> (6, N, 14, 14)
//   -C3 conv 5x5-> (16, N, 10, 10) -ReLU-> -S4 max 2x2-> (16, N, 5, 5)
//   -C5 conv 5x5-> (120, N) -ReLU-> -F6-> (84, N) -ReLU-> -F7-> logits (10, N) -softmax-> loss

/// The network's architecture, declared once: every size below and elsewhere derives from it.
public enum LeNet5 {
    /// Side of the square images the network classifies: MNIST's, as `DigitPreprocessing`
    /// prepares pictures.
    public static let imageSide = DigitPreprocessing.side
    /// Zeros added on each side, so C1's 5x5 kernels see the digit's edges: 28 -> 32.
    public static let padding = 2
    /// Side of the network's input plane.
    public static let inputSide = imageSide + 2 * padding
    public static let input = TensorShape(channels: 1, height: inputSide, width: inputSide)

    public static let stages = Stage.build(input: input, [
        .convolution("C1", parameters: "conv1", channels: 6, kernel: 5, relu: true),
        .maxPool("S2", window: 2),
        .convolution("C3", parameters: "conv2", channels: 16, kernel: 5, relu: true),
        .maxPool("S4", window: 2),
        .convolution("C5", parameters: "conv3", channels: 120, kernel: 5, relu: true),
        .fullyConnected("F6", parameters: "fc1", outputs: 84, relu: true),
        .fullyConnected("F7", parameters: "fc2", outputs: LabeledImages.classCount, relu: false),
        .softmax,
    ])

    /// The stage called `name`.
    /// - Precondition: it exists.
    public static func stage(_ name: String) -> Stage {
        guard let stage = stages.first(where: { $0.name == name }) else { preconditionFailure("no stage \(name)") }
        return stage
    }

    static let c1 = stage("C1"), s2 = stage("S2"), c3 = stage("C3"), s4 = stage("S4"), c5 = stage("C5")
    static let f6 = stage("F6"), f7 = stage("F7")

    public static let classes = f7.output.count

    /// The convolutions whose gradients `backward` computes from the next max-pool's output
    /// gradient (`pooledConvolutionWeightGradient`, `pooledConvolutionInputGradient`), with the
    /// ReLU's and the pool's backward passes folded in.
    public static let stagesReadingPoolGradient = [c1, c3]

    /// The convolutions whose forward pass runs the next max-pool too (`pooledConvolutionForward`):
    /// their own output stays in registers, and is written out only when `forward` is asked to
    /// keep the activations.
    public static let stagesPoolingInForward = [c3]

    /// The convolutions whose outputs are maps (C1, C3), not a vector (C5): their kernels are
    /// pictures of what they look for.
    public static let spatialConvolutions = stages.filter {
        if case .convolution = $0.kind { $0.output.height > 1 } else { false }
    }

    /// Images processed together by one thread: small enough that a chunk's activations and
    /// gradients stay in L2.
    public static let chunkSize = 16

    /// The geometry of C1, C3 and C5 for a chunk of `count` images.
    static func shapes(count n: Int) -> (c1: ConvolutionShape, c3: ConvolutionShape, c5: ConvolutionShape) {
        (c1.convolutionShape(count: n), c3.convolutionShape(count: n), c5.convolutionShape(count: n))
    }
}

extension Stage {
    /// A convolution stage's layer.
    public var convolution: Convolution {
        guard case .convolution(let k) = kind else { preconditionFailure("\(name) is not a convolution") }
        return Convolution(inputChannels: input.channels, outputChannels: output.channels, kernel: k)
    }

    /// A convolution stage's geometry for a chunk of `count` images.
    func convolutionShape(count: Int) -> ConvolutionShape {
        convolution.shape(height: input.height, width: input.width, count: count)
    }

    /// A fully-connected stage's layer.
    var linear: Linear {
        precondition(kind == .fullyConnected, "\(name) is not fully connected")
        return Linear(inputFeatures: input.count, outputFeatures: output.count)
    }

    /// Values of the stage's output for a chunk of `n` images.
    func outputCount(_ n: Int) -> Int { output.count * n }
}

/// Everything one thread needs to run the network on up to `capacity` images: activations,
/// their gradients, GEMM packing buffers and its own parameter-gradient accumulator.
/// Allocated once; nothing is allocated per batch.
public final class Workspace {
    public let capacity: Int
    let gemm = GEMMWorkspace()
    private var allocations: [UnsafeMutableRawPointer] = []

    // Forward activations (N = capacity). `c1`, `c3`, `c5`, `f6` hold post-ReLU values; `c3`
    // only after a `forward` keeping the activations (C3 pools as it convolves).
    let input: UnsafeMutablePointer<Float>       // (1, N, 32, 32)
    let labels: UnsafeMutablePointer<UInt8>      // (N)
    let c1: UnsafeMutablePointer<Float>          // (6, N, 28, 28)
    let s2: UnsafeMutablePointer<Float>          // (6, N, 14, 14)
    let s2Argmax: UnsafeMutablePointer<UInt8>    // (6, N, 14, 14)
    let c3: UnsafeMutablePointer<Float>          // (16, N, 10, 10)
    let s4: UnsafeMutablePointer<Float>          // (16, N, 5, 5)
    let s4Argmax: UnsafeMutablePointer<UInt8>    // (16, N, 5, 5)
    let c5Columns: UnsafeMutablePointer<Float>   // (16 * 5 * 5, N): C5's columns
    let c5: UnsafeMutablePointer<Float>          // (120, N)
    let f6: UnsafeMutablePointer<Float>          // (84, N)
    let logits: UnsafeMutablePointer<Float>      // (10, N)
    let probabilities: UnsafeMutablePointer<Float> // (10, N)

    // Backward: gradients of the activations above, and of the parameters.
    let logitsGradient: UnsafeMutablePointer<Float>  // (10, N)
    let f6Gradient: UnsafeMutablePointer<Float>      // (84, N)
    let c5Gradient: UnsafeMutablePointer<Float>      // (120, N)
    let s4Gradient: UnsafeMutablePointer<Float>      // (16, N, 5, 5)
    let s2Gradient: UnsafeMutablePointer<Float>      // (6, N, 14, 14)
    let scratch: UnsafeMutablePointer<Float>     // C3's packed filters, or C5's column gradient
    public let parameterGradients: UnsafeMutablePointer<Float> // (61,706)
    /// When set, every layer call adds its wall time here (`lenet5 bench --layers`).
    public var profile: LayerProfile?
    /// Pooling windows whose gradient the backward passes of `LeNet5.stagesReadingPoolGradient`
    /// visited, in that order, summed over every `backward` since this was last reset: their
    /// work is this many times the stage's patch of multiply-adds (`lenet5 bench`).
    public var visitedWindows = [Int](repeating: 0, count: LeNet5.stagesReadingPoolGradient.count)

    public init(capacity: Int = LeNet5.chunkSize) {
        precondition(capacity > 0)
        self.capacity = capacity
        var allocations: [UnsafeMutableRawPointer] = []
        func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
            p.initialize(repeating: 0, count: count)
            allocations.append(UnsafeMutableRawPointer(p))
            return p
        }
        func bytes(_ count: Int) -> UnsafeMutablePointer<UInt8> {
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: count)
            p.initialize(repeating: 0, count: count)
            allocations.append(UnsafeMutableRawPointer(p))
            return p
        }
        let n = capacity
        let (c1, s2, c3, s4, c5, f6, f7) = (LeNet5.c1, LeNet5.s2, LeNet5.c3, LeNet5.s4, LeNet5.c5, LeNet5.f6, LeNet5.f7)
        input = floats(LeNet5.input.count * n)
        labels = bytes(n)
        self.c1 = floats(c1.outputCount(n))
        self.s2 = floats(s2.outputCount(n))
        s2Argmax = bytes(s2.outputCount(n))
        self.c3 = floats(c3.outputCount(n))
        self.s4 = floats(s4.outputCount(n))
        s4Argmax = bytes(s4.outputCount(n))
        let shapes = LeNet5.shapes(count: n)
        c5Columns = floats(shapes.c5.columnsSize)
        self.c5 = floats(c5.outputCount(n))
        self.f6 = floats(f6.outputCount(n))
        logits = floats(f7.outputCount(n))
        probabilities = floats(f7.outputCount(n))
        logitsGradient = floats(f7.outputCount(n))
        f6Gradient = floats(f6.outputCount(n))
        c5Gradient = floats(c5.outputCount(n))
        s4Gradient = floats(s4.outputCount(n))
        s2Gradient = floats(s2.outputCount(n))
        scratch = floats(max(pooledConvolutionScratchSize(shapes.c3), shapes.c5.columnsSize))
        parameterGradients = floats(ParameterLayout.count)
        self.allocations = allocations
    }

    deinit {
        for p in allocations { p.deallocate() }
    }

    /// The input slot of image `index` in the chunk: a 32x32 plane.
    public func inputImage(_ index: Int) -> UnsafeMutablePointer<Float> {
        input + index * LeNet5.inputSide * LeNet5.inputSide
    }

    /// Sets the label of image `index` in the chunk.
    public func setLabel(_ label: UInt8, at index: Int) {
        labels[index] = label
    }

    /// Where `forward` leaves a stage's output (post-ReLU where the stage has one; a stage of
    /// `LeNet5.stagesPoolingInForward`'s only when it keeps the activations).
    func output(of stage: Stage) -> UnsafeMutablePointer<Float> {
        switch stage.name {
        case LeNet5.c1.name: c1
        case LeNet5.s2.name: s2
        case LeNet5.c3.name: c3
        case LeNet5.s4.name: s4
        case LeNet5.c5.name: c5
        case LeNet5.f6.name: f6
        case LeNet5.f7.name: logits
        default: probabilities
        }
    }

    /// The class with the largest logit for image `index` after `forward`.
    public func prediction(image index: Int, count: Int) -> Int {
        argmaxColumn(logits, classes: LeNet5.classes, count: count, column: index)
    }
}

extension Workspace {
    /// Runs `body`, adding its duration to `profile` when profiling.
    @inline(__always)
    func timed(_ step: LayerProfile.Step, _ pass: LayerProfile.Pass, _ body: () -> Void) {
        guard profile != nil else { return body() }
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        profile?.add(DispatchTime.now().uptimeNanoseconds - start, step, pass)
    }
}

/// A stage's weight and bias inside a flat parameter buffer.
private func tensors<P>(of stage: Stage, in base: P, _ advanced: (P, Int) -> P) -> (weight: P, bias: P) {
    guard let weight = stage.weight, let bias = stage.bias else { preconditionFailure("\(stage.name) has no parameters") }
    return (advanced(base, weight.offset), advanced(base, bias.offset))
}

extension LeNet5 {
    /// Runs images 0..<count of `workspace.input` through the network.
    ///
    /// - Returns: the summed cross-entropy of the chunk against `workspace.labels`.
    /// - Parameters:
    ///   - parameters: the 61,706 weights and biases, in `ParameterLayout`'s order.
    ///   - ws: the thread's workspace, its first `n` input planes and labels filled.
    ///   - n: the images in the chunk, at most the workspace's capacity.
    ///   - computeGradient: prepare `backward`: the logits' gradient, and the pools' winners.
    ///   - lossScale: with `computeGradient`, the logits' gradient is (p - target) / lossScale,
    ///     i.e. the gradient of the loss summed over the chunk and divided by `lossScale`.
    ///   - labelSmoothing: the share of each target spread evenly over the classes (see
    ///     `softmaxCrossEntropy`); the loss returned is then against the smoothed targets.
    ///   - keepingActivations: leave every stage's output in the workspace (`output(of:)`), also
    ///     those that pool as they convolve and otherwise never write their own.
    @discardableResult
    public static func forward(
        parameters: UnsafePointer<Float>, workspace ws: Workspace, count n: Int,
        computeGradient: Bool = false, lossScale: Float = 1, labelSmoothing: Float = 0, keepingActivations: Bool = false
    ) -> Double {
        precondition(n > 0 && n <= ws.capacity)
        let (w1, b1) = tensors(of: c1, in: parameters, +)
        let (w3, b3) = tensors(of: c3, in: parameters, +)
        let (w5, b5) = tensors(of: c5, in: parameters, +)
        let (w6, b6) = tensors(of: f6, in: parameters, +)
        let (w7, b7) = tensors(of: f7, in: parameters, +)
        let (shape1, shape3, shape5) = shapes(count: n)

        // Each convolution runs the ReLU its stage declares inside itself, C3 the max-pool after it too.
        ws.timed(.layer(c1), .forward) { c1.convolution.forward(ws.input, weight: w1, bias: b1, shape1, relu: c1.relu, output: ws.c1, columns: ws.scratch, gemmWorkspace: ws.gemm) }
        ws.timed(.layer(s2), .forward) { maxPoolForward(ws.c1, planes: c1.output.channels * n, height: c1.output.height, width: c1.output.width, into: ws.s2, argmax: computeGradient ? ws.s2Argmax : nil) }
        ws.timed(.layer(c3), .forward) {
            pooledConvolutionForward(
                ws.s2, weight: w3, bias: b3, shape3, scratch: ws.scratch, into: ws.s4, winners: computeGradient ? ws.s4Argmax : nil,
                unpooled: keepingActivations ? ws.c3 : nil)
        }
        ws.timed(.layer(c5), .forward) { c5.convolution.forward(ws.s4, weight: w5, bias: b5, shape5, relu: c5.relu, output: ws.c5, columns: ws.c5Columns, gemmWorkspace: ws.gemm) }
        ws.timed(.layer(f6), .forward) { f6.linear.forward(ws.c5, weight: w6, bias: b6, count: n, output: ws.f6, gemmWorkspace: ws.gemm) }
        ws.timed(.relu(f6), .forward) { reluForward(ws.f6, count: f6.outputCount(n), into: ws.f6) }
        ws.timed(.layer(f7), .forward) { f7.linear.forward(ws.f6, weight: w7, bias: b7, count: n, output: ws.logits, gemmWorkspace: ws.gemm) }
        var loss = 0.0
        ws.timed(.loss, .forward) {
            loss = softmaxCrossEntropy(
                logits: ws.logits, labels: ws.labels, classes: classes, count: n, probabilities: ws.probabilities,
                gradient: computeGradient ? ws.logitsGradient : nil, scale: lossScale, labelSmoothing: labelSmoothing)
        }
        return loss
    }

    /// The forward pass read in reverse: accumulates the gradient of the loss (as scaled by the
    /// `forward` call with `computeGradient` that must precede it) into
    /// `workspace.parameterGradients`.
    public static func backward(parameters: UnsafePointer<Float>, workspace ws: Workspace, count n: Int) {
        func weight(_ stage: Stage) -> UnsafePointer<Float> { tensors(of: stage, in: parameters, +).weight }
        let g = ws.parameterGradients
        let (gw1, gb1) = tensors(of: c1, in: g, +)
        let (gw3, gb3) = tensors(of: c3, in: g, +)
        let (gw5, gb5) = tensors(of: c5, in: g, +)
        let (gw6, gb6) = tensors(of: f6, in: g, +)
        let (gw7, gb7) = tensors(of: f7, in: g, +)
        let (shape1, shape3, shape5) = shapes(count: n)

        ws.timed(.layer(f7), .backward) { f7.linear.backward(ws.f6, outputGradient: ws.logitsGradient, weight: weight(f7), count: n, weightGradient: gw7, biasGradient: gb7, inputGradient: ws.f6Gradient, gemmWorkspace: ws.gemm) }
        ws.timed(.relu(f6), .backward) { reluBackward(output: ws.f6, outputGradient: ws.f6Gradient, count: f6.outputCount(n), into: ws.f6Gradient) }
        ws.timed(.layer(f6), .backward) { f6.linear.backward(ws.c5, outputGradient: ws.f6Gradient, weight: weight(f6), count: n, weightGradient: gw6, biasGradient: gb6, inputGradient: ws.c5Gradient, gemmWorkspace: ws.gemm) }
        ws.timed(.relu(c5), .backward) { reluBackward(output: ws.c5, outputGradient: ws.c5Gradient, count: c5.outputCount(n), into: ws.c5Gradient) }
        ws.timed(.layer(c5), .backward) { c5.convolution.backward(columns: ws.c5Columns, outputGradient: ws.c5Gradient, weight: weight(c5), shape5, weightGradient: gw5, biasGradient: gb5, inputGradient: ws.s4Gradient, columnGradient: ws.scratch, gemmWorkspace: ws.gemm) }
        // C3's and C1's gradients read S4's and S2's output gradients: the pools' and ReLUs'
        // backward passes are folded in, and only the windows with a gradient are visited.
        ws.timed(.layer(c3), .backward) {
            ws.visitedWindows[1] += pooledConvolutionWeightGradient(ws.s2, pooledGradient: ws.s4Gradient, argmax: ws.s4Argmax, pooledOutput: ws.s4, shape3, weightGradient: gw3, biasGradient: gb3)
            pooledConvolutionInputGradient(pooledGradient: ws.s4Gradient, argmax: ws.s4Argmax, pooledOutput: ws.s4, weight: weight(c3), shape3, into: ws.s2Gradient)
        }
        ws.timed(.layer(c1), .backward) { ws.visitedWindows[0] += pooledConvolutionWeightGradient(ws.input, pooledGradient: ws.s2Gradient, argmax: ws.s2Argmax, pooledOutput: ws.s2, shape1, weightGradient: gw1, biasGradient: gb1) }
    }
}
