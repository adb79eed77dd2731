import Datasets
import Foundation
import Imaging
import LeNet
import Training
import XCTest

/// "Correct it": the ten unusual digits of docs/images/unusual, each misread by the bundled model,
/// taught to a private copy one after another.
final class FineTuningTests: XCTestCase {
    func testTenCorrectionsReadRightAndMNISTIsNotForgotten() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/images/unusual")
        let bundled = try Classifier.pretrained()
        let drawings = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().map { name in
            // <digit>-<style>.png
            (name, try bundled.classify(imageData: Data(contentsOf: folder.appendingPathComponent(name)), name: name).input, try XCTUnwrap(name.first?.wholeNumberValue))
        }
        XCTAssertEqual(drawings.count, 10)
        for (name, image, label) in drawings {
            XCTAssertNotEqual(bundled.classify(prepared: image).ranked[0], label, "\(name) is misread by the bundled model")
        }
        let mnist = try IDXDataset(directory: IDXDataset.bundledMNIST)
        let copy = FineTuning(model: bundled.model, digits: mnist.train, threads: 2)
        var steps: [Int] = []
        for (_, image, label) in drawings {
            let taken = copy.correct(image, as: label)
            steps.append(taken.count)
            XCTAssertEqual(taken.last.map { $0.probabilities.indices.max { taken.last!.probabilities[$0] < taken.last!.probabilities[$1] } }, label)
        }
        XCTAssertTrue(copy.readsEveryCorrection, "all ten read right at the end")
        let runner = Runner(threads: 2)
        let before = runner.evaluate(bundled.model, on: mnist.test).correct
        let after = runner.evaluate(copy.model, on: mnist.test).correct
        print("corrections took \(steps) steps; MNIST test \(before) -> \(after) of \(mnist.test.count)")
        XCTAssertLessThanOrEqual(abs(after - before), mnist.test.count / 1000, "at most 0.1 points")
        XCTAssertEqual(try Classifier.pretrained().model, bundled.model, "the original is untouched")
    }
}
