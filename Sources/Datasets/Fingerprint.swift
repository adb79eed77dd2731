/// FNV-1a (64-bit) of byte arrays taken one after the other: a cheap way to recognise data
/// (Fashion-MNIST's labels, the images a run was trained on), not a cryptographic hash.
public func fnv1a(_ arrays: [UInt8]...) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for bytes in arrays {
        bytes.withUnsafeBufferPointer { buffer in
            for byte in buffer { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        }
    }
    return hash
}
