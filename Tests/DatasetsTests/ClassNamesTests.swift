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
        try Data("a\nb\n".utf8).write(to: file)
        XCTAssertThrowsError(try ClassNames.read(contentsOf: file.path)) { error in
            XCTAssertTrue("\(error)".contains("expected 10 names, one per line; found 2"), "\(error)")
        }
    }
}
