import Datasets

/// Turns byte images into the network's input: zero-pad to 32x32, scale to [0, 1], then
/// subtract the mean and divide by the standard deviation of the training images.
public struct Normalization: Sendable, Equatable {
    public let mean: Float
    public let standardDeviation: Float
    /// Input value of each pixel byte, so converting an image is one lookup per pixel.
    private let table: [Float]

    public init(mean: Float, standardDeviation: Float) {
        self.mean = mean
        self.standardDeviation = standardDeviation
        table = (0..<256).map { (Float($0) / 255 - mean) / standardDeviation }
    }

    /// The mean and standard deviation of `images` as the network sees them, padded to 32x32.
    /// - Precondition: the images are 28x28 and there is at least one.
    public init(statisticsOf images: LabeledImages) {
        precondition(images.count > 0 && images.height == 28 && images.width == 28)
        var histogram = [Int](repeating: 0, count: 256)
        for p in images.pixels { histogram[Int(p)] += 1 }
        histogram[0] += images.count * (LeNet5.inputSide * LeNet5.inputSide - 28 * 28)
        let total = Double(images.count * LeNet5.inputSide * LeNet5.inputSide)
        var sum = 0.0, sumOfSquares = 0.0
        for (value, n) in histogram.enumerated() {
            let x = Double(value) / 255
            sum += x * Double(n)
            sumOfSquares += x * x * Double(n)
        }
        let mean = sum / total
        let variance = max(sumOfSquares / total - mean * mean, 1e-12)
        self.init(mean: Float(mean), standardDeviation: Float(variance.squareRoot()))
    }

    /// Writes image `index` of `images` into a 32x32 input plane.
    public func fill(_ plane: UnsafeMutablePointer<Float>, from images: LabeledImages, index: Int) {
        images.pixels.withUnsafeBufferPointer { pixels in
            fill(plane, fromPixels: pixels.baseAddress! + index * 28 * 28)
        }
    }

    /// Writes one 28x28 byte image into a 32x32 input plane, centred in a 2-pixel border.
    public func fill(_ plane: UnsafeMutablePointer<Float>, fromPixels pixels: UnsafePointer<UInt8>) {
        let side = LeNet5.inputSide
        plane.update(repeating: table[0], count: side * side)
        table.withUnsafeBufferPointer { t in
            for y in 0..<28 {
                let row = plane + (y + 2) * side + 2
                for x in 0..<28 { row[x] = t[Int(pixels[y * 28 + x])] }
            }
        }
    }
}
