// What the targets' custom mutators share: libFuzzer's own mutation, and a generator seeded by
// the seed libFuzzer passes, so a mutation repeats for the same seed.

@_silgen_name("LLVMFuzzerMutate")
public func libFuzzerMutate(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int) -> Int

/// A linear congruential generator: enough to pick what to mutate.
public struct MutationChoices {
    private var state: UInt32

    public init(seed: UInt32) {
        state = seed
    }

    /// A number in 0..<bound.
    public mutating func next(_ bound: Int) -> Int {
        state = state &* 1_103_515_245 &+ 12_345
        return Int(state >> 8) % max(bound, 1)
    }
}
