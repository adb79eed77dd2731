import Foundation
import Imaging
import Kernels

/// Drawings that are not digits, made up at random as people make them on a drawing pad: taps,
/// dashes, scribbles, tangles, spirals, waves, hatching, grids, polygons and stars, circles with
/// marks in them, arrows, ticks, and letters no digit is written like (20 capitals, e h m r w).
/// What `DigitDetector` learns "not a digit" from. The hand-drawn set it is judged on
/// (docs/images/nondigits) was drawn apart from these, by other code.
///
/// Each is dark ink on white, `side` pixels square, strokes `side / 11.7` wide: the page's pad
/// (a 24-pixel pen on 280) at the size the page sends it.
public enum Scribbles {
    public static let side = 140
    static let penRadius: Float = 6

    /// The families of drawings, made in turn.
    public enum Kind: String, CaseIterable, Sendable {
        case taps, dash, zigzag, tangle, spiral, wave, hatching, grid, polygon, star, markedCircle, arrow, tick, letter
    }

    /// Drawing `index` of the endless sequence `seed` makes; each kind as often as the others.
    public static func drawing(_ index: Int, seed: UInt64) -> GrayImage {
        var random = SplitMix64(seed: seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        let kind = Kind.allCases[index % Kind.allCases.count]
        return render(strokes(kind, &random), tremor: 1 + 2 * random.nextUnitFloat(), random: &random)
    }

    /// The strokes of one drawing of `kind` in a unit box (0...1 both ways, y down), before it is
    /// placed on the pad.
    static func strokes(_ kind: Kind, _ random: inout SplitMix64) -> [[SIMD2<Float>]] {
        func u(_ low: Float, _ high: Float) -> Float { low + (high - low) * random.nextUnitFloat() }
        func n(_ low: Int, _ high: Int) -> Int { low + random.next(below: high - low + 1) }
        func point(_ x: Float, _ y: Float) -> SIMD2<Float> { SIMD2(x, y) }
        func polygon(_ corners: Int, radius: Float, spin: Float, step: Int = 1) -> [SIMD2<Float>] {
            (0...corners).map { k in
                let angle = spin + 2 * Float.pi * Float(k * step) / Float(corners)
                return point(0.5 + radius * sin(angle), 0.5 - radius * cos(angle))
            }
        }
        func arc(_ cx: Float, _ cy: Float, _ rx: Float, _ ry: Float, from: Float, to: Float, steps: Int = 24) -> [SIMD2<Float>] {
            (0...steps).map { k in
                let angle = from + (to - from) * Float(k) / Float(steps)
                return point(cx + rx * sin(angle), cy - ry * cos(angle))
            }
        }
        switch kind {
        case .taps:
            // One to five taps scattered: a tap alone is inked as a dot.
            return (0..<n(1, 5)).map { _ in [point(u(0, 1), u(0, 1))] }
        case .dash:
            // Flatter than a 1 is ever written.
            let angle = u(-0.6, 0.6), length = u(0.3, 1)
            return [[point(0.5 - length / 2 * cos(angle), 0.5 - length / 2 * sin(angle)), point(0.5 + length / 2 * cos(angle), 0.5 + length / 2 * sin(angle))]]
        case .zigzag:
            let turns = n(4, 12), high = u(0.2, 1)
            let upright = random.next(below: 2) == 0
            return [(0...turns).map { k in
                let along = Float(k) / Float(turns), across = k % 2 == 0 ? 0.5 - high / 2 : 0.5 + high / 2
                return upright ? point(across, along) : point(along, across)
            }]
        case .tangle:
            let (a, b, c) = (u(1, 3), u(1, 3), u(0, 6))
            return [(0..<80).map { k in
                let t = Float(k) / 4
                return point(0.5 + 0.45 * sin(a * t) * cos(0.37 * t), 0.5 + 0.45 * sin(b * t + c))
            }]
        case .spiral:
            let turns = u(1.5, 4), direction: Float = random.next(below: 2) == 0 ? 1 : -1
            return [(0...60).map { k in
                let t = Float(k) / 60, angle = direction * 2 * Float.pi * turns * t
                return point(0.5 + 0.5 * t * sin(angle), 0.5 - 0.5 * t * cos(angle))
            }]
        case .wave:
            let periods = u(1.5, 4), height = u(0.1, 0.4)
            return [(0...48).map { k in
                let t = Float(k) / 48
                return point(t, 0.5 + height * sin(2 * Float.pi * periods * t))
            }]
        case .hatching:
            let lines = n(3, 7), slant = u(-0.4, 0.4)
            return (0..<lines).map { k in
                let x = Float(k) / Float(lines - 1)
                return [point(x + slant / 2, 0), point(x - slant / 2, 1)]
            }
        case .grid:
            let across = n(2, 5), down = n(2, 5)
            return (0..<across).map { k in [point(0, Float(k) / Float(across - 1)), point(1, Float(k) / Float(across - 1))] }
                + (0..<down).map { k in [point(Float(k) / Float(down - 1), 0), point(Float(k) / Float(down - 1), 1)] }
        case .polygon:
            // Three to five corners: more, drawn by hand, is a 0.
            return [polygon(n(3, 5), radius: 0.5, spin: u(0, 2 * Float.pi))]
        case .star:
            return [polygon(5, radius: 0.5, spin: u(-0.3, 0.3), step: 2)]
        case .markedCircle:
            // A plain circle is a 0: these carry a cross, a bar, dots or a face.
            var strokes = [arc(0.5, 0.5, 0.5, 0.5, from: 0, to: 2 * Float.pi, steps: 40)]
            switch random.next(below: 4) {
            case 0: strokes += [[point(0.2, 0.2), point(0.8, 0.8)], [point(0.8, 0.2), point(0.2, 0.8)]]
            case 1: strokes += [[point(0.1, 0.5), point(0.9, 0.5)], [point(0.5, 0.1), point(0.5, 0.9)]]
            case 2: strokes += (0..<n(2, 4)).map { _ in [point(u(0.3, 0.7), u(0.3, 0.7))] }
            default: strokes += [[point(0.35, 0.38)], [point(0.65, 0.38)], arc(0.5, 0.55, 0.22, 0.15, from: 2, to: 4.3, steps: 10)]
            }
            return strokes
        case .arrow:
            return [[point(0, 0.5), point(1, 0.5)], [point(0.7, 0.2), point(1, 0.5), point(0.7, 0.8)]]
        case .tick:
            return [[point(0, u(0.4, 0.7)), point(u(0.25, 0.45), 1), point(1, 0)]]
        case .letter:
            return letter(random.next(below: letters), &random)
        }
    }

    /// How many letter shapes `letter` draws.
    static let letters = 25

    /// Letter `which` in a unit box: capitals no digit is written like, and a few small letters.
    static func letter(_ which: Int, _ random: inout SplitMix64) -> [[SIMD2<Float>]] {
        func p(_ x: Float, _ y: Float) -> SIMD2<Float> { SIMD2(x, y) }
        func arc(_ cx: Float, _ cy: Float, _ rx: Float, _ ry: Float, from: Float, to: Float, steps: Int = 16) -> [SIMD2<Float>] {
            (0...steps).map { k in
                let angle = from + (to - from) * Float(k) / Float(steps)
                return p(cx + rx * sin(angle), cy - ry * cos(angle))
            }
        }
        let pi = Float.pi
        switch which {
        case 0: return [[p(0, 1), p(0.5, 0), p(1, 1)], [p(0.25, 0.6), p(0.75, 0.6)]]  // A
        case 1: return [[p(0.2, 0), p(0.2, 1)], arc(0.2, 0.25, 0.5, 0.25, from: 0, to: pi) + arc(0.2, 0.75, 0.6, 0.25, from: 0, to: pi)]  // B
        case 2: return [[p(0.2, 0), p(0.2, 1)], arc(0.2, 0.5, 0.65, 0.5, from: 0, to: pi)]  // D
        case 3: return [[p(1, 0), p(0.1, 0), p(0.1, 1), p(1, 1)], [p(0.1, 0.5), p(0.8, 0.5)]]  // E
        case 4: return [[p(1, 0), p(0.1, 0), p(0.1, 1)], [p(0.1, 0.5), p(0.8, 0.5)]]  // F
        case 5: return [arc(0.5, 0.5, 0.5, 0.5, from: 1.2, to: 2 * pi - 0.6) + [p(0.55, 0.55), p(0.95, 0.55)]]  // G
        case 6: return [[p(0, 0), p(0, 1)], [p(1, 0), p(1, 1)], [p(0, 0.5), p(1, 0.5)]]  // H
        case 7: return [[p(0.2, 0), p(1, 0)], [p(0.7, 0), p(0.7, 0.75)] + arc(0.4, 0.75, 0.3, 0.25, from: pi / 2, to: 3 * pi / 2)]  // J
        case 8: return [[p(0.1, 0), p(0.1, 1)], [p(0.9, 0), p(0.1, 0.55), p(0.9, 1)]]  // K
        case 9: return [[p(0.2, 0), p(0.2, 1), p(0.9, 1)]]  // L
        case 10: return [[p(0, 1), p(0.1, 0), p(0.5, 0.65), p(0.9, 0), p(1, 1)]]  // M
        case 11: return [[p(0, 1), p(0, 0), p(1, 1), p(1, 0)]]  // N
        case 12: return [[p(0.2, 1), p(0.2, 0)] + arc(0.2, 0.28, 0.6, 0.28, from: 0, to: pi)]  // P
        case 13: return [[p(0.2, 1), p(0.2, 0)] + arc(0.2, 0.28, 0.6, 0.28, from: 0, to: pi) + [p(0.9, 1)]]  // R
        case 14: return [[p(0, 0), p(1, 0)], [p(0.5, 0), p(0.5, 1)]]  // T
        case 15: return [[p(0.1, 0), p(0.1, 0.6)] + arc(0.5, 0.6, 0.4, 0.4, from: 3 * pi / 2, to: pi / 2) + [p(0.9, 0)]]  // U
        case 16: return [[p(0, 0), p(0.5, 1), p(1, 0)]]  // V
        case 17: return [[p(0, 0), p(0.25, 1), p(0.5, 0.35), p(0.75, 1), p(1, 0)]]  // W
        case 18: return [[p(0, 0), p(1, 1)], [p(1, 0), p(0, 1)]]  // X
        case 19: return [[p(0, 0), p(0.5, 0.5), p(1, 0)], [p(0.5, 0.5), p(0.5, 1)]]  // Y
        case 20: return [[p(0.05, 0.55), p(0.95, 0.55)] + arc(0.5, 0.55, 0.45, 0.45, from: pi / 2, to: -1.3 * pi)]  // e
        case 21: return [[p(0, 1), p(0, 0.3)] + arc(0.25, 0.55, 0.25, 0.25, from: -pi / 2, to: pi / 2) + [p(0.5, 1)],
                         [p(0.5, 0.55)] + arc(0.75, 0.55, 0.25, 0.25, from: -pi / 2, to: pi / 2) + [p(1, 1)]]  // m
        case 22: return [[p(0, 0.3), p(0.25, 1), p(0.5, 0.4), p(0.75, 1), p(1, 0.3)]]  // w
        case 23: return [[p(0.1, 0), p(0.1, 1)], [p(0.1, 0.6)] + arc(0.45, 0.65, 0.35, 0.3, from: -pi / 2, to: pi / 2) + [p(0.8, 1)]]  // h
        default: return [[p(0.2, 1), p(0.2, 0.3)], [p(0.2, 0.55), p(0.5, 0.3), p(0.9, 0.35)]]  // r
        }
    }

    /// Places the strokes on the pad at a random size, aspect, slant and spot, moves each point
    /// by up to `tremor` pixels, and inks them with the pad's round pen.
    static func render(_ strokes: [[SIMD2<Float>]], tremor: Float, random: inout SplitMix64) -> GrayImage {
        let size = Float(side)
        let scale = (0.3 + 0.6 * random.nextUnitFloat()) * size
        let aspect = 0.7 + 0.6 * random.nextUnitFloat()
        let slant = 0.4 * (2 * random.nextUnitFloat() - 1)
        let width = scale * aspect, height = scale
        let x0 = penRadius + (size - 2 * penRadius - width) * random.nextUnitFloat()
        let y0 = penRadius + (size - 2 * penRadius - height) * random.nextUnitFloat()
        var ink = [Float](repeating: 0, count: side * side)
        for stroke in strokes {
            let points = stroke.map { p in
                let shaken = SIMD2(tremor * (2 * random.nextUnitFloat() - 1), tremor * (2 * random.nextUnitFloat() - 1))
                return SIMD2(x0 + width * (p.x + slant * (0.5 - p.y)), y0 + height * p.y) + shaken
            }
            for k in points.indices { inkSegment(&ink, from: points[k], to: points[min(k + 1, points.count - 1)]) }
        }
        return GrayImage(width: side, height: side, pixels: ink.map { UInt8(255 - (min($0, 1) * 255).rounded()) })
    }

    /// Ink within the pen's radius of the segment, with a pixel of soft edge.
    static func inkSegment(_ ink: inout [Float], from a: SIMD2<Float>, to b: SIMD2<Float>) {
        let reach = penRadius + 1
        let low = SIMD2(max(0, Int(min(a.x, b.x) - reach)), max(0, Int(min(a.y, b.y) - reach)))
        let high = SIMD2(min(side - 1, Int(max(a.x, b.x) + reach)), min(side - 1, Int(max(a.y, b.y) + reach)))
        guard low.x <= high.x, low.y <= high.y else { return }
        let direction = b - a
        let length2 = max((direction * direction).sum(), 1e-6)
        for y in low.y...high.y {
            for x in low.x...high.x {
                let p = SIMD2(Float(x) + 0.5, Float(y) + 0.5)
                let t = min(max(((p - a) * direction).sum() / length2, 0), 1)
                let d = p - (a + t * direction)
                let coverage = min(max(penRadius + 0.5 - (d * d).sum().squareRoot(), 0), 1)
                ink[y * side + x] = max(ink[y * side + x], coverage)
            }
        }
    }
}
