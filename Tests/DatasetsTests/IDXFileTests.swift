import CZlib
import Foundation
import TestSupport
import XCTest
@testable import Datasets

final class IDXFileTests: TemporaryDirectoryTestCase {
    private func url(_ name: String) -> URL { folder.url(name) }

    /// Writes raw bytes, gzip-compressed when the name ends in .gz.
    private func write(_ bytes: [UInt8], to name: String) throws {
        if name.hasSuffix(".gz") {
            let file = try XCTUnwrap(gzopen(url(name).path, "wb"))
            if !bytes.isEmpty {
                XCTAssertEqual(bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }, Int32(bytes.count))
            }
            gzclose(file)
        } else {
            try Data(bytes).write(to: url(name))
        }
    }

    private func header(type: UInt8 = 0x08, dimensions: [UInt32]) -> [UInt8] {
        [0, 0, type, UInt8(dimensions.count)] + dimensions.flatMap { withUnsafeBytes(of: $0.bigEndian, Array.init) }
    }

    private func assertThrows(_ expected: IDXError, rank: Int = 3, _ name: String, line: UInt = #line) {
        XCTAssertThrowsError(try IDXArray.read(contentsOf: url(name).path, expectedRank: rank), line: line) { error in
            XCTAssertEqual(error as? IDXError, expected, line: line)
        }
    }

    // MARK: Round trips

    /// Bytes after the gzip data are refused, not ignored as zlib would; a second gzip member is
    /// data, and reads on.
    func testDataAfterTheGzipStreamIsRefused() throws {
        try write(header(dimensions: [3]) + [1, 2, 3], to: "labels.gz")
        let gz = try Data(contentsOf: url("labels.gz"))
        try (gz + Data("GARBAGE".utf8)).write(to: url("garbage.gz"))
        assertThrows(.dataAfterGzipStream(path: url("garbage.gz").path, bytes: 7), rank: 1, "garbage.gz")
        try write([9, 9], to: "tail.gz")
        try (gz + Data(contentsOf: url("tail.gz"))).write(to: url("two-members.gz"))
        assertThrows(.trailingData(path: url("two-members.gz").path, expectedBytes: 8 + 3), rank: 1, "two-members.gz")
        XCTAssertEqual(bytesAfterGzipStreams([UInt8](gz + gz)), 0)
        XCTAssertEqual(try IDXArray.read(contentsOf: url("labels.gz").path, expectedRank: 1).bytes, [1, 2, 3])
    }

    func testAFIFOIsRefusedInsteadOfWaitedOn() {
        let fifo = url("fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        assertThrows(.cannotOpen(path: fifo, reason: "it is not a regular file"), "fifo")
    }

    func testRoundTripPlainAndGzipped() throws {
        let array = IDXArray(dimensions: [3, 2, 5], bytes: (0..<30).map { UInt8($0 * 7 % 256) })
        try writeIDX(dimensions: array.dimensions, bytes: array.bytes, to: url("plain"))
        XCTAssertEqual(try IDXArray.read(contentsOf: url("plain").path, expectedRank: 3), array)
        try write(try [UInt8](Data(contentsOf: url("plain"))), to: "packed.gz")
        XCTAssertEqual(try IDXArray.read(contentsOf: url("packed.gz").path, expectedRank: 3), array)
    }

    func testDatasetFromDirectoryWithMixedCompressionAndNames() throws {
        try writeIDX(dimensions: [4, 28, 28], bytes: [UInt8](repeating: 9, count: 4 * 784), to: url("train-images-idx3-ubyte"))
        try write(header(dimensions: [4]) + [0, 1, 2, 9], to: "train-labels-idx1-ubyte.gz")
        try writeIDX(dimensions: [2, 28, 28], bytes: [UInt8](repeating: 1, count: 2 * 784), to: url("t10k-images.idx3-ubyte"))
        try writeIDX(dimensions: [2], bytes: [5, 6], to: url("t10k-labels-idx1-ubyte"))
        let dataset = try IDXDataset(directory: directory)
        XCTAssertEqual(dataset.train.count, 4)
        XCTAssertEqual(dataset.train.labels, [0, 1, 2, 9])
        XCTAssertEqual(dataset.test.labels, [5, 6])
        XCTAssertEqual(dataset.test.slice(1..<2).pixels, [UInt8](repeating: 1, count: 784))
    }

    // MARK: Malformed files, each with its specific error

    func testMissingFileAndDirectory() {
        assertThrows(.cannotOpen(path: url("nothing").path, reason: "no such file"), "nothing")
        XCTAssertThrowsError(try IDXArray.read(contentsOf: directory.path, expectedRank: 3)) { error in
            XCTAssertEqual(error as? IDXError, .cannotOpen(path: directory.path, reason: "it is a directory"))
        }
        XCTAssertThrowsError(try IDXDataset(directory: directory)) { error in
            guard case .missingFile(_, let candidates)? = error as? IDXError else { return XCTFail("\(error)") }
            XCTAssertEqual(candidates.first, "train-images-idx3-ubyte")
        }
    }

    func testBadMagic() throws {
        try write([0x1f, 0x00, 0x08, 0x03, 0, 0, 0, 1], to: "magic")
        assertThrows(.badMagic(path: url("magic").path, found: [0x1f, 0x00]), "magic")
    }

    func testUnsupportedDataType() throws {
        try write(header(type: 0x0D, dimensions: [1, 1, 1]) + [0, 0, 0, 0], to: "float")
        assertThrows(.unsupportedDataType(path: url("float").path, found: 0x0D), "float")
    }

    func testWrongRank() throws {
        try write(header(dimensions: [2]) + [1, 2], to: "labels")
        assertThrows(.wrongRank(path: url("labels").path, expected: 3, found: 1), "labels")
    }

    func testZeroAndHugeDimensionsAreRefusedBeforeAllocating() throws {
        try write(header(dimensions: [0, 28, 28]), to: "empty")
        assertThrows(.badDimensions(path: url("empty").path, dimensions: [0, 28, 28], reason: "every dimension must be positive"), "empty")
        try write(header(dimensions: [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF]), to: "huge")
        XCTAssertThrowsError(try IDXArray.read(contentsOf: url("huge").path, expectedRank: 3)) { error in
            guard case .badDimensions(_, _, let reason)? = error as? IDXError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("limit"), reason)
        }
    }

    func testTruncatedHeaderAndData() throws {
        try write([0, 0, 8], to: "stub")
        assertThrows(.truncated(path: url("stub").path, expectedBytes: 4, foundBytes: 3), "stub")
        try write(header(dimensions: [2, 3, 3]) + [UInt8](repeating: 1, count: 10), to: "short.gz")
        assertThrows(.truncated(path: url("short.gz").path, expectedBytes: 16 + 18, foundBytes: 16 + 10), "short.gz")
    }

    /// A header claiming far more data than the file holds (FuzzIDX's find: 29 bytes claiming
    /// 130 MB) is a truncated file. (That it costs no allocation of the claimed size shows in
    /// FuzzTesting/Regressions/FuzzIDX, replayed under AddressSanitizer in 88 ms, not 15 s.)
    func testAHeaderClaimingMoreThanTheFileHoldsIsTruncated() throws {
        try write(header(dimensions: [2, 4, 16_252_932]) + [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13], to: "claims")
        assertThrows(.truncated(path: url("claims").path, expectedBytes: 16 + 2 * 4 * 16_252_932, foundBytes: 16 + 13), "claims")
    }

    func testTrailingData() throws {
        try write(header(dimensions: [1, 2, 2]) + [1, 2, 3, 4, 5], to: "long")
        assertThrows(.trailingData(path: url("long").path, expectedBytes: 16 + 4), "long")
    }

    func testCorruptGzipStream() throws {
        try write(header(dimensions: [4, 8, 8]) + [UInt8](repeating: 3, count: 256), to: "good.gz")
        var bytes = try [UInt8](Data(contentsOf: url("good.gz")))
        for i in 12..<bytes.count - 8 { bytes[i] ^= 0x5A }
        try Data(bytes).write(to: url("bad.gz"))
        XCTAssertThrowsError(try IDXArray.read(contentsOf: url("bad.gz").path, expectedRank: 3)) { error in
            switch error as? IDXError {
            case .corrupt?, .truncated?: break
            default: XCTFail("expected a corrupt or truncated error, got \(error)")
            }
        }
    }

    func testImageAndLabelCountsMustAgree() throws {
        let images = IDXArray(dimensions: [3, 2, 2], bytes: [UInt8](repeating: 0, count: 12))
        XCTAssertThrowsError(try LabeledImages(images: images, labels: IDXArray(dimensions: [2], bytes: [1, 2]), imagesPath: "i", labelsPath: "l")) { error in
            XCTAssertEqual(error as? IDXError, .countMismatch(imagesPath: "i", images: 3, labelsPath: "l", labels: 2))
            XCTAssertEqual("\(error)", "i holds 3 images but l holds 2 labels")
        }
    }

    func testLabelsMustBeDigits() throws {
        let images = IDXArray(dimensions: [3, 2, 2], bytes: [UInt8](repeating: 0, count: 12))
        XCTAssertThrowsError(try LabeledImages(images: images, labels: IDXArray(dimensions: [3], bytes: [1, 10, 2]), labelsPath: "l")) { error in
            XCTAssertEqual(error as? IDXError, .labelOutOfRange(path: "l", index: 1, label: 10, classes: 10))
            XCTAssertEqual("\(error)", "l: label 1 is 10; expected a class in 0...9")
        }
    }

    func testErrorMessagesSayWhatWasExpectedAndFound() {
        XCTAssertEqual(
            IDXError.wrongRank(path: "f", expected: 3, found: 1).description, "f has 1 dimensions; expected 3")
        XCTAssertEqual(
            IDXError.badMagic(path: "f", found: [0x1f, 0x8b]).description,
            "f is not an IDX file: expected the magic bytes 00 00, found 1f 8b")
    }

    // MARK: The bundled data

    func testBundledMNIST() throws {
        let mnist = try IDXDataset(directory: IDXDataset.bundledMNIST)
        XCTAssertEqual(mnist.train.count, 60_000)
        XCTAssertEqual(mnist.test.count, 10_000)
        XCTAssertEqual([mnist.train.height, mnist.train.width], [28, 28])
        // The official files' first labels: 5 0 4 1 9 (train) and 7 2 1 0 4 (test).
        XCTAssertEqual(Array(mnist.train.labels.prefix(5)), [5, 0, 4, 1, 9])
        XCTAssertEqual(Array(mnist.test.labels.prefix(5)), [7, 2, 1, 0, 4])
        var counts = [Int](repeating: 0, count: 10)
        for label in mnist.test.labels { counts[Int(label)] += 1 }
        XCTAssertEqual(counts, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    }
}
