import Foundation
import FuzzSupport

// A structure-aware mutation for headers of JSON: libFuzzer's byte mutations rarely turn a
// well-formed header's number into -2^63 or 1e308 while keeping the rest intact, and the parsers
// refuse every malformed shape before they reach the numbers. Half the time this rewrites one
// number of the safetensors header (offsets, shapes, and the resume state's fields inside the
// metadata's JSON strings) as an extreme value and fixes the header's length; the other half it
// leaves to libFuzzer.

/// Values that break arithmetic done before a range check.
let extremeNumbers = [
    "-9223372036854775808", "9223372036854775807", "9223372036854775808", "4294967296", "4294967295", "2147483648",
    "-1", "0", "-0", "1e308", "-1e308", "1e30", "1e-45", "NaN", "nan", "inf", "-inf", "0.5", "65536",
]

@_cdecl("LLVMFuzzerCustomMutator")
public func mutate(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int, _ seed: UInt32) -> Int {
    var choices = MutationChoices(seed: seed)
    func next(_ bound: Int) -> Int { choices.next(bound) }
    guard next(2) == 0, let mutated = replacingANumber(Array(UnsafeBufferPointer(start: data, count: size)), pick: next),
        mutated.count <= maxSize
    else { return libFuzzerMutate(data, size, maxSize) }
    mutated.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: mutated.count) }
    return mutated.count
}

/// `bytes` as a safetensors file with one number of its JSON header replaced by an extreme one,
/// or nil when it has no such header.
func replacingANumber(_ bytes: [UInt8], pick: (Int) -> Int) -> [UInt8]? {
    guard bytes.count >= 8 else { return nil }
    let length = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    guard length <= UInt64(bytes.count - 8) else { return nil }
    let header = Array(bytes[8..<8 + Int(length)])
    // Runs of digits, with a sign, point or exponent: the numbers, inside strings too.
    var runs: [Range<Int>] = []
    var start: Int?
    for (i, byte) in header.enumerated() {
        let numeric = (0x30...0x39).contains(byte) || (start != nil && [0x2E, 0x65, 0x45, 0x2B].contains(byte)) || (start == nil && byte == 0x2D)
        if numeric, start == nil { start = i }
        if !numeric, let s = start {
            runs.append(s..<i)
            start = nil
        }
    }
    guard !runs.isEmpty else { return nil }
    let run = runs[pick(runs.count)]
    let replaced = Array(header[..<run.lowerBound]) + Array(extremeNumbers[pick(extremeNumbers.count)].utf8) + Array(header[run.upperBound...])
    let newLength = UInt64(replaced.count)
    return (0..<8).map { UInt8(truncatingIfNeeded: newLength >> (8 * $0)) } + replaced + Array(bytes[(8 + Int(length))...])
}
