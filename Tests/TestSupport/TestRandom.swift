import Kernels

/// A deterministic stream of test values, so failures reproduce.
public struct TestRandom {
    public var generator: SplitMix64

    public init(seed: UInt64) {
        generator = SplitMix64(seed: seed)
    }

    /// Uniform in [-1, 1).
    public mutating func uniform() -> Float {
        2 * generator.nextUnitFloat() - 1
    }

    /// Uniform in [-scale, scale).
    public mutating func array(_ count: Int, scale: Float = 1) -> [Float] {
        (0..<count).map { _ in uniform() * scale }
    }
}
