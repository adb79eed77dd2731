import Foundation

/// The IDX format of the MNIST files (http://yann.lecun.com/exdb/mnist/): two zero bytes, the
/// data type (0x08, unsigned byte), the rank, each dimension as a big-endian 32-bit integer,
/// then the data. Reading, with gzip and validation, is `Datasets.IDXArray`'s.
public enum IDX {
    /// A plain (uncompressed) IDX file of unsigned bytes.
    /// - Precondition: `dimensions` multiply to `bytes.count`, each below 2^32, at most 255 of them.
    public static func encode(dimensions: [Int], bytes: [UInt8]) -> Data {
        precondition(dimensions.reduce(1, *) == bytes.count && dimensions.count <= 255)
        var data = Data([0, 0, 0x08, UInt8(dimensions.count)])
        for d in dimensions { data.append(contentsOf: UInt32(d).bigEndianBytes) }
        data.append(contentsOf: bytes)
        return data
    }
}
