import Datasets
import Foundation
import Imaging
import Kernels

/// Several trained models that decide together: each image's class is the one of highest mean
/// probability over the models (the average of their softmax outputs).
public struct Ensemble: Sendable {
    public let classifiers: [Classifier]

    /// - Precondition: at least one classifier, all with the same class names and framing.
    public init(_ classifiers: [Classifier]) {
        precondition(!classifiers.isEmpty)
        precondition(classifiers.allSatisfy { $0.classNames == classifiers[0].classNames && $0.framing == classifiers[0].framing })
        self.classifiers = classifiers
    }

    public var classNames: [String] { classifiers[0].classNames }

    /// Prepares `picture` once and classifies it with every model.
    public func classify(picture: GrayImage, name: String) throws(ImageError) -> Classification {
        let prepared = try DigitPreprocessing.prepare(picture, framing: classifiers[0].framing, name: name)
        let each = classifiers.map { $0.classify(prepared: prepared) }
        return Classification(probabilities: Self.mean(each.map(\.probabilities)), input: prepared, activations: nil)
    }

    /// The models together on `images`: predictions of the mean probabilities, the loss their
    /// cross-entropy, and as logits their logarithms (which softmax turns back into them).
    public func evaluate(on images: LabeledImages, runner: Runner, distortion: Distortion? = nil) -> Evaluation {
        let classes = LeNet5.classes
        let logits = classifiers.map { runner.evaluate($0.model, on: images, keepLogits: true, distortion: distortion).logits ?? [] }
        var predictions = [UInt8](repeating: 0, count: images.count)
        var logProbabilities = [Float](repeating: 0, count: images.count * classes)
        var loss = 0.0
        for i in 0..<images.count {
            let mean = Self.mean(logits.map { softmax($0[i * classes..<(i + 1) * classes].map(Double.init)).map(Float.init) })
            let best = mean.indices.max { (mean[$0], $1) < (mean[$1], $0) } ?? 0
            predictions[i] = UInt8(best)
            for k in 0..<classes { logProbabilities[i * classes + k] = log(max(mean[k], .leastNormalMagnitude)) }
            loss -= Double(logProbabilities[i * classes + Int(images.labels[i])])
        }
        return Evaluation(predictions: predictions, labels: images.labels, loss: loss, logits: logProbabilities)
    }

    private static func mean(_ rows: [[Float]]) -> [Float] {
        rows.dropFirst().reduce(rows[0]) { zip($0, $1).map(+) }.map { $0 / Float(rows.count) }
    }
}
