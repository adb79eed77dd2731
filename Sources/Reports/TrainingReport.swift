import Formats
import Foundation
import Imaging

/// The files `lenet5 train` leaves beside its checkpoints: metrics.csv, training-curves.png and
/// .svg, confusion-matrix.png and .svg, and misclassified.png.
public enum TrainingReport {
    /// Rewrites metrics.csv with the rows of earlier epochs (from before a resume) and `row`.
    public static func record(_ row: EpochMetrics, in directory: URL) throws(FileWriteError) {
        let url = directory.appendingPathComponent("metrics.csv")
        let rows = EpochMetrics.read(url).filter { $0.epoch < row.epoch } + [row]
        try writeAtomically(Data(CSV.encode(header: EpochMetrics.header, rows: rows.map(\.fields)).utf8), to: url)
    }

    /// Writes the plots from metrics.csv and the final test evaluation.
    /// - Parameters:
    ///   - confusionMatrix: counts by [true class][predicted class].
    ///   - logits: (count, 10) row-major, for the confidence of each mistake.
    ///   - images: the test images, (count, imageSide, imageSide) bytes.
    /// - Returns: the files written.
    @discardableResult
    public static func write(
        in directory: URL, confusionMatrix matrix: [[Int]], predictions: [UInt8], labels: [UInt8], logits: [Float],
        images: [UInt8], imageSide: Int, classNames: [String]
    ) throws(FileWriteError) -> [URL] {
        var written: [URL] = []
        func save(_ name: String, size: (width: Int, height: Int), draw: (Drawing) -> Void, svg: Bool) throws(FileWriteError) {
            let canvas = Canvas(width: size.width, height: size.height)
            draw(canvas)
            let png = directory.appendingPathComponent(name + ".png")
            try canvas.writePNG(to: png)
            written.append(png)
            guard svg else { return }
            let document = SVGDocument(width: size.width, height: size.height)
            draw(document)
            let url = directory.appendingPathComponent(name + ".svg")
            try document.write(to: url)
            written.append(url)
        }
        let metrics = EpochMetrics.read(directory.appendingPathComponent("metrics.csv"))
        if !metrics.isEmpty {
            try save("training-curves", size: Charts.trainingCurvesSize, draw: { Charts.trainingCurves($0, metrics: metrics) }, svg: true)
        }
        try save("confusion-matrix", size: Charts.confusionMatrixSize(names: classNames),
                 draw: { Charts.confusionMatrix($0, matrix: matrix, names: classNames) }, svg: true)

        let mistakes = worstMistakes(predictions: predictions, labels: labels, logits: logits, limit: 40)
        let tiles = mistakes.map { (index, confidence) -> (GrayImage, [String]) in
            let size = imageSide * imageSide
            let image = GrayImage(width: imageSide, height: imageSide, pixels: Array(images[index * size..<(index + 1) * size]))
            let caption = ["true: \(classNames[Int(labels[index])])",
                           "pred: \(classNames[Int(predictions[index])]) \(Int((confidence * 100).rounded()))%"]
            return (image, caption)
        }
        let errors = predictions.count - zip(predictions, labels).filter { $0 == $1 }.count
        let title = "The \(tiles.count) most confident of \(grouped(errors)) test-set mistakes"
        try save("misclassified", size: Charts.imageGridSize(count: max(tiles.count, 1), columns: 8, scale: 3),
                 draw: { Charts.imageGrid($0, title: title, tiles: tiles, columns: 8, scale: 3) }, svg: false)
        return written
    }

    /// Indices of wrong predictions with their softmax confidence, most confident first.
    static func worstMistakes(predictions: [UInt8], labels: [UInt8], logits: [Float], limit: Int) -> [(Int, Double)] {
        let classes = logits.count / max(labels.count, 1)
        var mistakes: [(Int, Double)] = []
        for i in labels.indices where predictions[i] != labels[i] {
            let row = logits[i * classes..<(i + 1) * classes].map(Double.init)
            let top = row.max() ?? 0
            let sum = row.reduce(0) { $0 + exp($1 - top) }
            mistakes.append((i, 1 / sum))
        }
        return Array(mistakes.sorted { $0.1 > $1.1 }.prefix(limit))
    }
}
