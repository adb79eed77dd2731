import CZlib
import Formats
import Foundation
import TestSupport
import XCTest
@testable import Imaging

final class GrayImageTests: TemporaryDirectoryTestCase {
    private func url(_ name: String) -> URL { folder.url(name) }

    private func assertThrows(_ path: String, _ check: (ImageError) -> Bool, line: UInt = #line) {
        XCTAssertThrowsError(try GrayImage(contentsOf: path), line: line) { error in
            guard let error = error as? ImageError else { return XCTFail("\(error)", line: line) }
            XCTAssertTrue(check(error), "\(error)", line: line)
        }
    }

    func testPNGRoundTripGrayAndRGB() throws {
        let gray = GrayImage(width: 3, height: 2, pixels: [0, 50, 100, 150, 200, 255])
        try gray.writePNG(to: url("gray.png"))
        XCTAssertEqual(try GrayImage(contentsOf: url("gray.png").path), gray)
        // RGB converts to gray by luminance: pure white stays 255, black 0, green brighter than blue.
        try writePNG([255, 255, 255, 0, 0, 0, 0, 255, 0, 0, 0, 255], width: 4, height: 1, channels: 3, to: url("rgb.png"))
        let rgb = try GrayImage(contentsOf: url("rgb.png").path)
        XCTAssertEqual(rgb.pixels[0], 255)
        XCTAssertEqual(rgb.pixels[1], 0)
        XCTAssertGreaterThan(rgb.pixels[2], rgb.pixels[3])
    }

    func testTransparentPixelsGoOnTheBackgroundThatContrastsWithTheInk() throws {
        // Black ink (alpha 255) on fully transparent pixels: composited on white.
        let ink: [UInt8] = [0, 255, 0, 0, 0, 0, 0, 0]  // (gray, alpha) x 4
        try writePNG(ink, width: 4, height: 1, channels: 2, to: url("dark.png"))
        XCTAssertEqual(try GrayImage(contentsOf: url("dark.png").path).pixels, [0, 255, 255, 255])
        // White ink on transparent: composited on black.
        try writePNG([255, 255, 255, 0, 255, 0, 255, 0], width: 4, height: 1, channels: 2, to: url("light.png"))
        XCTAssertEqual(try GrayImage(contentsOf: url("light.png").path).pixels, [255, 0, 0, 0])
    }

    /// A CMYK JPEG (as print software writes them, Adobe's inverted inks; made with Pillow) is read
    /// as gray: white paper, a dark stroke. libjpeg cannot convert CMYK to gray itself and such
    /// files were refused ("Unsupported color conversion request").
    func testCMYKJPEGIsReadAsGray() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/cmyk-seven.jpg")
        let image = try GrayImage(contentsOf: file.path)
        XCTAssertEqual([image.width, image.height], [40, 40])
        XCTAssertGreaterThan(image.pixels[2 * 40 + 2], 240, "the paper is white")
        XCTAssertLessThan(image.pixels[8 * 40 + 20], 60, "the stroke across the top is dark")
    }

    func testJPEGRoundTripIsClose() throws {
        let image = GrayImage(width: 16, height: 16, pixels: (0..<256).map { UInt8(($0 % 16) * 16) })
        try writeJPEG(image, quality: 95, to: url("ramp.jpg"))
        let read = try GrayImage(contentsOf: url("ramp.jpg").path)
        XCTAssertEqual([read.width, read.height], [16, 16])
        XCTAssertLessThan(zip(read.pixels, image.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0, 12)
    }

    func testPGMBinaryAsciiAndSixteenBit() throws {
        try Data("P5\n# a comment\n3 1\n255\n".utf8 + [0, 128, 255]).write(to: url("a.pgm"))
        XCTAssertEqual(try GrayImage(contentsOf: url("a.pgm").path).pixels, [0, 128, 255])
        try Data("P2 2 2 15\n0 15\n# mid\n5 10\n".utf8).write(to: url("b.pgm"))
        XCTAssertEqual(try GrayImage(contentsOf: url("b.pgm").path).pixels, [0, 255, 85, 170])
        try Data("P5 2 1 65535\n".utf8 + [0xFF, 0xFF, 0x00, 0x00]).write(to: url("c.pgm"))
        XCTAssertEqual(try GrayImage(contentsOf: url("c.pgm").path).pixels, [255, 0])
    }

    func testBadFilesGiveTheirOwnErrors() throws {
        assertThrows(url("missing.png").path) { $0 == .cannotRead(.notFound(path: self.url("missing.png").path)) }
        assertThrows(directory.path) { $0 == .cannotRead(.notRegularFile(path: self.directory.path)) }
        try Data("hello, world".utf8).write(to: url("text.png"))
        assertThrows(url("text.png").path) { $0 == .notAnImage(name: self.url("text.png").path) }
        try Data().write(to: url("empty.jpg"))
        assertThrows(url("empty.jpg").path) { $0 == .notAnImage(name: self.url("empty.jpg").path) }

        try GrayImage(width: 8, height: 8, pixels: [UInt8](repeating: 7, count: 64)).writePNG(to: url("good.png"))
        let png = try Data(contentsOf: url("good.png"))
        try png.prefix(png.count / 2).write(to: url("truncated.png"))
        assertThrows(url("truncated.png").path) { if case .corrupt = $0 { true } else { false } }
        try writeJPEG(GrayImage(width: 8, height: 8, pixels: [UInt8](repeating: 7, count: 64)), quality: 90, to: url("good.jpg"))
        let jpeg = try Data(contentsOf: url("good.jpg"))
        try jpeg.prefix(20).write(to: url("truncated.jpg"))
        assertThrows(url("truncated.jpg").path) { if case .corrupt = $0 { true } else { false } }

        // Cut in the middle of the image data: libjpeg would fill the rest in; refused instead.
        let photo = GrayImage(width: 64, height: 64, pixels: (0..<4096).map { UInt8(($0 * 37) % 256) })
        let full = try encodeJPEG(photo, quality: 90)
        XCTAssertNoThrow(try GrayImage(decoding: full, name: "whole.jpg"))
        XCTAssertThrowsError(try GrayImage(decoding: full.prefix(full.count * 2 / 3), name: "half.jpg")) {
            XCTAssertEqual($0 as? ImageError, .corrupt(name: "half.jpg", reason: "the JPEG data ends early (a truncated file)"))
        }

        // A marker in the middle of the compressed data (found by FuzzImage: 462 bytes claiming
        // 140 x 65,173 pixels, which libjpeg would have invented): refused at once.
        var damaged = [UInt8](full)
        damaged.replaceSubrange(damaged.count / 2..<damaged.count / 2 + 2, with: [0xFF, 0xD0])
        XCTAssertThrowsError(try GrayImage(decoding: Data(damaged), name: "damaged.jpg")) {
            XCTAssertEqual($0 as? ImageError, .corrupt(name: "damaged.jpg", reason: "the JPEG data is cut short by a marker (a damaged file)"))
        }

        try Data("P5\n3 3\n255\n".utf8 + [1, 2]).write(to: url("short.pgm"))
        assertThrows(url("short.pgm").path) { $0 == .corrupt(name: self.url("short.pgm").path, reason: "PGM data is truncated: expected 9 bytes, found 2") }
        try Data("P5\nx y\n".utf8).write(to: url("header.pgm"))
        assertThrows(url("header.pgm").path) { if case .corrupt = $0 { true } else { false } }
    }

    func testAbsurdDimensionsAreRefusedBeforeDecoding() throws {
        // A valid PNG whose header claims 100,000 x 100,000 pixels (CRC recomputed).
        try GrayImage(width: 8, height: 8, pixels: [UInt8](repeating: 7, count: 64)).writePNG(to: url("small.png"))
        var bytes = [UInt8](try Data(contentsOf: url("small.png")))
        let huge = withUnsafeBytes(of: UInt32(100_000).bigEndian, Array.init)
        bytes.replaceSubrange(16..<20, with: huge)
        bytes.replaceSubrange(20..<24, with: huge)
        let crc = UInt32(bytes[12..<29].withUnsafeBufferPointer { crc32(0, $0.baseAddress, 17) })
        bytes.replaceSubrange(29..<33, with: withUnsafeBytes(of: crc.bigEndian, Array.init))
        try Data(bytes).write(to: url("huge.png"))
        assertThrows(url("huge.png").path) { $0 == .tooLarge(name: self.url("huge.png").path, width: 100_000, height: 100_000, limit: GrayImage.maximumPixels) }
        try Data("P5 100000 100000 255\n".utf8).write(to: url("huge.pgm"))
        assertThrows(url("huge.pgm").path) { $0 == .tooLarge(name: self.url("huge.pgm").path, width: 100_000, height: 100_000, limit: GrayImage.maximumPixels) }
        // Sides whose product overflows Int are refused the same way, not trapped on.
        try Data("P5\n9999999999 9999999999\n255\n".utf8).write(to: url("overflow.pgm"))
        assertThrows(url("overflow.pgm").path) { if case .tooLarge = $0 { true } else { false } }
        // 36 megapixels claimed by 17 bytes, binary and ASCII: refused by the bytes there are,
        // before the pixels are allocated (they once cost 8 bytes each, ~280 MB, first).
        for (name, header) in [("claims.pgm", "P5 6000 6000 255\n"), ("claims-ascii.pgm", "P2 6000 6000 255\n7 8")] {
            try Data(header.utf8).write(to: url(name))
            assertThrows(url(name).path) { if case .corrupt(_, let reason) = $0 { reason.hasPrefix("PGM data is truncated") } else { false } }
        }
    }

    func testReductionAveragesWholeAndPartialBlocks() {
        let image = GrayImage(width: 5, height: 3, pixels: [
            0, 10, 20, 30, 40,
            50, 60, 70, 80, 90,
            100, 110, 120, 130, 255,
        ])
        XCTAssertEqual(image.reduced(toLongestSide: 5), image)
        // Factor 2: blocks of 2x2, 2x1 at the right, 1x2 at the bottom, 1x1 in the corner.
        XCTAssertEqual(image.reduced(toLongestSide: 3), GrayImage(width: 3, height: 2, pixels: [30, 50, 65, 105, 125, 255]))
        XCTAssertEqual(image.reduced(toLongestSide: 1), GrayImage(width: 1, height: 1, pixels: [78]))
    }

    func testDecodesFromMemoryAsFromAFile() throws {
        let image = GrayImage(width: 3, height: 2, pixels: [0, 50, 100, 150, 200, 255])
        XCTAssertEqual(try GrayImage(decoding: image.pngData(), name: "upload"), image)
        XCTAssertEqual(try GrayImage(decoding: Data("P5 3 2 255\n".utf8 + image.pixels), name: "upload"), image)
        XCTAssertThrowsError(try GrayImage(decoding: Data("GIF89a".utf8), name: "upload")) {
            XCTAssertEqual($0 as? ImageError, .notAnImage(name: "upload"))
        }
    }
}
