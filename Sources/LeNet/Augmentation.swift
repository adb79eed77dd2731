import Datasets
import Foundation
import Imaging
import Kernels

/// Random distortions of training images, never of validation or test images: an affine
/// transform (rotation, scale, shear, shift), Simard et al.'s (2003) elastic distortion, a
/// thicker or thinner stroke, and blur, resampled bilinearly on the padded 32x32 input.
///
/// Each image's distortion is drawn from (seed, epoch, position in the epoch) alone, so a run is
/// bit-identical on resume and whatever the number of threads.
public struct Augmentation: Sendable, Equatable, Codable {
    /// Largest rotation either way, in degrees.
    public var rotation: Float
    /// Largest relative change of size: the scale is drawn from [1 - scale, 1 + scale].
    public var scale: Float
    /// Largest horizontal shear either way (x moves by shear times y).
    public var shear: Float
    /// Largest shift along each axis, in pixels.
    public var shift: Float
    /// Elastic distortion: a field of uniform random displacements smoothed by a Gaussian of
    /// `elasticSigma` pixels and scaled by up to `elasticAlpha` (Simard et al.: 34 and 4); 0 for none.
    public var elasticAlpha: Float
    public var elasticSigma: Float
    /// Largest stroke change either way: the fraction of a 3x3 dilation (thicker) or erosion
    /// (thinner) blended in.
    public var thickness: Float
    /// Largest Gaussian blur, its sigma in pixels.
    public var blur: Float

    public init(rotation: Float = 0, scale: Float = 0, shear: Float = 0, shift: Float = 0, elasticAlpha: Float = 0,
                elasticSigma: Float = 4, thickness: Float = 0, blur: Float = 0) {
        (self.rotation, self.scale, self.shear, self.shift) = (rotation, scale, shear, shift)
        (self.elasticAlpha, self.elasticSigma, self.thickness, self.blur) = (elasticAlpha, elasticSigma, thickness, blur)
    }

    /// Distortions a person still reads as the same digit (see docs/images/augmentation.png).
    /// (Stronger stroke changes and blur, 0.6 and 0.8, cost 60 epochs of it 0.05 points.)
    public static let standard = Augmentation(
        rotation: 12, scale: 0.12, shear: 0.2, shift: 2, elasticAlpha: 34, elasticSigma: 4, thickness: 0.3, blur: 0.5)

    /// A smaller affine transform alone (rotation, scale, shift): what the `best` preset trains
    /// on. LeNet-5 has too few weights to gain from learning `standard`'s harder digits in 30
    /// epochs (docs/results.md).
    public static let light = Augmentation(rotation: 10, scale: 0.1, shift: 2)

    /// The named sets `init(parsing:)` starts from.
    public static let named: [(name: String, augmentation: Augmentation)] = [("standard", .standard), ("light", .light)]

    // MARK: Text form

    private static var keys: [(name: String, value: WritableKeyPath<Augmentation, Float>, range: ClosedRange<Float>)] {
        [
            ("rotate", \.rotation, 0...180), ("scale", \.scale, 0...0.9), ("shear", \.shear, 0...2), ("shift", \.shift, 0...16),
            ("elastic", \.elasticAlpha, 0...200), ("sigma", \.elasticSigma, 1...16), ("thickness", \.thickness, 0...1),
            ("blur", \.blur, 0...4),
        ]
    }

    /// The first parameter outside the range `init(parsing:)` accepts, as a message; nil when
    /// all are within (an augmentation decoded from JSON has been through no parser).
    public var problem: String? {
        Self.keys.first { !$0.range.contains(self[keyPath: $0.value]) }.map { key in
            "\(key.name) must be a number from \(key.range.lowerBound) to \(key.range.upperBound), got \(self[keyPath: key.value])"
        }
    }

    /// Every parameter as `name=value`, comma-separated: what checkpoints record.
    public var token: String {
        Self.keys.map { "\($0.name)=\(self[keyPath: $0.value])" }.joined(separator: ",")
    }

    /// Its name when it is one of `named` (`light`), else its `token`: the shortest text
    /// `init(parsing:)` reads back as it.
    public var spec: String {
        Self.named.first { $0.augmentation == self }?.name ?? token
    }

    /// `standard` or `light`, or `name=value` pairs (rotate, scale, shear, shift, elastic, sigma,
    /// thickness, blur) on top of one of those (after `standard,` or `light,`) or of no
    /// distortion at all.
    /// - Throws: a message naming what cannot be read.
    public init(parsing text: String) throws(AugmentationError) {
        var parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        self = Augmentation()
        if let first = parts.first, let set = Self.named.first(where: { $0.name == first }) {
            self = set.augmentation
            parts.removeFirst()
        }
        for part in parts {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, let key = Self.keys.first(where: { $0.name == pair[0] }) else {
                throw AugmentationError(message: "'\(part)' is not one of \(Self.keys.map { $0.name + "=" }.joined(separator: ", "))")
            }
            guard let value = Float(pair[1]), key.range.contains(value) else {
                throw AugmentationError(message: "\(key.name) must be a number from \(key.range.lowerBound) to \(key.range.upperBound), got '\(pair[1])'")
            }
            self[keyPath: key.value] = value
        }
    }

    // MARK: Drawing and applying

    /// The generator of the image at `position` of epoch `epoch` (0-based) of a run seeded `seed`.
    public static func generator(seed: UInt64, epoch: Int, position: Int) -> SplitMix64 {
        var mixer = SplitMix64(seed: seed ^ 0x5A17_A06E_D15C_0A7E)
        mixer = SplitMix64(seed: mixer.next() ^ UInt64(epoch))
        return SplitMix64(seed: mixer.next() ^ UInt64(position))
    }

    /// One image's distortion, drawn within the augmentation's ranges.
    public struct Draw: Sendable, Equatable {
        /// Radians, clockwise as the image is seen.
        public var angle: Float = 0
        public var scale: Float = 1
        public var shear: Float = 0
        public var shiftX: Float = 0
        public var shiftY: Float = 0
        /// The elastic field's scale (its shape is drawn as it is applied); 0 for none.
        public var elasticAlpha: Float = 0
        /// Above 0 thicker, below 0 thinner (the fraction of a dilation or erosion blended in).
        public var stroke: Float = 0
        public var blur: Float = 0

        public init() {}
    }

    /// Draws one image's distortion.
    public func draw(_ random: inout SplitMix64) -> Draw {
        func uniform(_ limit: Float) -> Float { limit * (2 * random.nextUnitFloat() - 1) }
        var d = Draw()
        d.angle = uniform(rotation) * .pi / 180
        d.scale = 1 + uniform(scale)
        d.shear = uniform(shear)
        (d.shiftX, d.shiftY) = (uniform(shift), uniform(shift))
        d.elasticAlpha = elasticAlpha * random.nextUnitFloat()
        d.stroke = uniform(thickness)
        d.blur = blur * random.nextUnitFloat()
        return d
    }

    /// `image` (`LeNet5.imageSide` square) distorted by `draw`, as the 32x32 picture the network
    /// would see before normalisation: for looking at, not for training.
    public func picture(of image: GrayImage, _ draw: Draw, random: inout SplitMix64) -> GrayImage {
        precondition(image.width == LeNet5.imageSide && image.height == LeNet5.imageSide)
        let side = LeNet5.inputSide
        var plane = [Float](repeating: 0, count: side * side)
        // Mean 0 and standard deviation 1/255 leave each value its intensity.
        image.pixels.withUnsafeBufferPointer { p in
            plane.withUnsafeMutableBufferPointer {
                apply(draw, to: p.baseAddress!, into: $0.baseAddress!, normalization: Normalization(mean: 0, standardDeviation: 1.0 / 255), random: &random)
            }
        }
        return GrayImage(width: side, height: side, pixels: plane.map { UInt8(min(max($0, 0), 255).rounded()) })
    }

    /// Writes `pixels` (an image `LeNet5.imageSide` square), distorted by draws from `random`,
    /// into a normalised 32x32 input plane.
    public func apply(
        to pixels: UnsafePointer<UInt8>, into plane: UnsafeMutablePointer<Float>, normalization: Normalization,
        random: inout SplitMix64
    ) {
        apply(draw(&random), to: pixels, into: plane, normalization: normalization, random: &random)
    }

    /// Writes `pixels` distorted by `draw` into a normalised 32x32 input plane; `random` shapes
    /// the elastic field, if any.
    public func apply(
        _ draw: Draw, to pixels: UnsafePointer<UInt8>, into plane: UnsafeMutablePointer<Float>, normalization: Normalization,
        random: inout SplitMix64
    ) {
        let (side, image, padding) = (LeNet5.inputSide, LeNet5.imageSide, LeNet5.padding)
        // The inverse map, output -> source, about the plane's centre: (R Sh S)^-1 = S^-1 Sh^-1 R^-1,
        // with R^-1 = [c s; -s c] (y points down, so a positive angle turns the image clockwise),
        // Sh^-1 = [1 -shear; 0 1], S^-1 = 1/scale.
        let (c, s) = (cos(draw.angle), sin(draw.angle))
        let a = (c + draw.shear * s) / draw.scale, b = (s - draw.shear * c) / draw.scale
        let d = -s / draw.scale, e = c / draw.scale
        let (dx, dy) = (draw.shiftX, draw.shiftY)
        let centre = Float(side - 1) / 2
        let (alpha, stroke, sigma) = (draw.elasticAlpha, draw.stroke, draw.blur)

        // The source with a border of zeros one pixel wide on the left and top, two on the right
        // and bottom, so bilinear reads need no bounds checks.
        let padded = image + 3
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * side * side + padded * padded + 48) { scratch in
            let field = scratch.baseAddress!, values = field + 2 * side * side, spare = field + 3 * side * side
            let source = field + 4 * side * side, lanesOut = source + padded * padded
            source.update(repeating: 0, count: padded * padded)
            byteValues.withUnsafeBufferPointer { value in
                for y in 0..<image {
                    for x in 0..<image { source[(y + 1) * padded + x + 1] = value[Int(pixels[y * image + x])] }
                }
            }
            if alpha > 0 {
                elasticField(into: field, side: side, alpha: alpha, random: &random)
            } else {
                field.update(repeating: 0, count: 2 * side * side)
            }
            // Sixteen output pixels at a time; the four reads of each are the only scalar work.
            let limit = SIMD16<Float>(repeating: Float(image)), lowest = SIMD16<Float>(repeating: -1)
            let lanes = SIMD16<Float>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
            let shift = centre - Float(padding)
            for y in 0..<side {
                let v = Float(y) - centre - dy
                for half in stride(from: 0, to: side, by: 16) {
                    let i = y * side + half
                    let u = lanes + (Float(half) - centre - dx)
                    let fieldX = UnsafeRawPointer(field + i).loadUnaligned(as: SIMD16<Float>.self)
                    let fieldY = UnsafeRawPointer(field + side * side + i).loadUnaligned(as: SIMD16<Float>.self)
                    // Source position in the 28x28 image; beyond its border there is only zero.
                    var sx = a * u + (b * v + shift) + fieldX
                    var sy = d * u + (e * v + shift) + fieldY
                    sx.replace(with: lowest, where: .!(sx .>= lowest))
                    sx.replace(with: limit, where: sx .> limit)
                    sy.replace(with: lowest, where: .!(sy .>= lowest))
                    sy.replace(with: limit, where: sy .> limit)
                    // A pixel that reads from beyond the image's border (clamped to -1 or 28 on
                    // either axis) is exactly 0: its weight towards the image is 0.
                    let outside = (sx .== lowest) .| (sx .== limit) .| (sy .== lowest) .| (sy .== limit)
                    if all(outside) {
                        UnsafeMutableRawPointer(values + i).storeBytes(of: SIMD16<Float>(), as: SIMD16<Float>.self)
                        continue
                    }
                    let (fx, fy) = (sx.rounded(.down), sy.rounded(.down))
                    let (tx, ty) = (sx - fx, sy - fy)
                    // Where each pixel reads, and its weights: stored once, then read back per
                    // pixel (cheaper than inserting sixteen lanes one by one). The index is an
                    // exact small float; adding 2^23 puts it in the low bits of the float's
                    // pattern, an integer with no conversion (and no range check) per lane.
                    let index = (fy + 1) * Float(padded) + fx + 1 + 0x1p23
                    UnsafeMutableRawPointer(lanesOut).storeBytes(of: index, as: SIMD16<Float>.self)
                    UnsafeMutableRawPointer(lanesOut + 16).storeBytes(of: tx, as: SIMD16<Float>.self)
                    UnsafeMutableRawPointer(lanesOut + 32).storeBytes(of: ty, as: SIMD16<Float>.self)
                    for lane in 0..<16 {
                        let p = source + Int(lanesOut[lane].bitPattern & 0x7F_FFFF)
                        let (tx, ty) = (lanesOut[16 + lane], lanesOut[32 + lane])
                        let top = p[0] + tx * (p[1] - p[0]), bottom = p[padded] + tx * (p[padded + 1] - p[padded])
                        values[i + lane] = top + ty * (bottom - top)
                    }
                }
            }
            if stroke != 0 { changeStroke(values, by: stroke, scratch: spare) }
            if sigma > 0.05 { blurPlane(values, taps: gaussianTaps(sigma: sigma), scratch: spare) }
            for i in 0..<side * side { plane[i] = normalization.value(values[i]) }
        }
    }
}

/// An augmentation option that cannot be read.
public struct AugmentationError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// The value of a byte image at (x, y), bilinear between pixel centres, 0 outside.
@inline(__always)
private func bilinear(_ pixels: UnsafePointer<UInt8>, side: Int, x: Float, y: Float) -> Float {
    let (fx, fy) = (x.rounded(.down), y.rounded(.down))
    let (x0, y0) = (Int(max(min(fx, 1e6), -1e6)), Int(max(min(fy, 1e6), -1e6)))
    let (tx, ty) = (x - fx, y - fy)
    func at(_ x: Int, _ y: Int) -> Float {
        x >= 0 && x < side && y >= 0 && y < side ? Float(pixels[y * side + x]) : 0
    }
    let top = at(x0, y0) + tx * (at(x0 + 1, y0) - at(x0, y0))
    let bottom = at(x0, y0 + 1) + tx * (at(x0 + 1, y0 + 1) - at(x0, y0 + 1))
    return top + ty * (bottom - top)
}

/// Simard's displacement field for a `side`-square plane, x then y displacements: uniform noise
/// in [-1, 1] smoothed by a Gaussian of `sigma` and scaled by `alpha`. Computed on control points
/// `sigma` apart and interpolated bilinearly (the smoothed field holds nothing finer), with noise
/// scaled so the field has the variance of the per-pixel original.
extension Augmentation {
    fileprivate func elasticField(into field: UnsafeMutablePointer<Float>, side: Int, alpha: Float, random: inout SplitMix64) {
        let spacing = max(1, elasticSigma)
        let nodes = Int((Float(side) / spacing).rounded(.up)) + 1
        let margin = 1
        let grid = nodes + 2 * margin
        // Control-point noise of 1/spacing^2 times the per-pixel variance gives, once smoothed by
        // a Gaussian `spacing` times narrower, the per-pixel field's variance.
        let amplitude = 1 / spacing
        let taps = gaussianTaps(sigma: elasticSigma / spacing)
        // The noise sits inside a border of two zeros, so the 5-tap blur needs no bounds checks.
        let wide = grid + 4
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * wide * wide + grid * grid + grid * side + side) { buffer in
            let noise = buffer.baseAddress!, across = noise + wide * wide, smooth = across + wide * wide
            let rows = smooth + grid * grid
            noise.update(repeating: 0, count: 2 * wide * wide)
            // Where each column falls between control points: the left one, and the weight of the right.
            withUnsafeTemporaryAllocation(of: Int.self, capacity: side) { columnBuffer in
                let columns = columnBuffer.baseAddress!, weights = rows + grid * side
                for x in 0..<side {
                    let g = Float(x) / spacing + Float(margin)
                    (columns[x], weights[x]) = (Int(g), g - Float(Int(g)))
                }
                let (t0, t1, t2) = (taps[2], taps[1], taps[0])
                for component in 0..<2 {
                    // Two 24-bit uniforms from each draw.
                    let scale = 2 * amplitude / Float(1 << 24)
                    var bits: UInt64 = 0
                    for r in 0..<grid {
                        for c in 0..<grid {
                            let i = r * grid + c
                            if i & 1 == 0 { bits = random.next() }
                            let value = scale * Float(i & 1 == 0 ? bits >> 40 : (bits >> 16) & 0xFF_FFFF) - amplitude
                            noise[(r + 2) * wide + c + 2] = value
                        }
                    }
                    // Along rows (every padded row, so the columns pass finds its zeros), then columns.
                    for r in 0..<wide {
                        for c in 2..<grid + 2 {
                            let p = noise + r * wide + c
                            across[r * wide + c] = t0 * p[0] + t1 * (p[-1] + p[1]) + t2 * (p[-2] + p[2])
                        }
                    }
                    for r in 0..<grid {
                        for c in 0..<grid {
                            let p = across + (r + 2) * wide + c + 2
                            smooth[r * grid + c] = t0 * p[0] + t1 * (p[-wide] + p[wide]) + t2 * (p[-2 * wide] + p[2 * wide])
                        }
                    }
                    // Interpolated along each row of control points, then between rows, 16 pixels at a time.
                    for r in 0..<grid {
                        let node = smooth + r * grid, row = rows + r * side
                        for x in 0..<side {
                            let j = columns[x], t = weights[x]
                            row[x] = node[j] + t * (node[j + 1] - node[j])
                        }
                    }
                    let out = field + component * side * side
                    for y in 0..<side {
                        let gy = Float(y) / spacing + Float(margin)
                        let y0 = Int(gy), t = alpha * (gy - Float(y0)), base = alpha - t
                        let (above, below) = (rows + y0 * side, rows + (y0 + 1) * side)
                        for x in stride(from: 0, to: side, by: 16) {
                            let a = UnsafeRawPointer(above + x).loadUnaligned(as: SIMD16<Float>.self)
                            let b = UnsafeRawPointer(below + x).loadUnaligned(as: SIMD16<Float>.self)
                            UnsafeMutableRawPointer(out + y * side + x).storeBytes(of: base * a + t * b, as: SIMD16<Float>.self)
                        }
                    }
                }
            }
        }
    }
}

/// Each byte's value as a Float (a lookup is cheaper than a conversion here).
private let byteValues = (0..<256).map(Float.init)

/// Normalised Gaussian weights at -2...2.
private func gaussianTaps(sigma: Float) -> SIMD8<Float> {
    var taps = SIMD8<Float>()
    for k in -2...2 { taps[k + 2] = exp(-Float(k * k) / (2 * sigma * sigma)) }
    return taps / taps.sum()
}

@inline(__always)
private func larger(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { a.replacing(with: b, where: b .> a) }

@inline(__always)
private func smaller(_ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> { a.replacing(with: b, where: b .< a) }

/// One row of the input plane (LeNet-5's is 32 wide, as these helpers assume) as two vectors.
private typealias Row = (SIMD16<Float>, SIMD16<Float>)

private func row(_ p: UnsafePointer<Float>) -> Row {
    (UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self), UnsafeRawPointer(p + 16).loadUnaligned(as: SIMD16<Float>.self))
}

private func store(_ r: Row, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: r.0, as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(p + 16).storeBytes(of: r.1, as: SIMD16<Float>.self)
}

/// A separable filter on the 32x32 plane: `combine` folds a row (or column) position with its
/// neighbours `1...radius` away on either side, `outside` beyond the plane's edge.
@inline(__always)
private func filterPlane(
    _ values: UnsafeMutablePointer<Float>, radius: Int, outside: Float, scratch: UnsafeMutablePointer<Float>,
    _ combine: (_ centre: Row, _ offset: Int, _ before: Row, _ after: Row, _ sum: Row) -> Row, start: (Row) -> Row
) {
    let side = LeNet5.inputSide
    withUnsafeTemporaryAllocation(of: Float.self, capacity: side + 2 * radius) { line in
        let padded = line.baseAddress!
        padded.update(repeating: outside, count: side + 2 * radius)
        for y in 0..<side {
            (padded + radius).update(from: values + y * side, count: side)
            let centre = row(padded + radius)
            var sum = start(centre)
            for k in 1...radius { sum = combine(centre, k, row(padded + radius - k), row(padded + radius + k), sum) }
            store(sum, scratch + y * side)
        }
    }
    let edge = Row(SIMD16(repeating: outside), SIMD16(repeating: outside))
    for y in 0..<side {
        let centre = row(scratch + y * side)
        var sum = start(centre)
        for k in 1...radius {
            let before = y - k >= 0 ? row(scratch + (y - k) * side) : edge
            let after = y + k < side ? row(scratch + (y + k) * side) : edge
            sum = combine(centre, k, before, after, sum)
        }
        store(sum, values + y * side)
    }
}

/// Blends a 3x3 dilation (amount > 0: a thicker stroke) or erosion (amount < 0: thinner) into
/// the 32x32 `values`.
private func changeStroke(_ values: UnsafeMutablePointer<Float>, by amount: Float, scratch: UnsafeMutablePointer<Float>) {
    let side = LeNet5.inputSide
    withUnsafeTemporaryAllocation(of: Float.self, capacity: side * side) { buffer in
        let original = buffer.baseAddress!
        original.update(from: values, count: side * side)
        if amount > 0 {
            filterPlane(values, radius: 1, outside: 0, scratch: scratch, { _, _, b, a, m in
                (larger(m.0, larger(b.0, a.0)), larger(m.1, larger(b.1, a.1)))
            }, start: { $0 })
        } else {
            filterPlane(values, radius: 1, outside: .infinity, scratch: scratch, { _, _, b, a, m in
                (smaller(m.0, smaller(b.0, a.0)), smaller(m.1, smaller(b.1, a.1)))
            }, start: { $0 })
        }
        let weight = abs(amount)
        for i in 0..<side * side { values[i] = original[i] + weight * (values[i] - original[i]) }
    }
}

/// Blurs the 32x32 `values` in place with five Gaussian `taps`, zero outside.
private func blurPlane(_ values: UnsafeMutablePointer<Float>, taps: SIMD8<Float>, scratch: UnsafeMutablePointer<Float>) {
    filterPlane(values, radius: 2, outside: 0, scratch: scratch, { _, k, b, a, sum in
        let w = taps[k + 2]
        return (sum.0 + w * (b.0 + a.0), sum.1 + w * (b.1 + a.1))
    }, start: { (taps[2] * $0.0, taps[2] * $0.1) })
}

/// What distorts a training epoch's images: the augmentation, and the run's seed and epoch that
/// with each image's position draw its distortion.
public struct Distortion: Sendable {
    public let augmentation: Augmentation
    public let seed: UInt64
    public let epoch: Int

    public init(augmentation: Augmentation, seed: UInt64, epoch: Int) {
        (self.augmentation, self.seed, self.epoch) = (augmentation, seed, epoch)
    }
}
