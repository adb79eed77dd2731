import Foundation
import Imaging

/// Bytes as an uploaded picture: PNG, JPEG or PGM decoding, then MNIST-style preparation.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard let image = try? GrayImage(decoding: Data(bytes: start, count: count), name: "fuzz") else { return 0 }
    precondition(image.pixels.count == image.width * image.height)
    for framing in [DigitPreprocessing.Framing.mnist, .fashionMNIST] {
        if let digit = try? DigitPreprocessing.prepare(image, framing: framing) {
            precondition(digit.width == 28 && digit.height == 28)
        }
    }
    return 0
}
