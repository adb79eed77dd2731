import Datasets
import Foundation
import Imaging
import Kernels
import TestSupport
import XCTest
@testable import LeNet

final class ClassifierTests: XCTestCase {
    private static let model: Model = Model.random(seed: 11)

    private func testImage(_ index: Int) -> GrayImage {
        let test = IDXDataset.small.test
        let size = test.width * test.height
        return GrayImage(width: test.width, height: test.height, pixels: Array(test.pixels[index * size..<(index + 1) * size]))
    }

    /// Many tasks share one classifier; each gets exactly the answer a lone caller gets.
    func testConcurrentCallersGetTheSequentialAnswers() async {
        let classifier = Classifier(model: Self.model, keep: 2)
        let images = (0..<400).map(testImage)
        let sequential = images.map { classifier.classify(prepared: $0).probabilities.map(\.bitPattern) }
        let tasks = 32, perTask = 250
        let mismatches = await withTaskGroup(of: Int.self) { group in
            for t in 0..<tasks {
                group.addTask {
                    var wrong = 0
                    for k in 0..<perTask {
                        let i = (t * 37 + k * 13) % images.count
                        let result = classifier.classify(prepared: images[i], activations: k % 10 == 0)
                        if result.probabilities.map(\.bitPattern) != sequential[i] { wrong += 1 }
                    }
                    return wrong
                }
            }
            return await group.reduce(0, +)
        }
        XCTAssertEqual(mismatches, 0, "of \(tasks * perTask) concurrent classifications")
    }

    /// The activations served are the forward pass's own: checked against plain loops for the
    /// first stages and the softmax of the logits for the output.
    func testActivationsAreTheForwardPassesOutputs() throws {
        let classifier = Classifier(model: Self.model)
        let image = testImage(3)
        let result = classifier.classify(prepared: image, activations: true)
        let served = try XCTUnwrap(result.activations)
        XCTAssertEqual(served.map(\.stage), ["input", "C1", "S2", "C3", "S4", "C5", "F6", "F7", "output"])
        XCTAssertEqual(served.map(\.shape.count), [32 * 32, 6 * 28 * 28, 6 * 14 * 14, 16 * 10 * 10, 16 * 5 * 5, 120, 84, 10, 10])
        let activations = Array(served.dropFirst())
        XCTAssertEqual(activations[7].values, result.probabilities)

        // The input plane is the padded, normalised image; C1 = ReLU(conv(it) + bias), by plain loops.
        var input = [Float](repeating: 0, count: LeNet5.input.count)
        input.withUnsafeMutableBufferPointer { plane in
            image.pixels.withUnsafeBufferPointer { Self.model.normalization.fill(plane.baseAddress!, fromPixels: $0.baseAddress!) }
        }
        XCTAssertEqual(served[0].values, input)
        let c1 = LeNet5.stage("C1")
        let w = try XCTUnwrap(c1.weight), b = try XCTUnwrap(c1.bias)
        var expected = [Float](repeating: 0, count: c1.output.count)
        for f in 0..<6 {
            for y in 0..<28 {
                for x in 0..<28 {
                    var sum = Self.model.parameters[b.offset + f]
                    for i in 0..<5 {
                        for j in 0..<5 { sum += Self.model.parameters[w.offset + f * 25 + i * 5 + j] * input[(y + i) * 32 + x + j] }
                    }
                    expected[(f * 28 + y) * 28 + x] = max(sum, 0)
                }
            }
        }
        for (a, e) in zip(activations[0].values, expected) { XCTAssertEqual(a, e, accuracy: 1e-4) }
        // S2 is the 2x2 maximum of C1.
        let s2 = activations[1].values, c1Values = activations[0].values
        for f in 0..<6 {
            for y in 0..<14 {
                for x in 0..<14 {
                    let window = [c1Values[(f * 28 + 2 * y) * 28 + 2 * x], c1Values[(f * 28 + 2 * y) * 28 + 2 * x + 1],
                                  c1Values[(f * 28 + 2 * y + 1) * 28 + 2 * x], c1Values[(f * 28 + 2 * y + 1) * 28 + 2 * x + 1]]
                    XCTAssertEqual(s2[(f * 14 + y) * 14 + x], window.max())
                }
            }
        }
        // The output is the softmax of F7's logits, and batched evaluation agrees with them.
        let logits = activations[6].values.map(Double.init)
        let top = logits.max()!
        let sum = logits.reduce(0) { $0 + exp($1 - top) }
        for (p, l) in zip(result.probabilities, logits) { XCTAssertEqual(Double(p), exp(l - top) / sum, accuracy: 1e-6) }
        let batched = Runner(threads: 1).evaluate(Self.model, on: IDXDataset.small.test, range: 0..<16, keepLogits: true)
        for (a, e) in zip(activations[6].values, batched.logits![30..<40]) { XCTAssertEqual(a, e, accuracy: 1e-4) }
    }

    func testPicturesAreDecodedFromMemoryAndPrepared() throws {
        let classifier = Classifier(model: Self.model)
        // The digit, three times larger and dark on light, as a PNG in memory.
        let digit = testImage(5)
        var big = [UInt8](repeating: 255, count: 84 * 84)
        for y in 0..<84 { for x in 0..<84 { big[y * 84 + x] = 255 - digit[x / 3, y / 3] } }
        let png = try GrayImage(width: 84, height: 84, pixels: big).pngData()
        let fromBytes = try classifier.classify(imageData: png, name: "upload.png")
        let fromPicture = try classifier.classify(picture: GrayImage(width: 84, height: 84, pixels: big), name: "x")
        XCTAssertEqual(fromBytes.probabilities, fromPicture.probabilities)
        XCTAssertEqual(fromBytes.input, try DigitPreprocessing.prepare(GrayImage(width: 84, height: 84, pixels: big)))
        XCTAssertThrowsError(try classifier.classify(imageData: Data("nope".utf8), name: "upload")) {
            XCTAssertEqual($0 as? ImageError, .notAnImage(name: "upload"))
        }
        let blank = try GrayImage(width: 10, height: 10, pixels: [UInt8](repeating: 255, count: 100)).pngData()
        XCTAssertThrowsError(try classifier.classify(imageData: blank, name: "empty")) {
            XCTAssertEqual($0 as? ImageError, .blank(name: "empty"))
        }
    }

    func testFashionCheckpointsFrameLikeFashionMNIST() {
        let checkpoint = Checkpoint(model: Self.model, metadata: ["class_names": ClassNames.encode(ClassNames.fashionMNIST)])
        XCTAssertEqual(Classifier(checkpoint: checkpoint).framing, .fashionMNIST)
        XCTAssertEqual(Classifier(checkpoint: Checkpoint(model: Self.model)).framing, .mnist)
    }
}
