import Formats
import Foundation
import Imaging

/// A plain (uncompressed) IDX file of unsigned bytes, the format of the MNIST files: two zero
/// bytes, the data type (0x08, unsigned byte), the rank, each dimension as a big-endian 32-bit
/// integer, then the data. The tool only reads IDX (`Datasets.IDXArray`); tests write it.
/// - Precondition: `dimensions` multiply to `bytes.count`, each below 2^32, at most 255 of them.
public func encodeIDX(dimensions: [Int], bytes: [UInt8]) -> Data {
    precondition(dimensions.reduce(1, *) == bytes.count && dimensions.count <= 255)
    var data = Data([0, 0, 0x08, UInt8(dimensions.count)])
    for d in dimensions { withUnsafeBytes(of: UInt32(d).bigEndian) { data.append(contentsOf: $0) } }
    data.append(contentsOf: bytes)
    return data
}

/// Writes a plain IDX file of unsigned bytes.
public func writeIDX(dimensions: [Int], bytes: [UInt8], to url: URL) throws {
    try writeAtomically(encodeIDX(dimensions: dimensions, bytes: bytes), to: url)
}

/// Writes a gray image as a JPEG of `quality` (1-100).
public func writeJPEG(_ image: GrayImage, quality: Int, to url: URL) throws {
    try writeAtomically(encodeJPEG(image, quality: quality), to: url)
}
