import CZlib
import Foundation
import TestSupport
import XCTest
@testable import Datasets

final class ClassNamesTests: XCTestCase {
    func testRecognizesMNISTAsDigitsAndRoundTripsNames() throws {
        let mnist = try IDXDataset(directory: IDXDataset.bundledMNIST)
        XCTAssertEqual(ClassNames.recognized(mnist), ClassNames.digits)
        XCTAssertEqual(ClassNames.decode(ClassNames.encode(ClassNames.fashionMNIST)), ClassNames.fashionMNIST)
        XCTAssertNil(ClassNames.decode("[\"only one\"]"))
        XCTAssertNil(ClassNames.decode(nil))
    }

    func testRecognizesFashionMNISTWhenInstalled() throws {
        let directory = URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: directory.path), "dataset-fashion-mnist is not installed")
        XCTAssertEqual(ClassNames.recognized(try IDXDataset(directory: directory)), ClassNames.fashionMNIST)
    }

    func testClassNamesFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("names-\(UUID().uuidString).txt")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data("zero\none\n\ntwo\n3\n4\n5\n6\n7\n8\n  nine  \n".utf8).write(to: file)
        XCTAssertEqual(try ClassNames.read(contentsOf: file.path).last, "nine")
        // Counts, lengths and characters a report cannot draw or write as SVG are refused before
        // training (ten names of 450,000 characters once trained a whole run, then made
        // checkpoints the tool could not read back; names of 10,000 a 75,536-pixel-wide chart).
        let nine = (1...9).map(String.init).joined(separator: "\n") + "\n"
        for (text, fragment) in [
            ("a\nb\n", "expected 10 names, one per line; found 2"),
            (nine + String(repeating: "x", count: 41), "name 10 has 41 characters; at most 40 are allowed"),
            (nine + "bell\u{07}", "name 10 holds a control character"),
            (nine + String(repeating: "y", count: 70_000), "bytes; ten names take at most 64 KB"),
        ] {
            try Data(text.utf8).write(to: file)
            XCTAssertThrowsError(try ClassNames.read(contentsOf: file.path)) { error in
                XCTAssertTrue("\(error)".contains(fragment), "\(error)")
            }
        }
        // Names from a checkpoint's metadata are held to the same rules.
        XCTAssertNil(ClassNames.decode(ClassNames.encode((0..<9).map(String.init) + ["bell\u{07}"])))
        XCTAssertEqual(ClassNames.decode(ClassNames.encode(ClassNames.fashionMNIST)), ClassNames.fashionMNIST)
    }
}
