import Datasets
import Foundation
import Imaging
import Kernels
import TestSupport
import XCTest
@testable import LeNet

final class EnsembleTests: XCTestCase {
    private let images = IDXDataset.small.test.slice(0..<200)

    private func softmax(_ z: ArraySlice<Float>) -> [Float] {
        let top = z.max()!
        let e = z.map { exp(Double($0 - top)) }
        return e.map { Float($0 / e.reduce(0, +)) }
    }

    /// Each image's class is the argmax of the models' mean softmax; one model alone is itself.
    func testTheEnsemblePredictsTheClassOfHighestMeanProbability() {
        let models = [Model.random(seed: 1), Model.random(seed: 2), Model.random(seed: 3)]
        let runner = Runner(threads: 2)
        let alone = Ensemble([Classifier(model: models[0])]).evaluate(on: images, runner: runner)
        XCTAssertEqual(alone.predictions, runner.evaluate(models[0], on: images).predictions)

        let together = Ensemble(models.map { Classifier(model: $0) }).evaluate(on: images, runner: runner)
        let logits = models.map { runner.evaluate($0, on: images, keepLogits: true).logits! }
        var agreeing = 0
        for i in 0..<images.count {
            let mean = (0..<10).map { k in logits.map { softmax($0[i * 10..<(i + 1) * 10])[k] }.reduce(0, +) / 3 }
            let expected = mean.indices.max { mean[$0] < mean[$1] }!
            if Int(together.predictions[i]) == expected { agreeing += 1 }
            XCTAssertEqual(exp(together.logits![i * 10 + expected]), mean[expected], accuracy: 1e-5)
        }
        XCTAssertEqual(agreeing, images.count)
        XCTAssertEqual(together.labels, images.labels)
    }

    /// A picture: prepared once, then the probabilities are the models' mean.
    func testAPictureGetsTheMeanOfTheModelsProbabilities() throws {
        let classifiers = [Classifier(model: .random(seed: 4)), Classifier(model: .random(seed: 5))]
        let picture = GrayImage(width: 28, height: 28, pixels: Array(images.pixels[0..<784]))
        let each = try classifiers.map { try $0.classify(picture: picture, name: "digit") }
        let together = try Ensemble(classifiers).classify(picture: picture, name: "digit")
        for k in 0..<10 { XCTAssertEqual(together.probabilities[k], (each[0].probabilities[k] + each[1].probabilities[k]) / 2, accuracy: 1e-7) }
        XCTAssertEqual(together.input, each[0].input)
    }
}
