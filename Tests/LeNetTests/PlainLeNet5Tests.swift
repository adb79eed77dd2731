import Datasets
import Kernels
import LeNet
import TestSupport
import XCTest

/// The plain network (`PlainLeNet5`, `--kernels reference`) computes what the fast one computes,
/// through `Runner`, the path training takes: the fast kernels in Float with their own order of
/// additions, the plain ones in Double, so they agree to rounding, not bit for bit.
final class PlainLeNet5Tests: XCTestCase {
    private static let test = try! IDXDataset.testSet(in: IDXDataset.bundledMNIST)

    /// Each gradient tensor within this fraction of its largest value; measured: at most 7.5e-6
    /// (the trained model's, whose gradients are small sums of larger terms; the untrained
    /// model's at most 4.6e-7; AMD EPYC Zen 5, 2026-12-07).
    static let tensorTolerance: Float = 3e-5
    /// Each image's loss within this, absolute, on average (ReferenceTests' bound against
    /// PyTorch); measured: at most 2e-8.
    static let lossTolerance = 1e-6

    /// max |a - b| / max |b|.
    private func relativeError(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Float {
        let scale = b.map(abs).max() ?? 0
        return zip(a, b).map { abs($0 - $1) }.max().map { $0 / max(scale, 1e-12) } ?? 0
    }

    /// A batch of 64 MNIST test digits (four chunks of 16 on two threads), for a trained and an
    /// untrained model, with one-hot and smoothed targets.
    func testGradientsEqualTheFastNetworks() throws {
        let models = [("trained", try Classifier.pretrained().model), ("untrained", Model.random(seed: 3))]
        let range = 100..<164
        let indices = Array(range)[...]
        for (name, model) in models {
            for smoothing: Float in [0, 0.1] {
                var fast = [Float](repeating: 0, count: ParameterLayout.count)
                var plain = fast
                let fastResult = Runner(threads: 2).gradient(of: model, on: Self.test, indices: indices, labelSmoothing: smoothing, into: &fast)
                let plainResult = Runner(threads: 2, kernels: .reference).gradient(
                    of: model, on: Self.test, indices: indices, labelSmoothing: smoothing, into: &plain)
                XCTAssertEqual(
                    plainResult.loss, fastResult.loss, accuracy: Double(indices.count) * Self.lossTolerance, "\(name), smoothing \(smoothing)")
                // The training pass's count of right answers is evaluation's, for the same weights.
                let evaluated = Runner(threads: 1).evaluate(model, on: Self.test, range: range).correct
                XCTAssertEqual(fastResult.correct, evaluated, name)
                XCTAssertEqual(plainResult.correct, evaluated, name)
                for t in ParameterLayout.tensors {
                    let range = t.offset..<t.offset + t.count
                    XCTAssertGreaterThan(fast[range].map(abs).max() ?? 0, 0, "\(name): \(t.name) has a gradient")
                    XCTAssertLessThan(
                        relativeError(plain[range], fast[range]), Self.tensorTolerance, "\(name), smoothing \(smoothing): \(t.name)")
                }
            }
        }
    }

    /// Evaluation: the same predictions and logits for 500 test digits (logits measured: within
    /// 3.5e-7 of the largest).
    func testEvaluationEqualsTheFastNetworks() throws {
        let model = try Classifier.pretrained().model
        let range = 0..<500
        let fast = Runner(threads: 2).evaluate(model, on: Self.test, range: range, keepLogits: true)
        let plain = Runner(threads: 2, kernels: .reference).evaluate(model, on: Self.test, range: range, keepLogits: true)
        XCTAssertEqual(plain.predictions, fast.predictions)
        XCTAssertEqual(plain.loss, fast.loss, accuracy: Double(range.count) * Self.lossTolerance)
        XCTAssertLessThan(relativeError(try XCTUnwrap(plain.logits)[...], try XCTUnwrap(fast.logits)[...]), Self.tensorTolerance)
    }
}
