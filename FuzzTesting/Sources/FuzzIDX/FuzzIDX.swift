import Datasets
import Foundation

/// One IDX file, gzipped or plain, as `IDXArray.read` gets it from disk: written to a temporary
/// file (the reader takes paths), read with ranks 1 and 3.
let path = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-idx-\(getpid())").path

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes: start, count: count)) else { return 0 }
    for rank in [1, 3] {
        if let array = try? IDXArray.read(contentsOf: path, expectedRank: rank) {
            precondition(array.dimensions.reduce(1, *) == array.bytes.count)
        }
    }
    return 0
}
