/// Turns a photo or drawing of one object into a 28x28 image made the way the data set's were:
/// white ink on black, cropped to the ink, then for MNIST scaled to fit a 20x20 box keeping its
/// aspect ratio and placed so its centre of mass is at the centre of the 28x28 field (LeCun et
/// al., the MNIST page); for Fashion-MNIST scaled so its longest side is 28 and centred.
public enum DigitPreprocessing {
    /// Side of the prepared image: MNIST's.
    public static let side = 28
    /// Larger pictures are first shrunk to this longest side (`GrayImage.reduced`).
    public static let workingSide = 1024

    /// How the cropped ink is placed in the 28x28 field.
    public enum Framing: Sendable, Equatable {
        /// Longest side 20, centre of mass at the centre.
        case mnist
        /// Longest side 28, bounding box centred (Fashion-MNIST's product photos).
        case fashionMNIST

        var box: Int { self == .mnist ? 20 : 28 }
    }

    /// The 28x28 image, row-major bytes, 0 = background.
    /// - Throws: `ImageError.blank` if no ink stands out from the background.
    public static func prepare(_ image: GrayImage, framing: Framing = .mnist, name: String = "image") throws(ImageError) -> GrayImage {
        let box = framing.box
        // A 20-pixel digit needs no more than this; a photo of tens of megapixels would cost
        // seconds and hundreds of megabytes below.
        let image = image.reduced(toLongestSide: workingSide)
        var ink = inkLevels(image)
        // Ink is what reaches a quarter of the strongest; a frame or an edge shadow touching the
        // border is not the digit, unless nothing else is.
        let strongest = ink.max() ?? 0
        guard strongest > 0.1 else { throw .blank(name: name) }
        removeBorderConnectedInk(&ink, width: image.width, height: image.height, threshold: 0.25 * strongest)
        var (minX, minY, maxX, maxY) = (image.width, image.height, -1, -1)
        for y in 0..<image.height {
            for x in 0..<image.width where ink[y * image.width + x] >= 0.25 * strongest {
                (minX, minY, maxX, maxY) = (min(minX, x), min(minY, y), max(maxX, x), max(maxY, y))
            }
        }
        let cropWidth = maxX - minX + 1, cropHeight = maxY - minY + 1
        let scale = Double(box) / Double(max(cropWidth, cropHeight))
        let width = max(1, Int((Double(cropWidth) * scale).rounded()))
        let height = max(1, Int((Double(cropHeight) * scale).rounded()))
        let digit = resample(ink, imageWidth: image.width, x0: minX, y0: minY, cropWidth: cropWidth, cropHeight: cropHeight,
                             toWidth: width, height: height)
        // Centre of mass of the scaled digit, then the offset that puts it at (14, 14).
        var mass = 0.0, sumX = 0.0, sumY = 0.0
        for y in 0..<height {
            for x in 0..<width {
                let m = Double(digit[y * width + x])
                mass += m
                sumX += m * (Double(x) + 0.5)
                sumY += m * (Double(y) + 0.5)
            }
        }
        let byMass = framing == .mnist && mass > 0
        let centreX = byMass ? sumX / mass : Double(width) / 2, centreY = byMass ? sumY / mass : Double(height) / 2
        let offsetX = min(max(Int((Double(side) / 2 - centreX).rounded()), 0), side - width)
        let offsetY = min(max(Int((Double(side) / 2 - centreY).rounded()), 0), side - height)
        var out = [UInt8](repeating: 0, count: side * side)
        for y in 0..<height {
            for x in 0..<width {
                out[(y + offsetY) * side + x + offsetX] = UInt8((min(max(digit[y * width + x], 0), 1) * 255).rounded())
            }
        }
        return GrayImage(width: side, height: side, pixels: out)
    }

    /// Zeroes ink connected to the image's border (4-neighbour flood fill over pixels above
    /// `threshold`), unless that would leave no ink at all.
    static func removeBorderConnectedInk(_ ink: inout [Float], width: Int, height: Int, threshold: Float) {
        var marked = [Bool](repeating: false, count: ink.count)
        var stack: [Int] = []
        for x in 0..<width { stack += [x, (height - 1) * width + x] }
        for y in 0..<height { stack += [y * width, y * width + width - 1] }
        while let i = stack.popLast() {
            guard !marked[i], ink[i] >= threshold else { continue }
            marked[i] = true
            let (x, y) = (i % width, i / width)
            if x > 0 { stack.append(i - 1) }
            if x < width - 1 { stack.append(i + 1) }
            if y > 0 { stack.append(i - width) }
            if y < height - 1 { stack.append(i + width) }
        }
        let inside = ink.indices.contains { !marked[$0] && ink[$0] >= threshold }
        guard inside else { return }
        for i in ink.indices where marked[i] { ink[i] = 0 }
    }

    /// Ink per pixel in [0, 1], background 0: inverted when the image is dark ink on light paper
    /// (its median pixel, the paper, is light), then stretched from the paper's level to the
    /// strongest ink.
    static func inkLevels(_ image: GrayImage) -> [Float] {
        var histogram = [Int](repeating: 0, count: 256)
        for p in image.pixels { histogram[Int(p)] += 1 }
        var seen = 0
        let median = UInt8(histogram.firstIndex { seen += $0; return seen * 2 > image.pixels.count } ?? 0)
        let lightPaper = median >= 128
        let values = image.pixels.map { Float(lightPaper ? 255 - Int($0) : Int($0)) / 255 }
        let background = Float(lightPaper ? 255 - Int(median) : Int(median)) / 255
        let top = values.max() ?? 1
        let range = max(top - background, 1e-6)
        return values.map { max(0, ($0 - background) / range) * (top - background > 0.1 ? 1 : 0) }
    }

    /// The crop resampled to width x height: the average of the source area each output pixel
    /// covers when shrinking, bilinear when enlarging.
    static func resample(
        _ values: [Float], imageWidth: Int, x0: Int, y0: Int, cropWidth: Int, cropHeight: Int, toWidth width: Int, height: Int
    ) -> [Float] {
        let sx = Double(cropWidth) / Double(width), sy = Double(cropHeight) / Double(height)
        func source(_ x: Int, _ y: Int) -> Double {
            Double(values[(y0 + min(max(y, 0), cropHeight - 1)) * imageWidth + x0 + min(max(x, 0), cropWidth - 1)])
        }
        var out = [Float](repeating: 0, count: width * height)
        for y in 0..<height {
            for x in 0..<width {
                if sx <= 1 && sy <= 1 {
                    let fx = (Double(x) + 0.5) * sx - 0.5, fy = (Double(y) + 0.5) * sy - 0.5
                    let ix = Int(fx.rounded(.down)), iy = Int(fy.rounded(.down))
                    let tx = fx - Double(ix), ty = fy - Double(iy)
                    let top = source(ix, iy) * (1 - tx) + source(ix + 1, iy) * tx
                    let bottom = source(ix, iy + 1) * (1 - tx) + source(ix + 1, iy + 1) * tx
                    out[y * width + x] = Float(top * (1 - ty) + bottom * ty)
                    continue
                }
                // Box filter: integrate the source over [x*sx, (x+1)*sx) x [y*sy, (y+1)*sy).
                let left = Double(x) * sx, right = left + sx, upper = Double(y) * sy, lower = upper + sy
                var sum = 0.0
                for j in Int(upper)..<min(Int(lower.rounded(.up)), cropHeight) {
                    let hy = min(lower, Double(j + 1)) - max(upper, Double(j))
                    for i in Int(left)..<min(Int(right.rounded(.up)), cropWidth) {
                        let wx = min(right, Double(i + 1)) - max(left, Double(i))
                        sum += source(i, j) * wx * hy
                    }
                }
                out[y * width + x] = Float(sum / (sx * sy))
            }
        }
        return out
    }
}
