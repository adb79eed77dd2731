import Kernels
import LeNet

extension Model {
    /// A LeNet-5 with PyTorch's initialisation drawn from `seed`, and MNIST-like normalisation.
    public static func random(seed: UInt64) -> Model {
        var generator = SplitMix64(seed: seed)
        return Model(parameters: Initialization.pytorch.parameters(using: &generator), normalization: Normalization(mean: 0.1, standardDeviation: 0.3))
    }
}
