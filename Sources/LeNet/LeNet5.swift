import Dispatch
import Kernels

// LeNet-5: Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based learning applied to
// document recognition", Proc. IEEE 86(11), 1998. As in the course exercise this replaces, it
// departs from the paper in four ways: ReLU instead of the scaled tanh, max-pooling instead of
// trainable subsampling, C3 connected to all six S2 maps instead of the paper's sparse table,
// and softmax with cross-entropy instead of the RBF output units.
//
// Shapes for a chunk of N images, activations channel-major (C, N, H, W):
//   input (1, N, 32, 32) -C1 conv 5x5-> (6, N, 28, 28) -ReLU-> -S2 max 2x2-> (6, N, 14, 14)
//   -C3 conv 5x5-> (16, N, 10, 10) -ReLU-> -S4 max 2x2-> (16, N, 5, 5)
//   -C5 conv 5x5-> (120, N) -ReLU-> -F6-> (84, N) -ReLU-> -F7-> logits (10, N) -softmax-> loss

/// The network's fixed architecture.
public enum LeNet5 {
    /// Side of the square input image: MNIST's 28 zero-padded by 2 on each side.
    public static let inputSide = 32
    public static let classes = 10

    static let conv1 = Convolution(inputChannels: 1, outputChannels: 6, kernel: 5)
    static let conv2 = Convolution(inputChannels: 6, outputChannels: 16, kernel: 5)
    static let conv3 = Convolution(inputChannels: 16, outputChannels: 120, kernel: 5)
    static let fc1 = Linear(inputFeatures: 120, outputFeatures: 84)
    static let fc2 = Linear(inputFeatures: 84, outputFeatures: 10)

    /// Images processed together by one thread: small enough that a chunk's activations and
    /// gradients stay in L2.
    public static let chunkSize = 16

    /// The geometry of C1, C3 and C5 for a chunk of `count` images.
    static func shapes(count n: Int) -> (c1: ConvolutionShape, c3: ConvolutionShape, c5: ConvolutionShape) {
        (conv1.shape(height: 32, width: 32, count: n), conv2.shape(height: 14, width: 14, count: n),
         conv3.shape(height: 5, width: 5, count: n))
    }
}

/// Everything one thread needs to run the network on up to `capacity` images: activations,
/// their gradients, GEMM packing buffers and its own parameter-gradient accumulator.
/// Allocated once; nothing is allocated per batch.
public final class Workspace: @unchecked Sendable {
    public let capacity: Int
    let gemm = GEMMWorkspace()
    private var allocations: [UnsafeMutableRawPointer] = []

    // Forward activations (N = capacity). `c1`, `c3`, `c5`, `f6` hold post-ReLU values.
    let input: UnsafeMutablePointer<Float>       // (1, N, 32, 32)
    let labels: UnsafeMutablePointer<UInt8>      // (N)
    let c1: UnsafeMutablePointer<Float>          // (6, N, 28, 28)
    let s2: UnsafeMutablePointer<Float>          // (6, N, 14, 14)
    let s2Argmax: UnsafeMutablePointer<UInt8>    // (6, N, 14, 14)
    let c3: UnsafeMutablePointer<Float>          // (16, N, 10, 10)
    let s4: UnsafeMutablePointer<Float>          // (16, N, 5, 5)
    let s4Argmax: UnsafeMutablePointer<UInt8>    // (16, N, 5, 5)
    let c5Columns: UnsafeMutablePointer<Float>   // (400, N): C5's columns
    let c5: UnsafeMutablePointer<Float>          // (120, N)
    let f6: UnsafeMutablePointer<Float>          // (84, N)
    let logits: UnsafeMutablePointer<Float>      // (10, N)
    let probabilities: UnsafeMutablePointer<Float> // (10, N)

    // Backward: gradients of the activations above, and of the parameters.
    let logitsGradient: UnsafeMutablePointer<Float>  // (10, N)
    let f6Gradient: UnsafeMutablePointer<Float>      // (84, N)
    let c5Gradient: UnsafeMutablePointer<Float>      // (120, N)
    let s4Gradient: UnsafeMutablePointer<Float>      // (16, N, 5, 5)
    let c3Gradient: UnsafeMutablePointer<Float>      // (16, N, 10, 10)
    let s2Gradient: UnsafeMutablePointer<Float>      // (6, N, 14, 14)
    let c1Gradient: UnsafeMutablePointer<Float>      // (6, N, 28, 28)
    let scratch: UnsafeMutablePointer<Float>     // any convolution's scratch, except C5's columns
    public let parameterGradients: UnsafeMutablePointer<Float> // (61,706)
    /// When set, every layer call adds its wall time here (`lenet5 bench --layers`).
    public var profile: LayerProfile?

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
        input = floats(n * 32 * 32)
        labels = bytes(n)
        c1 = floats(6 * n * 28 * 28)
        s2 = floats(6 * n * 14 * 14)
        s2Argmax = bytes(6 * n * 14 * 14)
        c3 = floats(16 * n * 100)
        s4 = floats(16 * n * 25)
        s4Argmax = bytes(16 * n * 25)
        let shapes = LeNet5.shapes(count: n)
        c5Columns = floats(shapes.c5.scratchSize)
        c5 = floats(120 * n)
        f6 = floats(84 * n)
        logits = floats(10 * n)
        probabilities = floats(10 * n)
        logitsGradient = floats(10 * n)
        f6Gradient = floats(84 * n)
        c5Gradient = floats(120 * n)
        s4Gradient = floats(16 * n * 25)
        c3Gradient = floats(16 * n * 100)
        s2Gradient = floats(6 * n * 14 * 14)
        c1Gradient = floats(6 * n * 28 * 28)
        scratch = floats(max(shapes.c1.scratchSize, shapes.c3.scratchSize, shapes.c5.scratchSize))
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

    /// The class with the largest logit for image `index` after `forward`.
    public func prediction(image index: Int, count: Int) -> Int {
        argmaxColumn(logits, classes: LeNet5.classes, count: count, column: index)
    }
}

extension Workspace {
    /// Runs `body`, adding its duration to `profile` when profiling.
    @inline(__always)
    func timed(_ layer: LayerProfile.Layer, _ pass: LayerProfile.Pass, _ body: () -> Void) {
        guard profile != nil else { return body() }
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        profile?.add(DispatchTime.now().uptimeNanoseconds - start, layer, pass)
    }
}

/// The parameter tensors of LeNet-5 inside one flat buffer, in `ParameterLayout` order.
struct ParameterViews<Pointer> {
    let conv1Weight, conv1Bias, conv2Weight, conv2Bias, conv3Weight, conv3Bias: Pointer
    let fc1Weight, fc1Bias, fc2Weight, fc2Bias: Pointer

    init(_ base: Pointer, advanced: (Pointer, Int) -> Pointer) {
        let t = ParameterLayout.tensors.map { advanced(base, $0.offset) }
        (conv1Weight, conv1Bias, conv2Weight, conv2Bias) = (t[0], t[1], t[2], t[3])
        (conv3Weight, conv3Bias, fc1Weight, fc1Bias, fc2Weight, fc2Bias) = (t[4], t[5], t[6], t[7], t[8], t[9])
    }
}

extension LeNet5 {
    /// Runs images 0..<count of `workspace.input` through the network.
    ///
    /// - Returns: the summed cross-entropy of the chunk against `workspace.labels`.
    /// - Parameter lossScale: with `computeGradient`, the logits' gradient is (p - onehot) / lossScale,
    ///   i.e. the gradient of the loss summed over the chunk and divided by `lossScale`.
    @discardableResult
    public static func forward(
        parameters: UnsafePointer<Float>, workspace ws: Workspace, count n: Int,
        computeGradient: Bool = false, lossScale: Float = 1
    ) -> Double {
        precondition(n > 0 && n <= ws.capacity)
        let p = ParameterViews(parameters) { $0 + $1 }
        let (shape1, shape2, shape3) = shapes(count: n)

        ws.timed(.conv1, .forward) { conv1.forward(ws.input, weight: p.conv1Weight, bias: p.conv1Bias, shape1, output: ws.c1, columns: ws.scratch, gemmWorkspace: ws.gemm) }
        ws.timed(.relu1, .forward) { reluForward(ws.c1, count: shape1.outputSize, into: ws.c1) }
        ws.timed(.pool1, .forward) { maxPoolForward(ws.c1, planes: 6 * n, height: 28, width: 28, into: ws.s2, argmax: ws.s2Argmax) }
        ws.timed(.conv2, .forward) { conv2.forward(ws.s2, weight: p.conv2Weight, bias: p.conv2Bias, shape2, output: ws.c3, columns: ws.scratch, gemmWorkspace: ws.gemm) }
        ws.timed(.relu2, .forward) { reluForward(ws.c3, count: shape2.outputSize, into: ws.c3) }
        ws.timed(.pool2, .forward) { maxPoolForward(ws.c3, planes: 16 * n, height: 10, width: 10, into: ws.s4, argmax: ws.s4Argmax) }
        ws.timed(.conv3, .forward) { conv3.forward(ws.s4, weight: p.conv3Weight, bias: p.conv3Bias, shape3, output: ws.c5, columns: ws.c5Columns, gemmWorkspace: ws.gemm) }
        ws.timed(.relu3, .forward) { reluForward(ws.c5, count: 120 * n, into: ws.c5) }
        ws.timed(.fc1, .forward) { fc1.forward(ws.c5, weight: p.fc1Weight, bias: p.fc1Bias, count: n, output: ws.f6, gemmWorkspace: ws.gemm) }
        ws.timed(.relu4, .forward) { reluForward(ws.f6, count: 84 * n, into: ws.f6) }
        ws.timed(.fc2, .forward) { fc2.forward(ws.f6, weight: p.fc2Weight, bias: p.fc2Bias, count: n, output: ws.logits, gemmWorkspace: ws.gemm) }
        var loss = 0.0
        ws.timed(.loss, .forward) {
            loss = softmaxCrossEntropy(
                logits: ws.logits, labels: ws.labels, classes: classes, count: n, probabilities: ws.probabilities,
                gradient: computeGradient ? ws.logitsGradient : nil, scale: lossScale)
        }
        return loss
    }

    /// The forward pass read in reverse: accumulates the gradient of the loss (as scaled by the
    /// `forward` call that must precede it) into `workspace.parameterGradients`.
    public static func backward(parameters: UnsafePointer<Float>, workspace ws: Workspace, count n: Int) {
        let p = ParameterViews(parameters) { $0 + $1 }
        let g = ParameterViews(ws.parameterGradients) { $0 + $1 }
        let (shape1, shape2, shape3) = shapes(count: n)

        ws.timed(.fc2, .backward) { fc2.backward(ws.f6, outputGradient: ws.logitsGradient, weight: p.fc2Weight, count: n, weightGradient: g.fc2Weight, biasGradient: g.fc2Bias, inputGradient: ws.f6Gradient, gemmWorkspace: ws.gemm) }
        ws.timed(.relu4, .backward) { reluBackward(output: ws.f6, outputGradient: ws.f6Gradient, count: 84 * n, into: ws.f6Gradient) }
        ws.timed(.fc1, .backward) { fc1.backward(ws.c5, outputGradient: ws.f6Gradient, weight: p.fc1Weight, count: n, weightGradient: g.fc1Weight, biasGradient: g.fc1Bias, inputGradient: ws.c5Gradient, gemmWorkspace: ws.gemm) }
        ws.timed(.relu3, .backward) { reluBackward(output: ws.c5, outputGradient: ws.c5Gradient, count: 120 * n, into: ws.c5Gradient) }
        ws.timed(.conv3, .backward) { conv3.backward(ws.s4, columns: ws.c5Columns, outputGradient: ws.c5Gradient, weight: p.conv3Weight, shape3, weightGradient: g.conv3Weight, biasGradient: g.conv3Bias, inputGradient: ws.s4Gradient, columnGradient: ws.scratch, gemmWorkspace: ws.gemm) }
        ws.timed(.pool2, .backward) { maxPoolBackward(outputGradient: ws.s4Gradient, argmax: ws.s4Argmax, planes: 16 * n, height: 10, width: 10, reluOutput: ws.c3, into: ws.c3Gradient) }  // and ReLU's
        ws.timed(.conv2, .backward) { conv2.backward(ws.s2, columns: ws.scratch, outputGradient: ws.c3Gradient, weight: p.conv2Weight, shape2, weightGradient: g.conv2Weight, biasGradient: g.conv2Bias, inputGradient: ws.s2Gradient, columnGradient: ws.scratch, gemmWorkspace: ws.gemm) }
        ws.timed(.pool1, .backward) { maxPoolBackward(outputGradient: ws.s2Gradient, argmax: ws.s2Argmax, planes: 6 * n, height: 28, width: 28, reluOutput: ws.c1, into: ws.c1Gradient) }  // and ReLU's
        ws.timed(.conv1, .backward) { conv1.backward(ws.input, columns: ws.scratch, outputGradient: ws.c1Gradient, weight: p.conv1Weight, shape1, weightGradient: g.conv1Weight, biasGradient: g.conv1Bias, inputGradient: nil, columnGradient: ws.scratch, gemmWorkspace: ws.gemm) }
    }
}
