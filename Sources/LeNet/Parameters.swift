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

/// The one list of LeNet-5's parameters. It drives the model's views, the optimizer (one flat
/// buffer), initialisation, checkpoints and the reference tests.
public enum ParameterLayout {
    public static let tensors: [ParameterTensor] = {
        let declared: [(String, [Int])] = [
            ("conv1.weight", [6, 1, 5, 5]), ("conv1.bias", [6]),
            ("conv2.weight", [16, 6, 5, 5]), ("conv2.bias", [16]),
            ("conv3.weight", [120, 16, 5, 5]), ("conv3.bias", [120]),
            ("fc1.weight", [84, 120]), ("fc1.bias", [84]),
            ("fc2.weight", [10, 84]), ("fc2.bias", [10]),
        ]
        var offset = 0
        var fanIn = 0
        return declared.map { name, shape in
            if shape.count > 1 { fanIn = shape.dropFirst().reduce(1, *) }
            defer { offset += shape.reduce(1, *) }
            return ParameterTensor(name: name, shape: shape, offset: offset, fanIn: fanIn)
        }
    }()

    /// 61,706 for LeNet-5.
    public static let count = tensors.reduce(0) { $0 + $1.count }

    public static func tensor(named name: String) -> ParameterTensor? {
        tensors.first { $0.name == name }
    }
}

/// How the weights are drawn before training.
public enum Initialization: String, CaseIterable, Sendable {
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
