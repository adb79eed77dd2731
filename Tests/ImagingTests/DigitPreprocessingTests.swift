import CZlib
import Formats
import Foundation
import TestSupport
import XCTest
@testable import Imaging

final class DigitPreprocessingTests: XCTestCase {
    /// A dark bar on light paper, off-centre in a 60 x 40 image.
    private func bar() -> GrayImage {
        var pixels = [UInt8](repeating: 230, count: 60 * 40)
        for y in 5..<35 { for x in 40..<50 { pixels[y * 60 + x] = 20 } }
        return GrayImage(width: 60, height: 40, pixels: pixels)
    }

    func testInvertsCropsFitsTwentyAndCentresByMass() throws {
        let digit = try DigitPreprocessing.prepare(bar())
        XCTAssertEqual([digit.width, digit.height], [28, 28])
        var rows = Set<Int>(), columns = Set<Int>(), mass = 0.0, sumX = 0.0, sumY = 0.0
        for y in 0..<28 {
            for x in 0..<28 where digit[x, y] > 0 {
                rows.insert(y)
                columns.insert(x)
                mass += Double(digit[x, y])
                sumX += Double(digit[x, y]) * (Double(x) + 0.5)
                sumY += Double(digit[x, y]) * (Double(y) + 0.5)
            }
        }
        XCTAssertEqual(rows.count, 20, "the taller side fills the 20-pixel box")
        XCTAssertEqual(columns.count, 7, "30 x 10 scaled to 20 keeps its aspect ratio")
        XCTAssertEqual(sumX / mass, 14, accuracy: 0.6)
        XCTAssertEqual(sumY / mass, 14, accuracy: 0.6)
        XCTAssertEqual(digit[14, 14], 255, "ink becomes white on black")
        XCTAssertEqual(digit[0, 0], 0)
    }

    func testFashionFramingFillsTheFieldAndCentresTheBox() throws {
        let item = try DigitPreprocessing.prepare(bar(), framing: .fashionMNIST)
        let columns = Set((0..<28 * 28).filter { item.pixels[$0] > 0 }.map { $0 % 28 })
        let rows = Set((0..<28 * 28).filter { item.pixels[$0] > 0 }.map { $0 / 28 })
        XCTAssertEqual(rows.count, 28, "the longest side fills the field")
        XCTAssertEqual(columns.count, 9)
        XCTAssertEqual(Double((columns.min() ?? 0) + (columns.max() ?? 0)) / 2, 13.5, accuracy: 1)
    }

    /// A picture of tens of megapixels is shrunk before preparation, and gives nearly the digit
    /// its small version gives.
    func testAHugePictureIsPreparedLikeItsSmallVersion() throws {
        let small = bar()
        let factor = 40
        var pixels = [UInt8](repeating: 0, count: small.pixels.count * factor * factor)
        for y in 0..<small.height * factor {
            for x in 0..<small.width * factor { pixels[y * small.width * factor + x] = small[x / factor, y / factor] }
        }
        let huge = GrayImage(width: small.width * factor, height: small.height * factor, pixels: pixels)
        XCTAssertEqual(huge.reduced(toLongestSide: DigitPreprocessing.workingSide).width, 2400 / 3)
        let (fromHuge, fromSmall) = (try DigitPreprocessing.prepare(huge), try DigitPreprocessing.prepare(small))
        XCTAssertEqual(fromHuge.pixels.map { $0 > 0 }, fromSmall.pixels.map { $0 > 0 }, "the same pixels inked")
        XCTAssertLessThanOrEqual(zip(fromHuge.pixels, fromSmall.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0, 16, "edges blend a little")
    }

    func testLightInkOnDarkIsKept() throws {
        var inverted = bar()
        inverted.pixels = inverted.pixels.map { 255 - $0 }
        XCTAssertEqual(try DigitPreprocessing.prepare(inverted), try DigitPreprocessing.prepare(bar()))
    }

    func testBlankImageIsAnError() {
        let blank = GrayImage(width: 10, height: 10, pixels: [UInt8](repeating: 200, count: 100))
        XCTAssertThrowsError(try DigitPreprocessing.prepare(blank, name: "x")) { error in
            XCTAssertEqual(error as? ImageError, .blank(name: "x"))
        }
    }
}
