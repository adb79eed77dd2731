import CZlib
import Formats
import Foundation
import Imaging

/// An sRGB color.
public struct Color: Sendable, Equatable {
    public var r, g, b: Double

    public init(_ r: Double, _ g: Double, _ b: Double) {
        (self.r, self.g, self.b) = (r, g, b)
    }

    public init(hex: UInt32) {
        self.init(Double(hex >> 16 & 0xFF) / 255, Double(hex >> 8 & 0xFF) / 255, Double(hex & 0xFF) / 255)
    }

    var svg: String { String(format: "#%02x%02x%02x", Int(r * 255 + 0.5), Int(g * 255 + 0.5), Int(b * 255 + 0.5)) }

    public static let white = Color(1, 1, 1)
    public static let text = Color(hex: 0x222222), axis = Color(hex: 0x444444), grid = Color(hex: 0xE3E3E3)
    /// Colour-blind-safe series colours (Okabe and Ito).
    public static let blue = Color(hex: 0x0072B2), orange = Color(hex: 0xE69F00), green = Color(hex: 0x009E73)
}

public enum TextAnchor: Sendable { case start, middle, end }

/// What a chart draws on: a PNG canvas and an SVG document both implement it, so every chart is
/// laid out once and comes out the same in both formats.
public protocol Drawing {
    func rectangle(x: Double, y: Double, width: Double, height: Double, fill: Color)
    func line(from: (Double, Double), to: (Double, Double), color: Color, width: Double)
    func circle(x: Double, y: Double, radius: Double, fill: Color)
    /// `y` is the top of the line of text; `size` is in pixels.
    func text(_ string: String, x: Double, y: Double, size: Int, color: Color, anchor: TextAnchor, bold: Bool, rotated: Bool)
    /// A gray image, `scale` pixels per image pixel, top-left at (x, y).
    func image(_ image: GrayImage, x: Double, y: Double, scale: Int)
}

extension Drawing {
    func text(_ string: String, x: Double, y: Double, size: Int = 13, color: Color = .text, anchor: TextAnchor = .start, bold: Bool = false) {
        text(string, x: x, y: y, size: size, color: color, anchor: anchor, bold: bold, rotated: false)
    }
}

// MARK: - Raster

/// Glyph coverage of one font style and size, from the atlas in `FontData`.
struct Font {
    struct Glyph {
        let advance: Double
        let x, y, width, height: Int
        let coverage: ArraySlice<UInt8>
    }

    let ascent: Int
    let glyphs: [Glyph]

    /// Sizes are those of `scripts/make_font.py`; others fall back to the nearest.
    static func named(bold: Bool, size: Int) -> Font {
        let sizes = [11, 13, 16]
        let nearest = sizes.min { abs($0 - size) < abs($1 - size) } ?? 13
        let key = "\(bold ? "bold" : "regular")-\(nearest)"
        if let font = cache.withLock({ $0[key] }) { return font }
        let font = Font(base64: FontData.atlases[key]?.base64 ?? "")
        cache.withLock { $0[key] = font }
        return font
    }

    private static let cache = Mutex<[String: Font]>([:])

    init(base64: String) {
        var bytes = [UInt8](repeating: 0, count: 1 << 20)
        var length = uLong(bytes.count)
        let source = [UInt8](Data(base64Encoded: base64) ?? Data())
        let status = uncompress(&bytes, &length, source, uLong(source.count))
        bytes = status == Z_OK ? Array(bytes.prefix(Int(length))) : []
        func int16(_ at: Int) -> Int { at + 1 < bytes.count ? Int(Int16(bitPattern: UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8)) : 0 }
        ascent = int16(0)
        var glyphs: [Glyph] = []
        var at = 4
        while at + 10 <= bytes.count && glyphs.count < 95 {
            let (width, height) = (int16(at + 6), int16(at + 8))
            let end = min(at + 10 + width * height, bytes.count)
            glyphs.append(Glyph(advance: Double(int16(at)) / 16, x: int16(at + 2), y: int16(at + 4), width: width, height: height,
                                coverage: bytes[at + 10..<end]))
            at = end
        }
        self.glyphs = glyphs
    }

    func glyph(_ c: Character) -> Glyph? {
        guard let ascii = c.asciiValue, ascii >= 32, ascii < 127, Int(ascii) - 32 < glyphs.count else {
            return glyphs.count > 31 ? glyphs[31] : nil  // "?" for anything outside ASCII
        }
        return glyphs[Int(ascii) - 32]
    }

    func width(_ s: String) -> Double { s.reduce(0) { $0 + (glyph($1)?.advance ?? 0) } }
}

/// A lock-protected value (Swift's `Mutex` needs newer OS versions than this package targets).
final class Mutex<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

/// An RGB raster with anti-aliased shapes and text, written as PNG.
public final class Canvas: Drawing {
    public let width: Int
    public let height: Int
    private var pixels: [Double]

    public init(width: Int, height: Int, background: Color = .white) {
        self.width = width
        self.height = height
        pixels = [Double](repeating: 0, count: width * height * 3)
        for i in 0..<width * height { (pixels[3 * i], pixels[3 * i + 1], pixels[3 * i + 2]) = (background.r, background.g, background.b) }
    }

    /// Blends `color` into pixel (x, y) with coverage `alpha`.
    /// The pixel indices from `low` (rounded down) up to `end` (exclusive) that lie on a side of
    /// `size` pixels: empty for coordinates that are not finite, so nothing traps on them.
    private func pixels(_ low: Double, _ end: Double, size: Int) -> Range<Int> {
        guard low.isFinite, end.isFinite else { return 0..<0 }
        let first = Int(min(max(low.rounded(.down), 0), Double(size)))
        let last = Int(min(max(end, 0), Double(size)))
        return first..<max(first, last)
    }

    private func blend(_ x: Int, _ y: Int, _ color: Color, _ alpha: Double) {
        guard x >= 0, y >= 0, x < width, y < height, alpha > 0 else { return }
        let a = min(alpha, 1), i = 3 * (y * width + x)
        pixels[i] += (color.r - pixels[i]) * a
        pixels[i + 1] += (color.g - pixels[i + 1]) * a
        pixels[i + 2] += (color.b - pixels[i + 2]) * a
    }

    public func rectangle(x: Double, y: Double, width w: Double, height h: Double, fill: Color) {
        for py in pixels(y, (y + h).rounded(.up), size: height) {
            let cy = min(Double(py + 1), y + h) - max(Double(py), y)
            for px in pixels(x, (x + w).rounded(.up), size: width) {
                let cx = min(Double(px + 1), x + w) - max(Double(px), x)
                blend(px, py, fill, cx * cy)
            }
        }
    }

    /// Coverage from the distance of each pixel centre to the segment.
    public func line(from a: (Double, Double), to b: (Double, Double), color: Color, width w: Double) {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1)
        let length2 = max(dx * dx + dy * dy, 1e-12)
        let pad = w / 2 + 1
        for py in pixels(min(a.1, b.1) - pad, (max(a.1, b.1) + pad).rounded(.down) + 1, size: height) {
            for px in pixels(min(a.0, b.0) - pad, (max(a.0, b.0) + pad).rounded(.down) + 1, size: width) {
                let (cx, cy) = (Double(px) + 0.5, Double(py) + 0.5)
                let t = min(max(((cx - a.0) * dx + (cy - a.1) * dy) / length2, 0), 1)
                let (ex, ey) = (cx - a.0 - t * dx, cy - a.1 - t * dy)
                blend(px, py, color, w / 2 + 0.5 - (ex * ex + ey * ey).squareRoot())
            }
        }
    }

    public func circle(x: Double, y: Double, radius: Double, fill: Color) {
        for py in pixels(y - radius - 1, (y + radius + 1).rounded(.down) + 1, size: height) {
            for px in pixels(x - radius - 1, (x + radius + 1).rounded(.down) + 1, size: width) {
                let (ex, ey) = (Double(px) + 0.5 - x, Double(py) + 0.5 - y)
                blend(px, py, fill, radius + 0.5 - (ex * ex + ey * ey).squareRoot())
            }
        }
    }

    public func text(_ string: String, x: Double, y: Double, size: Int, color: Color, anchor: TextAnchor, bold: Bool, rotated: Bool) {
        // Off any canvas: nothing to draw, and no coordinate that could not become an Int.
        guard abs(x) < 1e6, abs(y) < 1e6 else { return }
        let font = Font.named(bold: bold, size: size)
        let total = font.width(string)
        let start = anchor == .start ? 0 : anchor == .middle ? total / 2 : total
        var pen = 0.0
        for c in string {
            guard let g = font.glyph(c) else { continue }
            let left = Int((pen - start).rounded()) + g.x
            for gy in 0..<g.height {
                for gx in 0..<g.width {
                    let coverage = Double(g.coverage[g.coverage.startIndex + gy * g.width + gx]) / 255
                    if rotated {
                        // 90 degrees counter-clockwise about (x, y): text reads bottom to top.
                        blend(Int(x.rounded()) + gy + g.y, Int(y.rounded()) - left - gx, color, coverage)
                    } else {
                        blend(Int(x.rounded()) + left + gx, Int(y.rounded()) + g.y + gy, color, coverage)
                    }
                }
            }
            pen += g.advance
        }
    }

    public func image(_ image: GrayImage, x: Double, y: Double, scale: Int) {
        guard abs(x) < 1e6, abs(y) < 1e6 else { return }
        for iy in 0..<image.height {
            for ix in 0..<image.width {
                let v = Double(image[ix, iy]) / 255
                for sy in 0..<scale {
                    for sx in 0..<scale { blend(Int(x) + ix * scale + sx, Int(y) + iy * scale + sy, Color(v, v, v), 1) }
                }
            }
        }
    }

    /// The canvas as 8-bit RGB.
    var rgb: [UInt8] { pixels.map { UInt8((min(max($0, 0), 1) * 255).rounded()) } }

    public func pngData() throws(ImageEncodingError) -> Data {
        try encodePNG(rgb, width: width, height: height, channels: 3)
    }

    public func writePNG(to url: URL) throws(FileWriteError) {
        try Imaging.writePNG(rgb, width: width, height: height, channels: 3, to: url)
    }
}

// MARK: - SVG

/// An SVG document built from the same calls as `Canvas`.
public final class SVGDocument: Drawing {
    public let width: Int
    public let height: Int
    private var elements: [String] = []

    public init(width: Int, height: Int, background: Color = .white) {
        self.width = width
        self.height = height
        elements.append("<rect width=\"\(width)\" height=\"\(height)\" fill=\"\(background.svg)\"/>")
    }

    private func n(_ v: Double) -> String { String(format: "%.1f", v) }

    public func rectangle(x: Double, y: Double, width w: Double, height h: Double, fill: Color) {
        elements.append("<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(w))\" height=\"\(n(h))\" fill=\"\(fill.svg)\"/>")
    }

    public func line(from a: (Double, Double), to b: (Double, Double), color: Color, width w: Double) {
        elements.append("<line x1=\"\(n(a.0))\" y1=\"\(n(a.1))\" x2=\"\(n(b.0))\" y2=\"\(n(b.1))\" stroke=\"\(color.svg)\" stroke-width=\"\(n(w))\" stroke-linecap=\"round\"/>")
    }

    public func circle(x: Double, y: Double, radius: Double, fill: Color) {
        elements.append("<circle cx=\"\(n(x))\" cy=\"\(n(y))\" r=\"\(n(radius))\" fill=\"\(fill.svg)\"/>")
    }

    public func text(_ string: String, x: Double, y: Double, size: Int, color: Color, anchor: TextAnchor, bold: Bool, rotated: Bool) {
        // XML's three special characters escaped, and the control characters it cannot hold at
        // all replaced.
        let printable = String(String.UnicodeScalarView(string.unicodeScalars.map { $0.properties.generalCategory == .control ? "\u{FFFD}" : $0 }))
        let escaped = printable.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        let anchorName = anchor == .start ? "start" : anchor == .middle ? "middle" : "end"
        // SVG places text by its baseline; the ascent of DejaVu Sans is about 0.93 em.
        let ascent = Double(Font.named(bold: bold, size: size).ascent)
        let transform = rotated ? " transform=\"rotate(-90 \(n(x)) \(n(y)))\"" : ""
        elements.append("<text x=\"\(n(x))\" y=\"\(n(y + ascent))\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"\(size)\" fill=\"\(color.svg)\" text-anchor=\"\(anchorName)\"\(bold ? " font-weight=\"bold\"" : "")\(transform)>\(escaped)</text>")
    }

    public func image(_ image: GrayImage, x: Double, y: Double, scale: Int) {
        for iy in 0..<image.height {
            for ix in 0..<image.width where image[ix, iy] > 0 {
                let v = Double(image[ix, iy]) / 255
                rectangle(x: x + Double(ix * scale), y: y + Double(iy * scale), width: Double(scale), height: Double(scale), fill: Color(v, v, v))
            }
        }
    }

    public var text: String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\">\n"
            + elements.joined(separator: "\n") + "\n</svg>\n"
    }

    public func write(to url: URL) throws(FileWriteError) {
        try writeAtomically(Data(text.utf8), to: url)
    }
}
