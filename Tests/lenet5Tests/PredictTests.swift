import Datasets
import Foundation
import Imaging
import LeNet
import TestSupport
import Training
import XCTest

/// `lenet5 predict` on image files made from MNIST test digits the way people's images differ
/// from MNIST's: other sizes, dark ink on white paper, off-centre, inside a border, as PNG,
/// JPEG and PGM. The predictions must match the digits' labels for the large majority.
final class PredictTests: XCTestCase {
    func testPredictionsOnRenderedDigitsMatchTheirLabels() throws {
        let folder = try TemporaryDirectory("predict")
        defer { folder.remove() }
        let directory = folder.url

        // A model trained for one epoch on 20,000 images (about 97% accurate).
        let mnist = try IDXDataset(directory: IDXDataset.bundledMNIST)
        var configuration = TrainingConfiguration()
        configuration.epochs = 1
        configuration.validationSize = 0
        configuration.selection = .last
        configuration.threads = 2
        let trainer = try Trainer(configuration: configuration, dataset: IDXDataset(train: mnist.train.slice(0..<20_000), test: mnist.test))
        XCTAssertNotNil(try trainer.trainEpoch())
        let checkpoint = directory.appendingPathComponent("model.safetensors")
        try Checkpoint(model: trainer.model, metadata: ["class_names": ClassNames.encode(ClassNames.digits)]).write(to: checkpoint)

        var files: [String] = []
        var labels: [Int] = []
        for i in 0..<60 {
            let digit = Array(mnist.test.pixels[i * 784..<(i + 1) * 784])
            let label = Int(mnist.test.labels[i])
            // Scaled x3, dark on white, off-centre in a 130 x 110 page with a gray frame.
            var page = [UInt8](repeating: 245, count: 130 * 110)
            for y in 0..<110 { for x in 0..<130 where x < 3 || y < 3 || x >= 127 || y >= 107 { page[y * 130 + x] = 120 } }
            let (left, top) = (10 + i % 30, 8 + i % 15)
            for y in 0..<84 { for x in 0..<84 { page[(top + y) * 130 + left + x] = 245 - UInt8(Int(digit[(y / 3) * 28 + x / 3]) * 225 / 255) } }
            let image = GrayImage(width: 130, height: 110, pixels: page)
            let name = directory.appendingPathComponent("digit-\(i)")
            switch i % 3 {
            case 0:
                try image.writePNG(to: name.appendingPathExtension("png"))
                files.append(name.appendingPathExtension("png").path)
            case 1:
                try writeJPEG(image, quality: 85, to: name.appendingPathExtension("jpg"))
                files.append(name.appendingPathExtension("jpg").path)
            default:
                try Data("P5 28 28 255\n".utf8 + digit).write(to: name.appendingPathExtension("pgm"))
                files.append(name.appendingPathExtension("pgm").path)
            }
            labels.append(label)
        }
        let broken = directory.appendingPathComponent("broken.png").path
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: broken))

        let result = try runLenet5(["predict", "--checkpoint", checkpoint.path, "--json", "--top", "2"] + files + [broken])
        XCTAssertEqual(result.status, 1, "a broken file makes the exit status non-zero")
        let entries = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]])
        XCTAssertEqual(entries.count, files.count + 1, "the other files are still processed")
        let predicted = entries.prefix(files.count).compactMap { $0["class"] as? Int }
        let correct = zip(predicted, labels).filter { $0 == $1 }.count
        XCTAssertGreaterThanOrEqual(correct, 54, "\(correct)/60 rendered digits predicted as labelled")
        XCTAssertTrue((entries.last?["error"] as? String)?.contains("is not a PNG, JPEG or PGM image") ?? false)
        XCTAssertEqual((entries.first?["top"] as? [Any])?.count, 2)

        // Two inputs with one name in different folders: --show-input writes both, neither over the other.
        let other = directory.appendingPathComponent("other")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: files[2], toPath: other.appendingPathComponent("digit-0.png").path)
        let shown = directory.appendingPathComponent("shown")
        let twice = try runLenet5(["predict", "--checkpoint", checkpoint.path, "--show-input", shown.path, files[0], other.appendingPathComponent("digit-0.png").path])
        XCTAssertEqual(twice.status, 0, twice.error)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: shown.path).sorted(), ["digit-0-2.input.png", "digit-0.input.png"])
        XCTAssertNotEqual(try Data(contentsOf: shown.appendingPathComponent("digit-0.input.png")),
                          try Data(contentsOf: shown.appendingPathComponent("digit-0-2.input.png")))
    }

    /// The 40 digits drawn on the page's pad (scripts/draw_digits.py: four styles of each, the
    /// last small, far off-centre, slanted and shaky) and the ten typed ones in docs/images, read
    /// by the model `lenet5 serve` bundles: every one right, as docs/results.md says.
    func testTheBundledModelReadsTheDrawnAndTypedDigits() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let images = root.appendingPathComponent("docs/images")
        var files: [(path: String, label: Int)] = []
        for folder in ["drawn", "typed"] {
            for name in try FileManager.default.contentsOfDirectory(atPath: images.appendingPathComponent(folder).path).sorted() {
                // drawn/<digit>-<style>.png, typed/typed-<digit>.jpg
                let digit = folder == "drawn" ? name.first : name.dropFirst("typed-".count).first
                files.append((images.appendingPathComponent(folder).appendingPathComponent(name).path, try XCTUnwrap(digit?.wholeNumberValue, name)))
            }
        }
        XCTAssertEqual(files.count, 50)
        let model = root.appendingPathComponent("Sources/LeNet/Resources/pretrained.safetensors").path
        let result = try runLenet5(["predict", "--checkpoint", model, "--json"] + files.map(\.path))
        XCTAssertEqual(result.status, 0, result.error)
        let entries = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]])
        XCTAssertEqual(entries.count, files.count)
        for (entry, file) in zip(entries, files) {
            XCTAssertEqual(entry["class"] as? Int, file.label, file.path)
        }
    }
}
