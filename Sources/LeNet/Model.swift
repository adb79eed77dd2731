import Kernels

/// LeNet-5's weights together with the input normalisation they were trained with.
public struct Model: Sendable, Equatable {
    /// Flat, in `ParameterLayout` order.
    public var parameters: [Float]
    public var normalization: Normalization

    public init(parameters: [Float], normalization: Normalization) {
        precondition(parameters.count == ParameterLayout.count)
        self.parameters = parameters
        self.normalization = normalization
    }
}

extension Model {
    /// The kernel from input channel `c` to output channel `f` of a convolution stage, row-major.
    public func kernel(of stage: Stage, output f: Int, input c: Int) -> [Float] {
        guard let weight = stage.weight, case .convolution(let k) = stage.kind else { preconditionFailure("\(stage.name) is not a convolution") }
        let start = weight.offset + (f * stage.input.channels + c) * k * k
        return Array(parameters[start..<start + k * k])
    }

    /// A stage's weight tensor, in its PyTorch layout (a convolution's (F, C, k, k)).
    /// - Precondition: the stage has parameters.
    public func weight(of stage: Stage) -> [Float] {
        guard let weight = stage.weight else { preconditionFailure("\(stage.name) has no weights") }
        return Array(parameters[weight.offset..<weight.offset + weight.count])
    }
}
