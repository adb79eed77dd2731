import XCTest

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
