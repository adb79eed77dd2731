// A structure-aware mutation for IDX headers: half the time one dimension of a plain file's
// header (big-endian 32-bit sizes after the magic) becomes an extreme size, or the rank byte
// changes; the other half is libFuzzer's. Byte mutations rarely make a header that is well formed
// but for one enormous or zero size, and those are the ones that reach the size arithmetic.

import FuzzSupport

/// Sizes that break arithmetic done before a range check.
let extremeSizes: [UInt32] = [0, 1, 2, 28, 255, 256, 65_535, 65_536, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 60_000, 10_000_000]

@_cdecl("LLVMFuzzerCustomMutator")
public func mutate(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int, _ seed: UInt32) -> Int {
    var choices = MutationChoices(seed: seed)
    func next(_ bound: Int) -> Int { choices.next(bound) }
    // A plain IDX file: 00 00, the type, the rank, then rank sizes.
    guard next(2) == 0, size >= 8, data[0] == 0, data[1] == 0 else { return libFuzzerMutate(data, size, maxSize) }
    let rank = Int(data[3])
    if next(4) == 0 {
        data[3] = UInt8(next(5))  // another rank, the sizes left as they are
        return size
    }
    guard rank > 0, size >= 4 + 4 * rank else { return libFuzzerMutate(data, size, maxSize) }
    let value = extremeSizes[next(extremeSizes.count)]
    let at = 4 + 4 * next(rank)
    for k in 0..<4 { data[at + k] = UInt8(truncatingIfNeeded: value >> (8 * (3 - k))) }
    return size
}
