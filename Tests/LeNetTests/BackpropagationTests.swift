import Datasets
import Foundation
import Imaging
import LeNet
import XCTest

/// The backward view's gradients are the training path's, and the loss's own slopes.
final class BackpropagationTests: XCTestCase {
    private static let test = try! IDXDataset.testSet(in: IDXDataset.bundledMNIST)

    private func image(_ index: Int) -> GrayImage {
        let size = Self.test.width * Self.test.height
        return GrayImage(width: Self.test.width, height: Self.test.height, pixels: Array(Self.test.pixels[index * size..<(index + 1) * size]))
    }

    /// The loss against `target` of the normalised input plane of `image` changed by `change`,
    /// under `model`: one forward pass, no gradient.
    private func loss(_ model: Model, _ image: GrayImage, target: Int, change: (UnsafeMutablePointer<Float>) -> Void = { _ in }) -> Double {
        let ws = Workspace(capacity: 1)
        image.pixels.withUnsafeBufferPointer { model.normalization.fill(ws.inputImage(0), fromPixels: $0.baseAddress!) }
        change(ws.inputImage(0))
        ws.setLabel(UInt8(target), at: 0)
        return model.parameters.withUnsafeBufferPointer { LeNet5.forward(parameters: $0.baseAddress!, workspace: ws, count: 1) }
    }

    /// The kernels' gradients are those training computes for a batch of one (`Runner.gradient`).
    func testKernelGradientsAreTheTrainingPaths() throws {
        let classifier = try Classifier.pretrained()
        let digit = image(0)
        let target = 1
        let view = classifier.backpropagate(prepared: digit, target: target)
        let one = LabeledImages(count: 1, height: digit.height, width: digit.width, pixels: digit.pixels, labels: [UInt8(target)])
        var gradients = [Float](repeating: 0, count: ParameterLayout.count)
        let loss = Runner(threads: 1).gradient(of: classifier.model, on: one, indices: [0][...], into: &gradients).loss
        XCTAssertEqual(Double(view.loss), loss, accuracy: 1e-5)
        for (stage, kernels) in zip(LeNet5.spatialConvolutions, view.kernels) {
            let weight = try XCTUnwrap(stage.weight)
            XCTAssertEqual(kernels.values, Array(gradients[weight.offset..<weight.offset + weight.count]), stage.name)
        }
        // F7's output gradient is p - one-hot(target).
        let logits = try XCTUnwrap(view.stages.last)
        XCTAssertEqual(logits.stage, "F7")
        XCTAssertEqual(logits.values, view.probabilities.enumerated().map { $0.element - ($0.offset == target ? 1 : 0) })
        XCTAssertEqual(view.stages.map(\.stage), ["C1", "S2", "C3", "S4", "C5", "F6", "F7"])
    }

    /// Each served pixel gradient and kernel gradient is the loss's slope: central differences
    /// on the largest of them (where the slope matters) agree within 2%.
    func testGradientsMatchCentralDifferences() throws {
        let classifier = try Classifier.pretrained()
        let model = classifier.model
        let digit = image(7)
        let target = 3
        let view = classifier.backpropagate(prepared: digit, target: target)
        // Pixels: a change of h in the normalised input is one of h * 255 * std in intensity.
        let h: Float = 1e-2
        let side = LeNet5.inputSide, pad = LeNet5.padding, imageSide = LeNet5.imageSide
        let perIntensity = 1 / (255 * model.normalization.standardDeviation)
        let pixels = view.input.indices.sorted { abs(view.input[$0]) > abs(view.input[$1]) }.prefix(12)
        for i in pixels {
            let at = (i / imageSide + pad) * side + i % imageSide + pad
            let up = loss(model, digit, target: target) { $0[at] += h }
            let down = loss(model, digit, target: target) { $0[at] -= h }
            let slope = Float((up - down) / Double(2 * h)) * perIntensity
            XCTAssertEqual(view.input[i], slope, accuracy: 0.02 * abs(slope) + 1e-6, "pixel \(i)")
        }
        // Kernel weights.
        for (stage, kernels) in zip(LeNet5.spatialConvolutions, view.kernels) {
            let weight = try XCTUnwrap(stage.weight)
            for k in kernels.values.indices.sorted(by: { abs(kernels.values[$0]) > abs(kernels.values[$1]) }).prefix(6) {
                var changed = model
                changed.parameters[weight.offset + k] += h
                let up = loss(changed, digit, target: target)
                changed.parameters[weight.offset + k] -= 2 * h
                let down = loss(changed, digit, target: target)
                let slope = Float((up - down) / Double(2 * h))
                XCTAssertEqual(kernels.values[k], slope, accuracy: 0.02 * abs(slope) + 1e-5, "\(stage.name) weight \(k)")
            }
        }
    }
}
