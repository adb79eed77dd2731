import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Imaging
import TestSupport
import XCTest
@testable import Reports

final class ReportsTests: TemporaryDirectoryTestCase {
    private func row(_ epoch: Int, validation: Double? = 98.5) -> EpochMetrics {
        EpochMetrics(epoch: epoch, loss: 0.3 / Double(epoch), trainAccuracy: 97 + Double(epoch) * 0.4, validationAccuracy: validation,
                     testAccuracy: 97.1 + Double(epoch) * 0.3, learningRate: 0.03, seconds: 1.2, imagesPerSecond: 45_000)
    }

    func testMetricsCSVRoundTripAndResumeReplacesLaterRows() throws {
        for epoch in 1...3 { try TrainingReport.record(row(epoch), in: directory) }
        // A resumed run redoing epoch 2 drops the old rows 2 and 3.
        try TrainingReport.record(row(2, validation: nil), in: directory)
        let text = try String(contentsOf: directory.appendingPathComponent("metrics.csv"), encoding: .utf8)
        XCTAssertTrue(text.hasPrefix(EpochMetrics.header.joined(separator: ",") + "\n"))
        let rows = EpochMetrics.read(directory.appendingPathComponent("metrics.csv"))
        XCTAssertEqual(rows.map(\.epoch), [1, 2])
        XCTAssertNil(rows[1].validationAccuracy)
        XCTAssertEqual(rows[0].loss, 0.3, accuracy: 1e-6)
        XCTAssertEqual(rows[0].trainAccuracy, 97.4, accuracy: 1e-4)
    }

    func testReportFilesExistParseAndShowTheData() throws {
        for epoch in 1...5 { try TrainingReport.record(row(epoch), in: directory) }
        let count = 200
        let labels = (0..<count).map { UInt8($0 % 10) }
        var predictions = labels
        predictions[3] = 5; predictions[17] = 1  // two mistakes
        let images = (0..<count * 784).map { UInt8($0 % 251) }
        var counts = [[Int]](repeating: [Int](repeating: 0, count: 10), count: 10)
        for (p, t) in zip(predictions, labels) { counts[Int(t)][Int(p)] += 1 }
        let files = try TrainingReport.write(
            in: directory, confusionMatrix: counts, mistakes: [(17, 7, 1, 0.98), (3, 3, 5, 0.9)], errors: 2, images: images,
            imageSide: 28, classNames: (0..<10).map(String.init))
        XCTAssertEqual(Set(files.map(\.lastPathComponent)), [
            "training-curves.png", "training-curves.svg", "confusion-matrix.png", "confusion-matrix.svg", "misclassified.png",
        ])
        for file in files where file.pathExtension == "png" {
            let image = try GrayImage(contentsOf: file.path)
            XCTAssertGreaterThan(image.width, 300, file.lastPathComponent)
            XCTAssertTrue(image.pixels.contains { $0 < 100 } && image.pixels.contains { $0 > 250 }, "\(file.lastPathComponent) has content")
        }
        let curves = try String(contentsOf: directory.appendingPathComponent("training-curves.svg"), encoding: .utf8)
        XCTAssertTrue(XMLParser(data: Data(curves.utf8)).parse(), "well-formed SVG")
        for text in [">Training loss<", ">Accuracy<", ">validation<", ">epoch<"] { XCTAssertTrue(curves.contains(text), text) }
        XCTAssertEqual(curves.components(separatedBy: "<circle").count - 1, 5 + 3 * 5 + 3, "a marker per point, and per legend entry")
        let matrix = try String(contentsOf: directory.appendingPathComponent("confusion-matrix.svg"), encoding: .utf8)
        XCTAssertTrue(matrix.contains(">19</text>"), "class 3 has 19 correct of 20")

        // Smoothed targets' least loss, dashed across the loss chart at its value and labelled.
        let floor = "least possible with smoothed targets: 0.20"
        XCTAssertFalse(curves.contains(floor), "one-hot targets have no floor drawn")
        try TrainingReport.write(
            in: directory, confusionMatrix: counts, mistakes: [], errors: 0, images: images, imageSide: 28,
            classNames: (0..<10).map(String.init), lossFloor: 0.2)
        let smoothed = try String(contentsOf: directory.appendingPathComponent("training-curves.svg"), encoding: .utf8)
        XCTAssertTrue(smoothed.contains(">\(floor)<"), smoothed)
        XCTAssertGreaterThan(smoothed.components(separatedBy: "<line").count, curves.components(separatedBy: "<line").count + 20, "its dashes")
    }

    /// A diverged run's metrics (NaN, infinite and enormous values) still draw, as gaps and capped
    /// axes, instead of trapping; and the canvas ignores coordinates no pixel has.
    func testAbsurdValuesDrawWithoutTrapping() throws {
        let rows = [
            EpochMetrics(epoch: 1, loss: 0.3, trainAccuracy: 97, validationAccuracy: 98, testAccuracy: 97, learningRate: 0.03, seconds: 1, imagesPerSecond: 1),
            EpochMetrics(epoch: 2, loss: .nan, trainAccuracy: .nan, validationAccuracy: .infinity, testAccuracy: 9.8, learningRate: 50, seconds: 1, imagesPerSecond: 1),
            EpochMetrics(epoch: 3, loss: 1e300, trainAccuracy: -.infinity, validationAccuracy: nil, testAccuracy: 1e300, learningRate: 50, seconds: 1, imagesPerSecond: 1),
        ]
        for row in rows { try TrainingReport.record(row, in: directory) }
        let files = try TrainingReport.write(
            in: directory, confusionMatrix: [[Int]](repeating: [Int](repeating: 0, count: 10), count: 10), mistakes: [], errors: 0,
            images: [], imageSide: 28, classNames: (0..<10).map(String.init))
        XCTAssertTrue(files.map(\.lastPathComponent).contains("training-curves.png"))
        let canvas = Canvas(width: 10, height: 10)
        canvas.circle(x: .nan, y: 1e300, radius: 3, fill: .blue)
        canvas.line(from: (-.infinity, 0), to: (5, .nan), color: .blue, width: 2)
        canvas.rectangle(x: -1e20, y: 2, width: 2e20, height: 3, fill: .blue)
        canvas.text("x", x: .nan, y: 0, size: 13, color: .text, anchor: .start, bold: false, rotated: false)
        let drawn = try GrayImage(decoding: canvas.pngData(), name: "canvas").pixels
        XCTAssertLessThan(drawn[3 * 10 + 5], 200, "the rectangle was clipped and drawn")
        XCTAssertEqual(drawn[8 * 10 + 5], 255, "nothing else was")

        // Text XML cannot hold (control characters) or must escape stays well-formed SVG.
        let svg = SVGDocument(width: 10, height: 10)
        svg.text("bell\u{07} <&> \u{1B}[0m", x: 0, y: 0, size: 13, color: .text, anchor: .start, bold: false, rotated: false)
        XCTAssertTrue(XMLParser(data: Data(svg.text.utf8)).parse(), svg.text)
    }

    func testTicksAreRound() {
        XCTAssertEqual(ticks(0, 0.23), [0, 0.05, 0.1, 0.15, 0.2])
        XCTAssertEqual(ticks(97, 100), [97, 98, 99, 100])
        XCTAssertEqual(ticks(98.5, 100), [98.5, 99, 99.5, 100])
        XCTAssertEqual(label(0.05), "0.05")
        XCTAssertEqual(label(98), "98")
    }

    func testFontHasEveryPrintableASCIIGlyph() {
        let font = Font.named(bold: false, size: 13)
        XCTAssertEqual(font.glyphs.count, 95)
        XCTAssertGreaterThan(font.ascent, 8)
        XCTAssertGreaterThan(font.width("W"), font.width("i"))
        XCTAssertEqual(font.width("ab"), font.width("a") + font.width("b"))
    }
}
