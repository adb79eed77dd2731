import Datasets
import Foundation
import Imaging
import LeNet
import XCTest

/// The bundled digit detector against drawings it never trained on: the 40 digits and the 34
/// drawings that are not digits (taps, scribbles, letters, shapes) drawn on the page's pad by
/// scripts/draw_digits.py, and MNIST's test digits.
final class DigitDetectorTests: XCTestCase {
    private static let images = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/images")

    /// The probability of being a digit of every drawing in docs/images/`folder`, by name,
    /// prepared as the server prepares a drawing.
    private func probabilities(_ folder: String) throws -> [(name: String, digit: Float)] {
        let detector = try DigitDetector.pretrained()
        let classifier = try Classifier.pretrained()
        let directory = Self.images.appendingPathComponent(folder)
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted().map { name in
            let data = try Data(contentsOf: directory.appendingPathComponent(name))
            return (name, detector.digitProbability(try classifier.classify(imageData: data, name: name).input))
        }
    }

    func testEveryDrawnDigitIsADigit() throws {
        let drawn = try probabilities("drawn")
        XCTAssertEqual(drawn.count, 40)
        for (name, digit) in drawn {
            XCTAssertGreaterThanOrEqual(digit, DigitDetector.threshold, name)
        }
        print("drawn digits: the least digit-like is \(drawn.min { $0.digit < $1.digit }.map { "\($0.name) at \($0.digit)" } ?? "")")
    }

    /// At least 80% of the drawings that are not digits get "not sure" (31 of 34 did when the
    /// detector was made, 2026-12-07).
    func testMostDrawingsThatAreNotDigitsAreDoubted() throws {
        let drawings = try probabilities("nondigits")
        XCTAssertGreaterThanOrEqual(drawings.count, 30)
        let passed = drawings.filter { $0.digit >= DigitDetector.threshold }
        print("not digits, taken for digits: \(passed.map(\.name)) (\(passed.count) of \(drawings.count))")
        XCTAssertGreaterThanOrEqual(Double(drawings.count - passed.count) / Double(drawings.count), 0.8)
    }

    /// MNIST's test digits are digits: at most 1% doubted.
    func testMNISTTestDigitsAreRarelyDoubted() throws {
        let detector = try DigitDetector.pretrained()
        let test = try IDXDataset.testSet(in: IDXDataset.bundledMNIST)
        let size = test.width * test.height
        let doubted = (0..<test.count).filter { k in
            let image = GrayImage(width: test.width, height: test.height, pixels: Array(test.pixels[k * size..<(k + 1) * size]))
            return detector.digitProbability(image) < DigitDetector.threshold
        }.count
        print("MNIST test digits doubted: \(doubted) of \(test.count)")
        XCTAssertLessThanOrEqual(doubted, test.count / 100)
    }

    /// The generator behind the detector: the same drawing for the same seed and index, every
    /// kind inked, and each prepared as a drawing on the pad is.
    func testScribblesAreReproducibleAndInked() throws {
        for index in 0..<(2 * Scribbles.Kind.allCases.count) {
            let drawing = Scribbles.drawing(index, seed: 7)
            XCTAssertEqual(drawing, Scribbles.drawing(index, seed: 7))
            XCTAssertEqual(drawing.width, Scribbles.side)
            XCTAssertTrue(drawing.pixels.contains { $0 < 128 }, "drawing \(index) has ink")
            XCTAssertNoThrow(try DigitPreprocessing.prepare(drawing))
        }
        XCTAssertNotEqual(Scribbles.drawing(0, seed: 7), Scribbles.drawing(0, seed: 8))
    }
}
