import Formats
import Foundation
import Imaging

/// Writes a plain IDX file of unsigned bytes.
public func writeIDX(dimensions: [Int], bytes: [UInt8], to url: URL) throws {
    try writeAtomically(IDX.encode(dimensions: dimensions, bytes: bytes), to: url)
}

/// Writes a gray image as a JPEG of `quality` (1-100).
public func writeJPEG(_ image: GrayImage, quality: Int, to url: URL) throws {
    try writeAtomically(encodeJPEG(image, quality: quality), to: url)
}
