import Foundation

/// A zip archive of stored (uncompressed) files, as NumPy's `.npz` uses
/// (https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT).
public enum Zip {
    /// The archive's bytes: each file's local header and data, then the central directory.
    /// - Precondition: fewer than 65,536 files, each name and the whole archive under 4 GB.
    public static func stored(_ files: [(name: String, data: Data)]) -> Data {
        precondition(files.count <= Int(UInt16.max))
        var archive = Data()
        var directory = Data()
        for file in files {
            let name = Array(file.name.utf8)
            let crc = crc32(file.data)
            let offset = UInt32(archive.count)
            let size = UInt32(file.data.count)
            // Version 2.0, no flags, stored, no date; then CRC and sizes.
            let common = UInt16(20).littleEndianBytes + UInt16(0).littleEndianBytes + UInt16(0).littleEndianBytes
                + UInt16(0).littleEndianBytes + UInt16(0x21).littleEndianBytes
                + crc.littleEndianBytes + size.littleEndianBytes + size.littleEndianBytes
            archive.append(contentsOf: UInt32(0x0403_4B50).littleEndianBytes + common)
            archive.append(contentsOf: UInt16(name.count).littleEndianBytes + UInt16(0).littleEndianBytes + name)
            archive.append(file.data)
            directory.append(contentsOf: UInt32(0x0201_4B50).littleEndianBytes + UInt16(20).littleEndianBytes + common)
            directory.append(contentsOf: UInt16(name.count).littleEndianBytes + [UInt8](repeating: 0, count: 12))
            directory.append(contentsOf: offset.littleEndianBytes + name)
        }
        let directoryOffset = UInt32(archive.count)
        archive.append(directory)
        let count = UInt16(files.count).littleEndianBytes
        archive.append(contentsOf: UInt32(0x0605_4B50).littleEndianBytes + [0, 0, 0, 0] + count + count)
        archive.append(contentsOf: UInt32(directory.count).littleEndianBytes + directoryOffset.littleEndianBytes + [0, 0])
        return archive
    }

    /// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zip requires.
    public static func crc32(_ data: Data) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
