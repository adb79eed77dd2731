/// The shape of one image's activations: channels x height x width (1 x 1 for a vector).
public struct TensorShape: Sendable, Equatable, Codable, CustomStringConvertible {
    public let channels: Int
    public let height: Int
    public let width: Int

    public init(channels: Int, height: Int = 1, width: Int = 1) {
        (self.channels, self.height, self.width) = (channels, height, width)
    }

    /// Values per image.
    public var count: Int { channels * height * width }

    public var description: String { "\(channels) x \(height) x \(width)" }
}

/// One stage of the network: a convolution or a fully-connected layer (each optionally followed
/// by a ReLU), a max-pool, or the softmax. Everything else about the network (buffer sizes,
/// parameter shapes, the profile's labels and multiply-add counts, the ONNX graph, `inspect`'s
/// table) is derived from the list of stages.
public struct Stage: Sendable, Equatable {
    /// What a stage computes, with the size of its window.
    public enum Kind: Sendable, Equatable {
        case convolution(kernel: Int)
        case maxPool(window: Int)
        case fullyConnected
        case softmax
    }

    /// A stage's name, as the paper gives it.
    public typealias Name = String

    /// The paper's name (C1, S2, ..., F7) or `output` for the softmax.
    public let name: Name
    public let kind: Kind
    public let relu: Bool
    public let input: TensorShape
    public let output: TensorShape
    /// The stage's tensors in the flat parameter buffer (PyTorch's names), if it has any.
    public let weight: ParameterTensor?
    public let bias: ParameterTensor?

    /// The stage as the paper's figure would label it, e.g. `C1 conv 5x5 + ReLU`.
    public var summary: String {
        let activation = relu ? " + ReLU" : ""
        switch kind {
        case .convolution(let k): return "\(name) conv \(k)x\(k)\(activation)"
        case .maxPool(let w): return "\(name) max-pool \(w)x\(w)"
        case .fullyConnected: return "\(name) fully connected\(activation)"
        case .softmax: return "softmax"
        }
    }

    /// The layer with its sizes, e.g. `C3 conv 5x5 6->16` or `F6 fc 120->84`.
    public var label: String {
        switch kind {
        case .convolution(let k): "\(name) conv \(k)x\(k) \(input.channels)->\(output.channels)"
        case .maxPool: "\(name) max-pool"
        case .fullyConnected: "\(name) fc \(input.count)->\(output.count)"
        case .softmax: "softmax + cross-entropy"
        }
    }

    /// Multiply-adds per image of the forward pass.
    public var forwardMACs: Int {
        switch kind {
        case .convolution(let k): output.count * input.channels * k * k
        case .fullyConnected: output.count * input.count
        case .maxPool, .softmax: 0
        }
    }

    /// Parameters of the stage, weights and biases.
    public var parameterCount: Int { (weight?.count ?? 0) + (bias?.count ?? 0) }
}

/// How a stage is declared: sizes of its own only; input sizes follow from the stage before.
public enum StageDeclaration: Sendable {
    case convolution(_ name: String, parameters: String, channels: Int, kernel: Int, relu: Bool)
    case maxPool(_ name: String, window: Int)
    case fullyConnected(_ name: String, parameters: String, outputs: Int, relu: Bool)
    case softmax
}

extension Stage {
    /// The stages, with shapes propagated from `input` and parameter tensors laid out one after
    /// another in declaration order (weight, then bias).
    static func build(input: TensorShape, _ declarations: [StageDeclaration]) -> [Stage] {
        var shape = input
        var offset = 0
        func tensor(_ name: String, _ dims: [Int], fanIn: Int) -> ParameterTensor {
            defer { offset += dims.reduce(1, *) }
            return ParameterTensor(name: name, shape: dims, offset: offset, fanIn: fanIn)
        }
        return declarations.map { declaration in
            let stage: Stage
            switch declaration {
            case .convolution(let name, let prefix, let channels, let k, let relu):
                precondition(shape.height >= k && shape.width >= k, "\(name): kernel larger than its input")
                let fanIn = shape.channels * k * k
                stage = Stage(
                    name: name, kind: .convolution(kernel: k), relu: relu, input: shape,
                    output: TensorShape(channels: channels, height: shape.height - k + 1, width: shape.width - k + 1),
                    weight: tensor(prefix + ".weight", [channels, shape.channels, k, k], fanIn: fanIn),
                    bias: tensor(prefix + ".bias", [channels], fanIn: fanIn))
            case .maxPool(let name, let w):
                precondition(w == 2 && shape.height % w == 0 && shape.width % w == 0, "\(name): the kernels pool 2x2 over even sides")
                stage = Stage(
                    name: name, kind: .maxPool(window: w), relu: false, input: shape,
                    output: TensorShape(channels: shape.channels, height: shape.height / w, width: shape.width / w),
                    weight: nil, bias: nil)
            case .fullyConnected(let name, let prefix, let outputs, let relu):
                stage = Stage(
                    name: name, kind: .fullyConnected, relu: relu, input: shape, output: TensorShape(channels: outputs),
                    weight: tensor(prefix + ".weight", [outputs, shape.count], fanIn: shape.count),
                    bias: tensor(prefix + ".bias", [outputs], fanIn: shape.count))
            case .softmax:
                stage = Stage(name: "output", kind: .softmax, relu: false, input: shape, output: shape, weight: nil, bias: nil)
            }
            shape = stage.output
            return stage
        }
    }
}
