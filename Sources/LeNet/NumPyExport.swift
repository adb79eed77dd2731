import Foundation

/// NumPy's `.npy` (format 1.0) and `.npz` (an uncompressed zip of `.npy` files) for float32
/// arrays, so `numpy.load` reads what swift-lenet writes.
public enum NumPyExport {
    /// One `.npy` file: magic, version, a Python-dict header padded to 64 bytes, then the data.
    public static func npy(shape: [Int], values: [Float]) -> Data {
        precondition(shape.reduce(1, *) == values.count)
        let dims = shape.count == 1 ? "\(shape[0])," : shape.map(String.init).joined(separator: ", ")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        withUnsafeBytes(of: UInt16(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: values.littleEndianBytes)
        return data
    }

    /// An `.npz` archive of `arrays`, each stored as `<name>.npy`.
    public static func npz(_ arrays: [NamedTensor]) -> Data {
        var archive = Data()
        var directory = Data()
        for array in arrays {
            let name = Array((array.name + ".npy").utf8)
            let content = npy(shape: array.shape, values: array.values)
            let crc = crc32(content)
            let offset = UInt32(archive.count)
            // Local file header: version 2.0, no flags, stored, no date.
            archive.append(le32(0x0403_4B50) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0x21))
            archive.append(le32(crc) + le32(UInt32(content.count)) + le32(UInt32(content.count)))
            archive.append(le16(UInt16(name.count)) + le16(0) + Data(name))
            archive.append(content)
            directory.append(le32(0x0201_4B50) + le16(20) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0x21))
            directory.append(le32(crc) + le32(UInt32(content.count)) + le32(UInt32(content.count)))
            directory.append(le16(UInt16(name.count)) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0) + le32(offset))
            directory.append(Data(name))
        }
        let directoryOffset = UInt32(archive.count)
        archive.append(directory)
        archive.append(le32(0x0605_4B50) + le16(0) + le16(0) + le16(UInt16(arrays.count)) + le16(UInt16(arrays.count)))
        archive.append(le32(UInt32(directory.count)) + le32(directoryOffset) + le16(0))
        return archive
    }

    private static func le16(_ v: UInt16) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
    private static func le32(_ v: UInt32) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }

    /// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zip requires.
    static func crc32(_ data: Data) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
