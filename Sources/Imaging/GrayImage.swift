import CImageCodecs
import Formats
import Foundation

/// Why an image could not be read. `name` is the file's path, or whatever the caller calls the
/// bytes (an upload's name).
public enum ImageError: Error, Equatable, CustomStringConvertible {
    case cannotRead(FileReadError)
    case notAnImage(name: String)
    case tooLarge(name: String, width: Int, height: Int, limit: Int)
    case corrupt(name: String, reason: String)
    case blank(name: String)

    public var description: String {
        switch self {
        case .cannotRead(let error): error.description
        case .notAnImage(let name): "\(name) is not a PNG, JPEG or PGM image"
        case .tooLarge(let name, let width, let height, let limit):
            "\(name) is too large: \(width)x\(height) pixels is more than the \(limit)-pixel limit"
        case .corrupt(let name, let reason): "\(name) is not a valid image: \(reason)"
        case .blank(let name): "\(name) has no digit: the image is blank"
        }
    }
}

/// An 8-bit gray-scale image, row-major, 0 = black.
public struct GrayImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && pixels.count == width * height)
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public subscript(x: Int, y: Int) -> UInt8 { pixels[y * width + x] }

    /// The image shrunk by the smallest whole factor that brings its longer side to at most
    /// `longestSide`, each pixel the rounded mean of its block (the blocks at the right and
    /// bottom edges may be partial); the image itself if it is small enough already.
    public func reduced(toLongestSide longestSide: Int) -> GrayImage {
        let factor = (max(width, height) + longestSide - 1) / longestSide
        guard factor > 1 else { return self }
        let (w, h) = ((width + factor - 1) / factor, (height + factor - 1) / factor)
        var sums = [Int](repeating: 0, count: w * h)
        pixels.withUnsafeBufferPointer { p in
            for y in 0..<height {
                let row = (y / factor) * w
                for x in 0..<width { sums[row + x / factor] += Int(p[y * width + x]) }
            }
        }
        var out = [UInt8](repeating: 0, count: w * h)
        for by in 0..<h {
            let rows = min(factor, height - by * factor)
            for bx in 0..<w {
                let count = rows * min(factor, width - bx * factor)
                out[by * w + bx] = UInt8((sums[by * w + bx] + count / 2) / count)
            }
        }
        return GrayImage(width: w, height: h, pixels: out)
    }

    /// Files larger than this are refused unread.
    public static let maximumFileBytes = 64 << 20
    /// Images with more pixels than this are refused before decoding.
    public static let maximumPixels = 40_000_000

    /// Reads a PNG (any bit depth; gray, RGB, palette, with or without alpha), a JPEG, or a
    /// binary or ASCII PGM file, converting to gray; see `init(decoding:name:)`.
    public init(contentsOf path: String) throws(ImageError) {
        let data: Data
        do {
            data = try readFile(atPath: path, maximumBytes: Self.maximumFileBytes)
        } catch {
            throw .cannotRead(error)
        }
        try self.init(decoding: data, name: path)
    }

    /// Decodes a PNG, JPEG or PGM held in memory, converting to gray. Transparent pixels are
    /// laid on whichever of black or white contrasts with the opaque ones.
    /// - Parameters:
    ///   - data: the file's bytes.
    ///   - name: names the image in errors.
    public init(decoding data: Data, name: String) throws(ImageError) {
        let bytes = [UInt8](data)
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) {
            self = try Self.decode(bytes, name: name, with: codec_read_png, channels: 2)
        } else if bytes.starts(with: [0xFF, 0xD8, 0xFF]) {
            self = try Self.decode(bytes, name: name, with: codec_read_jpeg, channels: 1)
        } else if bytes.starts(with: Array("P5".utf8)) || bytes.starts(with: Array("P2".utf8)) {
            self = try Self.parsePGM(bytes, name: name)
        } else {
            throw .notAnImage(name: name)
        }
    }

    private typealias Decoder = (
        UnsafePointer<UInt8>?, Int, Int, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?, UnsafeMutablePointer<UInt32>?,
        UnsafeMutablePointer<UInt32>?, UnsafeMutablePointer<CChar>?, Int
    ) -> Int32

    /// Runs a C decoder; with 2 channels (gray, alpha) the alpha is composited away.
    private static func decode(_ bytes: [UInt8], name: String, with decoder: Decoder, channels: Int) throws(ImageError) -> GrayImage {
        var buffer: UnsafeMutablePointer<UInt8>?
        var width: UInt32 = 0, height: UInt32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = decoder(bytes, bytes.count, maximumPixels, &buffer, &width, &height, &message, message.count)
        guard status == 0, let buffer else {
            if status == CODEC_TOO_LARGE {
                throw .tooLarge(name: name, width: Int(width), height: Int(height), limit: maximumPixels)
            }
            throw .corrupt(name: name, reason: text(of: message))
        }
        defer { codec_free(buffer) }
        let count = Int(width) * Int(height)
        guard channels == 2 else {
            return GrayImage(width: Int(width), height: Int(height), pixels: Array(UnsafeBufferPointer(start: buffer, count: count)))
        }
        // Composite gray + alpha over black or white, whichever the opaque pixels stand out from.
        var opaqueSum = 0, opaqueCount = 0
        for i in 0..<count where buffer[2 * i + 1] >= 128 {
            opaqueSum += Int(buffer[2 * i])
            opaqueCount += 1
        }
        let hasTransparency = opaqueCount < count
        let background = opaqueCount > 0 && opaqueSum / opaqueCount < 128 ? 255 : 0
        let pixels = (0..<count).map { i -> UInt8 in
            guard hasTransparency else { return buffer[2 * i] }
            let alpha = Int(buffer[2 * i + 1])
            return UInt8((Int(buffer[2 * i]) * alpha + background * (255 - alpha) + 127) / 255)
        }
        return GrayImage(width: Int(width), height: Int(height), pixels: pixels)
    }

    /// Netpbm gray map: P5 (binary, 8 or 16 bits) or P2 (ASCII), with # comments.
    static func parsePGM(_ bytes: [UInt8], name: String) throws(ImageError) -> GrayImage {
        var index = 2
        func token() -> Int? {
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "#") {
                    while index < bytes.count && bytes[index] != 0x0A { index += 1 }
                } else if [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) {
                    index += 1
                } else {
                    break
                }
            }
            var value = 0, digits = 0
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39, digits < 10 {
                value = value * 10 + Int(bytes[index] - 0x30)
                index += 1
                digits += 1
            }
            return digits > 0 ? value : nil
        }
        guard let width = token(), let height = token(), let maxValue = token() else {
            throw .corrupt(name: name, reason: "PGM header lacks width, height or maximum value")
        }
        guard width > 0, height > 0, (1...65535).contains(maxValue) else {
            throw .corrupt(name: name, reason: "PGM header has width \(width), height \(height), maximum \(maxValue)")
        }
        let (count, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, count <= maximumPixels else {
            throw .tooLarge(name: name, width: width, height: height, limit: maximumPixels)
        }
        // Nothing is allocated for the pixels before the bytes are known to hold them: a 17-byte
        // header may claim 40 megapixels.
        func gray(_ value: Int) -> UInt8 { UInt8(min(value, maxValue) * 255 / maxValue) }
        var pixels: [UInt8] = []
        if bytes[1] == UInt8(ascii: "5") {
            index += 1  // the single whitespace after the maximum value
            let size = maxValue > 255 ? 2 : 1
            guard bytes.count - index >= count * size else {
                throw .corrupt(name: name, reason: "PGM data is truncated: expected \(count * size) bytes, found \(bytes.count - index)")
            }
            pixels = (0..<count).map { i in
                gray(size == 1 ? Int(bytes[index + i]) : Int(bytes[index + 2 * i]) << 8 | Int(bytes[index + 2 * i + 1]))
            }
        } else {
            // Each value is a digit or more and, but for the last, a separator.
            guard count <= (bytes.count - index + 1) / 2 else {
                throw .corrupt(name: name, reason: "PGM data is truncated: \(count) pixels need at least \(2 * count - 1) bytes, found \(bytes.count - index)")
            }
            pixels.reserveCapacity(count)
            for i in 0..<count {
                guard let value = token() else { throw .corrupt(name: name, reason: "PGM data is truncated at pixel \(i) of \(count)") }
                pixels.append(gray(value))
            }
        }
        return GrayImage(width: width, height: height, pixels: pixels)
    }
}

/// 8-bit pixels, gray (1 channel), gray + alpha (2) or RGB (3), encoded as a PNG.
/// - Throws: only when memory for the encoder runs out.
public func encodePNG(_ pixels: [UInt8], width: Int, height: Int, channels: Int) throws(ImageEncodingError) -> Data {
    precondition(pixels.count == width * height * channels && (1...3).contains(channels))
    return try encoded { bytes, size, message in
        codec_encode_png(pixels, UInt32(width), UInt32(height), Int32(channels), bytes, size, message, 256)
    }
}

/// Gray pixels encoded as a baseline JPEG of `quality` (1-100).
public func encodeJPEG(_ image: GrayImage, quality: Int) throws(ImageEncodingError) -> Data {
    try encoded { bytes, size, message in
        codec_encode_jpeg(image.pixels, UInt32(image.width), UInt32(image.height), Int32(quality), bytes, size, message, 256)
    }
}

/// An encoder's failure: with valid pixels, only running out of memory.
public struct ImageEncodingError: Error, Equatable, CustomStringConvertible {
    public let description: String
}

/// A NUL-terminated message from the C codecs.
private func text(of message: [CChar]) -> String {
    String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The bytes a C encoder produced in memory.
private func encoded(
    _ encode: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, UnsafeMutablePointer<Int>, UnsafeMutablePointer<CChar>) -> Int32
) throws(ImageEncodingError) -> Data {
    var bytes: UnsafeMutablePointer<UInt8>?
    var size = 0
    var message = [CChar](repeating: 0, count: 256)
    guard encode(&bytes, &size, &message) == 0, let bytes else {
        throw ImageEncodingError(description: "cannot encode the image: " + text(of: message))
    }
    defer { codec_free(bytes) }
    return Data(bytes: bytes, count: size)
}

/// Writes 8-bit pixels (see `encodePNG`) as a PNG file, atomically.
public func writePNG(_ pixels: [UInt8], width: Int, height: Int, channels: Int, to url: URL) throws(FileWriteError) {
    let data: Data
    do {
        data = try encodePNG(pixels, width: width, height: height, channels: channels)
    } catch {
        throw FileWriteError(path: url.path, code: ENOMEM)
    }
    try writeAtomically(data, to: url)
}

extension GrayImage {
    /// The image as PNG bytes.
    public func pngData() throws(ImageEncodingError) -> Data {
        try encodePNG(pixels, width: width, height: height, channels: 1)
    }

    /// Writes the image as a PNG file, atomically.
    public func writePNG(to url: URL) throws(FileWriteError) {
        try Imaging.writePNG(pixels, width: width, height: height, channels: 1, to: url)
    }
}
