import XCTest

/// A deterministic stream of test values (SplitMix64), so failures reproduce.
struct TestRandom {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    mutating func uniform() -> Float {
        Float(next() >> 40) / Float(1 << 23) - 1
    }

    mutating func array(_ count: Int) -> [Float] {
        (0..<count).map { _ in uniform() }
    }
}

/// Asserts |actual - expected| <= tolerance * max(1, |expected|) element-wise.
func assertClose(
    _ actual: [Float], _ expected: [Float], tolerance: Float, _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.count, expected.count, "count \(message)", file: file, line: line)
    var worst: (index: Int, error: Float) = (-1, 0)
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        let error = abs(a - e) / max(1, abs(e))
        if !(error <= worst.error) { worst = (i, error) }
    }
    if worst.index >= 0 && !(worst.error <= tolerance) {
        XCTFail(
            "\(message): element \(worst.index) is \(actual[worst.index]), expected \(expected[worst.index]) (relative error \(worst.error) > \(tolerance))",
            file: file, line: line)
    }
}
