import CZlib
import Foundation

/// A failure to read an IDX file, naming what was expected and what was found.
public enum IDXError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case corrupt(path: String, reason: String)
    case truncated(path: String, expectedBytes: Int, foundBytes: Int)
    case trailingData(path: String, expectedBytes: Int)
    case badMagic(path: String, found: [UInt8])
    case unsupportedDataType(path: String, found: UInt8)
    case wrongRank(path: String, expected: Int, found: Int)
    case badDimensions(path: String, dimensions: [Int], reason: String)
    case countMismatch(imagesPath: String, images: Int, labelsPath: String, labels: Int)
    case labelOutOfRange(path: String, index: Int, label: UInt8, classes: Int)
    case missingFile(directory: String, candidates: [String])
    case dataAfterGzipStream(path: String, bytes: Int)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            "cannot open \(path): \(reason)"
        case .corrupt(let path, let reason):
            "\(path) is corrupt: \(reason)"
        case .truncated(let path, let expected, let found):
            "\(path) is truncated: expected \(expected) bytes of IDX data, found \(found)"
        case .trailingData(let path, let expected):
            "\(path) is longer than its header says: expected exactly \(expected) bytes of IDX data"
        case .badMagic(let path, let found):
            "\(path) is not an IDX file: expected the magic bytes 00 00, found \(found.map { String(format: "%02x", $0) }.joined(separator: " "))"
        case .unsupportedDataType(let path, let found):
            "\(path) has data type 0x\(String(format: "%02x", found)); expected 0x08 (unsigned byte)"
        case .wrongRank(let path, let expected, let found):
            "\(path) has \(found) dimensions; expected \(expected)"
        case .badDimensions(let path, let dimensions, let reason):
            "\(path) has dimensions \(dimensions.map(String.init).joined(separator: "x")): \(reason)"
        case .countMismatch(let imagesPath, let images, let labelsPath, let labels):
            "\(imagesPath) holds \(images) images but \(labelsPath) holds \(labels) labels"
        case .labelOutOfRange(let path, let index, let label, let classes):
            "\(path): label \(index) is \(label); expected a class in 0...\(classes - 1)"
        case .missingFile(let directory, let candidates):
            "\(directory) has none of \(candidates.joined(separator: ", "))"
        case .dataAfterGzipStream(let path, let bytes):
            "\(path) has \(bytes) bytes after its gzip data; expected the file to end there"
        }
    }
}

/// An IDX array of unsigned bytes: its dimensions and its row-major contents.
public struct IDXArray: Sendable, Equatable {
    public var dimensions: [Int]
    public var bytes: [UInt8]

    public init(dimensions: [Int], bytes: [UInt8]) {
        precondition(dimensions.reduce(1, *) == bytes.count)
        self.dimensions = dimensions
        self.bytes = bytes
    }

    /// The largest array this reader accepts: twice the size of the MNIST training images.
    public static let maximumBytes = 1 << 27

    /// Reads an IDX file, gzip-compressed or plain, validating every field.
    ///
    /// The header is read and checked before any data, so a hostile header cannot trigger a giant
    /// allocation, and the data must end exactly where the header says.
    /// - Parameters:
    ///   - path: the file, `.gz` or not.
    ///   - expectedRank: the number of dimensions the caller needs.
    public static func read(contentsOf path: String, expectedRank: Int) throws(IDXError) -> IDXArray {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw .cannotOpen(path: path, reason: FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")
        }
        // A directory, FIFO or device is refused before opening: reading a FIFO would wait forever.
        var status = stat()
        if stat(path, &status) == 0 && status.st_mode & S_IFMT != S_IFREG {
            throw .cannotOpen(path: path, reason: status.st_mode & S_IFMT == S_IFDIR ? "it is a directory" : "it is not a regular file")
        }
        guard let file = gzopen(path, "rb") else {
            throw .cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        defer { gzclose(file) }

        let magic = try readExactly(4, from: file, path: path, consumed: 0)
        guard magic[0] == 0, magic[1] == 0 else { throw .badMagic(path: path, found: Array(magic[0..<2])) }
        guard magic[2] == 0x08 else { throw .unsupportedDataType(path: path, found: magic[2]) }
        let rank = Int(magic[3])
        guard rank == expectedRank else { throw .wrongRank(path: path, expected: expectedRank, found: rank) }

        let header = try readExactly(4 * rank, from: file, path: path, consumed: 4)
        let dimensions = (0..<rank).map { d in
            header[4 * d..<4 * d + 4].reduce(0) { $0 << 8 | Int($1) }
        }
        guard dimensions.allSatisfy({ $0 > 0 }) else {
            throw .badDimensions(path: path, dimensions: dimensions, reason: "every dimension must be positive")
        }
        let (size, overflow) = dimensions.dropFirst().reduce((dimensions[0], false)) { acc, d in
            let (product, o) = acc.0.multipliedReportingOverflow(by: d)
            return (product, acc.1 || o)
        }
        guard !overflow, size <= maximumBytes else {
            throw .badDimensions(path: path, dimensions: dimensions, reason: "larger than the \(maximumBytes)-byte limit")
        }
        let headerSize = 4 + 4 * rank
        let bytes = try readExactly(size, from: file, path: path, consumed: headerSize)
        var extra: UInt8 = 0
        if gzread(file, &extra, 1) != 0 { throw .trailingData(path: path, expectedBytes: headerSize + size) }
        // zlib stops at the end of the gzip data and says nothing of bytes after it.
        if gzdirect(file) == 0, let raw = FileManager.default.contents(atPath: path), let after = bytesAfterGzipStreams([UInt8](raw)), after > 0 {
            throw .dataAfterGzipStream(path: path, bytes: after)
        }
        return IDXArray(dimensions: dimensions, bytes: bytes)
    }

}

/// The number of bytes after the last of the gzip members `data` holds one after another, or
/// nil when it does not start with a complete one.
func bytesAfterGzipStreams(_ data: [UInt8]) -> Int? {
    var offset = 0
    var scratch = [UInt8](repeating: 0, count: 1 << 16)
    while offset < data.count {
        guard data.count - offset >= 2, data[offset] == 0x1F, data[offset + 1] == 0x8B else { return offset == 0 ? nil : data.count - offset }
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var status = Z_OK
        data.withUnsafeBufferPointer { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress! + offset)
            stream.avail_in = UInt32(min(data.count - offset, Int(UInt32.max)))
            scratch.withUnsafeMutableBufferPointer { output in
                while status == Z_OK {
                    stream.next_out = output.baseAddress
                    stream.avail_out = UInt32(output.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                }
            }
        }
        guard status == Z_STREAM_END else { return nil }
        offset += Int(stream.total_in)
    }
    return 0
}

/// Reads exactly `count` bytes, or throws `truncated` (short read) or `corrupt` (zlib error).
/// Memory grows with the bytes actually read, so a header that claims far more data than the
/// file holds costs nothing (FuzzIDX: 29 bytes claiming 130 MB).
private func readExactly(_ count: Int, from file: gzFile, path: String, consumed: Int) throws(IDXError) -> [UInt8] {
    let step = 1 << 22
    var bytes: [UInt8] = []
    bytes.reserveCapacity(min(count, step))
    var filled = 0
    while filled < count {
        let chunk = min(count - filled, step)
        bytes.append(contentsOf: repeatElement(0, count: chunk))
        let read = bytes.withUnsafeMutableBytes { gzread(file, $0.baseAddress! + filled, UInt32(chunk)) }
        var code: Int32 = 0
        let message = String(cString: gzerror(file, &code))
        if read < 0 || (code != Z_OK && code != Z_BUF_ERROR) {
            throw .corrupt(path: path, reason: message)
        }
        if read == 0 || code == Z_BUF_ERROR {
            throw .truncated(path: path, expectedBytes: consumed + count, foundBytes: consumed + filled + max(Int(read), 0))
        }
        filled += Int(read)
        bytes.removeLast(chunk - Int(read))
    }
    return bytes
}
