import Datasets

/// Turns byte images into the network's input: zero-pad (28x28 to 32x32), scale to [0, 1], then
/// subtract the mean and divide by the standard deviation of the training images.
public struct Normalization: Sendable, Equatable {
    public let mean: Float
    public let standardDeviation: Float
    /// Input value of each pixel byte, so converting an image is one lookup per pixel.
    private let table: [Float]

    public init(mean: Float, standardDeviation: Float) {
        self.mean = mean
        self.standardDeviation = standardDeviation
        table = (0..<256).map { Self.value(Float($0), mean: mean, standardDeviation: standardDeviation) }
    }

    private static func value(_ intensity: Float, mean: Float, standardDeviation: Float) -> Float {
        (intensity / 255 - mean) / standardDeviation
    }

    /// The input value of a pixel of `intensity` (0-255, fractions allowed), exactly as a byte's.
    @inline(__always)
    public func value(_ intensity: Float) -> Float {
        Self.value(intensity, mean: mean, standardDeviation: standardDeviation)
    }

    /// The mean and standard deviation of `images` as the network sees them, padded to 32x32.
    /// - Precondition: the images are `LeNet5.imageSide` square and there is at least one.
    public init(statisticsOf images: LabeledImages) {
        precondition(images.count > 0 && images.height == LeNet5.imageSide && images.width == LeNet5.imageSide)
        // Four histograms for the pixels in turn, added at the end: with one, most pixels (the
        // background's zeros) added to the same count, each waiting for the one before.
        var histogram = [Int](repeating: 0, count: 256)
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 4 * 256) { counts in
            counts.initialize(repeating: 0)
            images.pixels.withUnsafeBufferPointer { pixels in
                var i = 0
                while i + 4 <= pixels.count {
                    for k in 0..<4 { counts[k * 256 + Int(pixels[i + k])] += 1 }
                    i += 4
                }
                for k in i..<pixels.count { counts[Int(pixels[k])] += 1 }
            }
            for value in 0..<256 { histogram[value] = (0..<4).reduce(0) { $0 + counts[$1 * 256 + value] } }
        }
        histogram[0] += images.count * (LeNet5.input.count - images.height * images.width)
        let total = Double(images.count * LeNet5.input.count)
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
            fill(plane, fromPixels: pixels.baseAddress! + index * images.height * images.width)
        }
    }

    /// Writes one byte image, `LeNet5.imageSide` square, into an input plane, centred in a
    /// border of `LeNet5.padding` zeros.
    public func fill(_ plane: UnsafeMutablePointer<Float>, fromPixels pixels: UnsafePointer<UInt8>) {
        let (side, image, padding) = (LeNet5.inputSide, LeNet5.imageSide, LeNet5.padding)
        plane.update(repeating: table[0], count: side * side)
        table.withUnsafeBufferPointer { t in
            for y in 0..<image {
                let row = plane + (y + padding) * side + padding
                for x in 0..<image { row[x] = t[Int(pixels[y * image + x])] }
            }
        }
    }
}
