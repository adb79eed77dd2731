import Formats
import Foundation
import Imaging

/// One row of metrics.csv: what an epoch did.
public struct EpochMetrics: Sendable, Equatable {
    public var epoch: Int
    public var loss: Double
    public var trainAccuracy: Double
    public var validationAccuracy: Double?
    public var testAccuracy: Double
    public var learningRate: Double
    public var seconds: Double
    public var imagesPerSecond: Double

    public init(epoch: Int, loss: Double, trainAccuracy: Double, validationAccuracy: Double?, testAccuracy: Double,
                learningRate: Double, seconds: Double, imagesPerSecond: Double) {
        (self.epoch, self.loss, self.trainAccuracy, self.validationAccuracy) = (epoch, loss, trainAccuracy, validationAccuracy)
        (self.testAccuracy, self.learningRate, self.seconds, self.imagesPerSecond) = (testAccuracy, learningRate, seconds, imagesPerSecond)
    }

    public static let header = [
        "epoch", "loss", "train_accuracy", "validation_accuracy", "test_accuracy", "learning_rate", "seconds", "images_per_second",
    ]

    /// The row's fields as metrics.csv holds them.
    public var fields: [String] {
        [String(epoch), String(format: "%.6f", loss), String(format: "%.4f", trainAccuracy),
         validationAccuracy.map { String(format: "%.4f", $0) } ?? "", String(format: "%.4f", testAccuracy),
         String(format: "%.6g", learningRate), String(format: "%.3f", seconds), String(format: "%.0f", imagesPerSecond)]
    }

    /// Parses a row written from `fields`; nil if it is not one.
    public init?(fields f: [String]) {
        guard f.count == 8, let epoch = Int(f[0]), let loss = Double(f[1]), let train = Double(f[2]), let test = Double(f[4]),
            let rate = Double(f[5]), let seconds = Double(f[6]), let speed = Double(f[7])
        else { return nil }
        self.init(epoch: epoch, loss: loss, trainAccuracy: train, validationAccuracy: Double(f[3]), testAccuracy: test,
                  learningRate: rate, seconds: seconds, imagesPerSecond: speed)
    }

    /// The rows of a metrics.csv file, or none if it does not exist.
    public static func read(_ url: URL) -> [EpochMetrics] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return CSV.decode(text).dropFirst().compactMap(EpochMetrics.init(fields:))
    }
}

/// Axis ticks: about `count` round values covering [low, high].
func ticks(_ low: Double, _ high: Double, count: Int = 5) -> [Double] {
    let span = max(high - low, 1e-12)
    let raw = span / Double(count)
    let magnitude = pow(10, (log10(raw)).rounded(.down))
    let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
    let first = (low / step).rounded(.up)
    var values: [Double] = []
    var k = 0.0
    // Multiples of the step, cleaned of binary noise (3 x 0.05 is 0.15000000000000002).
    while (first + k) * step <= high + step * 1e-9 {
        values.append(Double(String(format: "%.10g", (first + k) * step)) ?? 0)
        k += 1
    }
    return values
}

func label(_ v: Double) -> String {
    if v == v.rounded() && abs(v) < 1e6 { return String(Int(v)) }
    return String(format: abs(v) < 0.01 ? "%.3g" : "%.2f", v).replacingOccurrences(of: #"0+$"#, with: "", options: .regularExpression)
}

public enum Charts {
    /// A line chart of `series` (name, colour, values per epoch) in the given box, with `floor`
    /// (a value and its label) as a dashed line when given.
    static func panel(
        _ d: Drawing, x: Double, y: Double, width: Double, height: Double, title: String, yLabel: String,
        epochs: [Int], series: [(String, Color, [Double?])], yRange: (Double, Double), floor: (value: Double, label: String)? = nil
    ) {
        let left = x + 58, right = x + width - 26, top = y + 34, bottom = y + height - 46
        d.text(title, x: (left + right) / 2, y: y + 6, size: 16, anchor: .middle, bold: true)
        let (lo, hi) = yRange
        let firstEpoch = Double(epochs.first ?? 1), lastEpoch = Double(max(epochs.last ?? 1, (epochs.first ?? 1) + 1))
        func px(_ e: Double) -> Double { left + (e - firstEpoch) / (lastEpoch - firstEpoch) * (right - left) }
        func py(_ v: Double) -> Double { bottom - (v - lo) / (hi - lo) * (bottom - top) }
        for t in ticks(lo, hi) {
            d.line(from: (left, py(t)), to: (right, py(t)), color: .grid, width: 1)
            d.text(label(t), x: left - 7, y: py(t) - 8, size: 11, color: .axis, anchor: .end)
        }
        let epochTicks = ticks(firstEpoch, lastEpoch, count: min(10, Int(lastEpoch - firstEpoch))).filter { $0 == $0.rounded() }
        for e in epochTicks {
            d.line(from: (px(e), bottom), to: (px(e), bottom + 4), color: .axis, width: 1)
            d.text(label(e), x: px(e), y: bottom + 7, size: 11, color: .axis, anchor: .middle)
        }
        d.line(from: (left, bottom), to: (right, bottom), color: .axis, width: 1.2)
        d.line(from: (left, top), to: (left, bottom), color: .axis, width: 1.2)
        d.text("epoch", x: (left + right) / 2, y: bottom + 24, size: 13, anchor: .middle)
        d.text(yLabel, x: x + 6, y: (top + bottom) / 2, size: 13, color: .text, anchor: .middle, bold: false, rotated: true)
        if let floor, (lo...hi).contains(floor.value) {
            for start in stride(from: left, to: right, by: 8) {
                d.line(from: (start, py(floor.value)), to: (min(start + 4, right), py(floor.value)), color: .axis, width: 1)
            }
            d.text(floor.label, x: right - 4, y: py(floor.value) + 4, size: 11, color: .axis, anchor: .end)
        }
        for (_, color, values) in series {
            var previous: (Double, Double)?
            for (e, v) in zip(epochs, values) {
                guard let v else { previous = nil; continue }
                let point = (px(Double(e)), py(min(max(v, lo), hi)))
                if let previous { d.line(from: previous, to: point, color: color, width: 2) }
                previous = point
            }
            for (e, v) in zip(epochs, values) {
                if let v { d.circle(x: px(Double(e)), y: py(min(max(v, lo), hi)), radius: 3, fill: color) }
            }
        }
        // Legend inside the plot, in the right-hand corner (top or bottom) with fewer points.
        let shown = series.filter { $0.2.contains { $0 != nil } }
        let legendWidth = 110.0, legendHeight = Double(shown.count) * 20 + 6
        let legendLeft = right - legendWidth - 8
        let points = series.flatMap { zip(epochs, $0.2).compactMap { e, v in v.map { (px(Double(e)), py(min(max($0, lo), hi))) } } }
        func crowding(_ top: Double) -> Int {
            points.filter { $0.0 >= legendLeft - 10 && $0.1 >= top - 10 && $0.1 <= top + legendHeight + 10 }.count
        }
        let legendTop = crowding(top + 8) <= crowding(bottom - legendHeight - 8) ? top + 8 : bottom - legendHeight - 8
        if shown.count > 1 {
            d.rectangle(x: legendLeft - 6, y: legendTop - 4, width: legendWidth + 6, height: legendHeight, fill: .white)
        }
        for (i, (name, color, _)) in shown.enumerated() where shown.count > 1 {
            let ly = legendTop + Double(i) * 20
            d.line(from: (legendLeft, ly + 8), to: (legendLeft + 22, ly + 8), color: color, width: 2)
            d.circle(x: legendLeft + 11, y: ly + 8, radius: 3, fill: color)
            d.text(name, x: legendLeft + 30, y: ly, size: 13)
        }
    }

    /// Loss (left) and accuracy (right) per epoch, 980 x 400; `lossFloor`, the least loss the
    /// targets allow, dashed when above 0 (label smoothing's).
    public static func trainingCurves(_ d: Drawing, metrics: [EpochMetrics], lossFloor: Double = 0) {
        // Values that are not finite (a diverged run's NaN loss, say) are drawn as gaps, and a
        // range is taken from the finite ones only, capped so the axis stays drawable.
        func finite(_ v: Double?) -> Double? { v.flatMap { $0.isFinite ? $0 : nil } }
        let epochs = metrics.map(\.epoch)
        let losses = metrics.map { finite($0.loss) }
        let lossHigh = min(max(losses.compactMap { $0 }.max() ?? 1, 1e-6) * 1.08, 1e12)
        panel(d, x: 0, y: 0, width: 480, height: 400, title: "Training loss", yLabel: "mean cross-entropy",
              epochs: epochs, series: [("train", .blue, losses)], yRange: (0, lossHigh),
              floor: lossFloor > 0 ? (lossFloor, String(format: "least possible with smoothed targets: %.2f", lossFloor)) : nil)
        let series: [(String, Color, [Double?])] = [
            ("training pass", .blue, metrics.map { finite($0.trainAccuracy) }), ("validation", .orange, metrics.map { finite($0.validationAccuracy) }),
            ("test", .green, metrics.map { finite($0.testAccuracy) }),
        ]
        let accuracies = series.flatMap { $0.2.compactMap { $0 } }
        let low = min(max(0, ((accuracies.min() ?? 90) - 0.5).rounded(.down)), 99)
        panel(d, x: 500, y: 0, width: 480, height: 400, title: "Accuracy", yLabel: "accuracy (%)", epochs: epochs,
              series: series, yRange: (low, 100))
    }

    public static let trainingCurvesSize = (width: 980, height: 400)

    /// Confusion matrix: rows true class, columns predicted, cells shaded by the share of the row.
    public static func confusionMatrix(_ d: Drawing, matrix: [[Int]], names: [String]) -> Void {
        let cell = 46.0, left = matrixLeft(names), top = 70.0
        let n = matrix.count
        d.text("Confusion matrix (test set)", x: left + cell * Double(n) / 2, y: 8, size: 16, anchor: .middle, bold: true)
        d.text("predicted", x: left + cell * Double(n) / 2, y: 30, size: 13, anchor: .middle)
        d.text("true class", x: 8, y: top + cell * Double(n) / 2, size: 13, color: .text, anchor: .middle, bold: false, rotated: true)
        for k in 0..<n {
            d.text("\(k)", x: left + cell * (Double(k) + 0.5), y: top - 20, size: 13, color: .axis, anchor: .middle)
            let name = names[k] == "\(k)" ? names[k] : "\(names[k]) \(k)"
            d.text(name, x: left - 8, y: top + cell * Double(k) + cell / 2 - 8, size: 13, color: .axis, anchor: .end)
        }
        for (i, row) in matrix.enumerated() {
            let total = max(row.reduce(0, +), 1)
            for (j, count) in row.enumerated() {
                let share = Double(count) / Double(total)
                // White to deep blue, on a square-root scale so small confusions stay visible.
                let t = share.squareRoot()
                let fill = Color(1 - t * (1 - 0.03), 1 - t * (1 - 0.25), 1 - t * (1 - 0.55))
                let x = left + cell * Double(j), y = top + cell * Double(i)
                d.rectangle(x: x, y: y, width: cell - 1, height: cell - 1, fill: count == 0 ? Color(hex: 0xF7F7F7) : fill)
                if count > 0 {
                    d.text("\(count)", x: x + cell / 2, y: y + cell / 2 - 8, size: count >= 1000 ? 11 : 13,
                           color: t > 0.55 ? .white : .text, anchor: .middle, bold: i == j)
                }
            }
        }
    }

    /// Room left of the matrix for the longest class name.
    static func matrixLeft(_ names: [String]) -> Double {
        let longest = Double(names.map(\.count).max() ?? 1)
        return 60 + longest * 7.5
    }

    public static func confusionMatrixSize(names: [String]) -> (width: Int, height: Int) {
        let side = 46 * names.count
        return (Int(matrixLeft(names)) + side + 16, 70 + side + 14)
    }

    /// A grid of images, `columns` wide, with a two-line caption under each.
    /// Square images of `side` pixels, `columns` to a row, each with up to two lines of caption.
    public static func imageGrid(_ d: Drawing, title: String, tiles: [(GrayImage, [String])], columns: Int, scale: Int, side: Int = 28) {
        let tileWidth = Double(side * scale + 52), tileHeight = Double(side * scale + 44)
        d.text(title, x: tileWidth * Double(columns) / 2, y: 8, size: 16, anchor: .middle, bold: true)
        for (i, (image, caption)) in tiles.enumerated() {
            let x = tileWidth * Double(i % columns) + 26, y = 36 + tileHeight * Double(i / columns)
            d.image(image, x: x, y: y, scale: scale)
            for (line, text) in caption.prefix(2).enumerated() {
                d.text(text, x: x + Double(side * scale) / 2, y: y + Double(side * scale) + 4 + Double(line) * 14, size: 11, anchor: .middle)
            }
        }
    }

    public static func imageGridSize(count: Int, columns: Int, scale: Int, side: Int = 28) -> (width: Int, height: Int) {
        (columns * (side * scale + 52), 36 + (count + columns - 1) / columns * (side * scale + 44))
    }

    /// Kernels as gray squares, each normalised to its own range, laid out rows x columns.
    public static func kernels(_ d: Drawing, y y0: Double = 0, title: String, rows: Int, columns: Int, size: Int, weights: (Int, Int) -> [Float],
                               rowLabel: (Int) -> String, columnLabel: (Int) -> String, scale: Int) {
        let step = Double(size * scale + 6), left = 70.0, top = y0 + 52.0
        d.text(title, x: left + step * Double(columns) / 2, y: y0 + 6, size: 16, anchor: .middle, bold: true)
        for c in 0..<columns { d.text(columnLabel(c), x: left + step * Double(c) + Double(size * scale) / 2, y: top - 20, size: 11, color: .axis, anchor: .middle) }
        for r in 0..<rows {
            d.text(rowLabel(r), x: left - 8, y: top + step * Double(r) + Double(size * scale) / 2 - 7, size: 11, color: .axis, anchor: .end)
            for c in 0..<columns {
                let w = weights(r, c)
                let lo = w.min() ?? 0, hi = w.max() ?? 1
                let pixels = w.map { UInt8(((Double($0 - lo) / Double(max(hi - lo, 1e-12))) * 255).rounded()) }
                d.image(GrayImage(width: size, height: size, pixels: pixels), x: left + step * Double(c), y: top + step * Double(r), scale: scale)
            }
        }
    }

    public static func kernelsSize(rows: Int, columns: Int, size: Int, scale: Int) -> (width: Int, height: Int) {
        (Int(70 + Double(size * scale + 6) * Double(columns) + 10), Int(52 + Double(size * scale + 6) * Double(rows) + 8))
    }
}
