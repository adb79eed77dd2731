import Foundation

/// NumPy's `.npy` (format 1.0) and `.npz` (an uncompressed zip of `.npy` files) for float32
/// arrays, so `numpy.load` reads what swift-lenet writes.
public enum NumPy {
    /// One `.npy` file: magic, version, a Python-dict header padded to 64 bytes, then the data.
    public static func npy(shape: [Int], values: [Float]) -> Data {
        precondition(shape.reduce(1, *) == values.count)
        let dims = shape.count == 1 ? "\(shape[0])," : shape.map(String.init).joined(separator: ", ")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        data.append(contentsOf: UInt16(header.utf8.count).littleEndianBytes)
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: values.littleEndianBytes)
        return data
    }

    /// An `.npz` archive of `arrays`, each stored as `<name>.npy`.
    public static func npz(_ arrays: [NamedTensor]) -> Data {
        Zip.stored(arrays.map { (name: $0.name + ".npy", data: npy(shape: $0.shape, values: $0.values)) })
    }
}
