import XCTest
@testable import Kernels

final class SplitMix64Tests: XCTestCase {
    func testSplitMix64ReferenceValues() {
        // Published first outputs of SplitMix64 seeded with 0.
        var generator = SplitMix64(seed: 0)
        XCTAssertEqual(generator.next(), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(generator.next(), 0x6E78_9E6A_A1B9_65F4)
        var values = Array(0..<10)
        generator.shuffle(&values)
        XCTAssertEqual(values.sorted(), Array(0..<10))
        XCTAssertTrue((0..<1000).allSatisfy { _ in generator.next(below: 7) < 7 })
    }
}
