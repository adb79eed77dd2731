import Foundation
import Kernels

/// One named tensor inside the flat parameter buffer.
public struct ParameterTensor: Sendable, Equatable {
    /// PyTorch's name for the same tensor of `nn.Module` LeNet-5, e.g. `conv1.weight`.
    public let name: String
    public let shape: [Int]
    /// Index of the first element in the flat buffer.
    public let offset: Int
    /// Inputs feeding one output unit (C*R*R for a convolution, inputs for a linear layer).
    public let fanIn: Int

    public var count: Int { shape.reduce(1, *) }
    public var isBias: Bool { shape.count == 1 }
}

/// LeNet-5's parameters, as its stages declare them. The one list that drives the model's
/// views, the optimizer (one flat buffer), initialisation, checkpoints and the reference tests.
public enum ParameterLayout {
    public static let tensors: [ParameterTensor] = LeNet5.stages.flatMap { [$0.weight, $0.bias].compactMap { $0 } }

    /// 61,706 for LeNet-5.
    public static let count = tensors.reduce(0) { $0 + $1.count }

    public static func tensor(named name: String) -> ParameterTensor? {
        tensors.first { $0.name == name }
    }
}

/// How the weights are drawn before training.
public enum Initialization: String, CaseIterable, Sendable, Codable {
    /// PyTorch's default for Conv2d and Linear: weights and biases U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
    case pytorch
    /// The original exercise: weights N(0, 0.1), biases 0.01.
    case normal

    /// A freshly initialised flat parameter buffer.
    public func parameters(using random: inout SplitMix64) -> [Float] {
        var values = [Float](repeating: 0, count: ParameterLayout.count)
        for tensor in ParameterLayout.tensors {
            for i in tensor.offset..<tensor.offset + tensor.count {
                switch self {
                case .pytorch:
                    let bound = 1 / Float(tensor.fanIn).squareRoot()
                    values[i] = (2 * random.nextUnitFloat() - 1) * bound
                case .normal:
                    values[i] = tensor.isBias ? 0.01 : 0.1 * random.nextGaussian()
                }
            }
        }
        return values
    }
}
