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
    ///   - mistakes: the test images to show (index, true class, predicted class, confidence),
    ///     most confident first, out of `errors` in all.
    ///   - images: the test images, (count, imageSide, imageSide) bytes.
    ///   - lossFloor: the least loss the run's targets allow (above 0 with label smoothing),
    ///     dashed on the loss chart.
    /// - Returns: the files written.
    @discardableResult
    public static func write(
        in directory: URL, confusionMatrix matrix: [[Int]], mistakes: [(index: Int, label: Int, predicted: Int, confidence: Double)],
        errors: Int, images: [UInt8], imageSide: Int, classNames: [String], lossFloor: Double = 0
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
            try save("training-curves", size: Charts.trainingCurvesSize, draw: { Charts.trainingCurves($0, metrics: metrics, lossFloor: lossFloor) }, svg: true)
        }
        try save("confusion-matrix", size: Charts.confusionMatrixSize(names: classNames),
                 draw: { Charts.confusionMatrix($0, matrix: matrix, names: classNames) }, svg: true)

        let size = imageSide * imageSide
        let tiles = mistakes.map { mistake -> (GrayImage, [String]) in
            let image = GrayImage(width: imageSide, height: imageSide, pixels: Array(images[mistake.index * size..<(mistake.index + 1) * size]))
            let caption = ["true: \(classNames[mistake.label])",
                           "pred: \(classNames[mistake.predicted]) \(Int((mistake.confidence * 100).rounded()))%"]
            return (image, caption)
        }
        let title = "The \(tiles.count) most confident of \(grouped(errors)) test-set mistakes"
        try save("misclassified", size: Charts.imageGridSize(count: max(tiles.count, 1), columns: 8, scale: 3),
                 draw: { Charts.imageGrid($0, title: title, tiles: tiles, columns: 8, scale: 3) }, svg: false)
        return written
    }
}
