extension Array where Element == Float {
    /// The values as little-endian IEEE 754 bytes: the tensor layout of safetensors, .npy and
    /// ONNX raw data alike.
    public var littleEndianBytes: [UInt8] {
        #if _endian(little)
        return withUnsafeBytes { [UInt8]($0) }
        #else
        return flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        #endif
    }
}

extension FixedWidthInteger {
    /// The value's bytes, least significant first.
    public var littleEndianBytes: [UInt8] { withUnsafeBytes(of: littleEndian, Array.init) }
}
