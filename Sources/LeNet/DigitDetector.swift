import Foundation
import Imaging

/// Tells a digit from a drawing that is not one (a tap, a scribble, a letter, a shape), which a
/// digit classifier cannot: it knows only ten answers, and gives one of them confidently to
/// anything (a tap reads 0 at 99.8%). A second LeNet-5, trained by `DetectorTraining` on MNIST's
/// digits (class 1) and as many `Scribbles` (class 0); its other eight outputs are unused.
///
/// `@unchecked Sendable` for the reason `Classifier` is.
public final class DigitDetector: @unchecked Sendable {
    let classifier: Classifier

    /// The detector's classes: 0 and 1 are trained, the rest never are.
    public static let classNames = ["not a digit", "digit"] + (2..<LeNet5.classes).map { "unused \($0)" }
    /// Below this probability of being a digit, a drawing is reported as perhaps not one.
    public static let threshold: Float = 0.5

    public init(checkpoint: Checkpoint) {
        classifier = Classifier(model: checkpoint.model, classNames: Self.classNames)
    }

    /// The detector bundled with the library (`Sources/LeNet/Resources/digit-detector.safetensors`).
    public static func pretrained() throws(CheckpointError) -> DigitDetector {
        guard let url = Bundle.module.url(forResource: "digit-detector", withExtension: "safetensors") else {
            throw .cannotRead(.notFound(path: "the package's digit-detector.safetensors resource"))
        }
        return DigitDetector(checkpoint: try Checkpoint(contentsOf: url))
    }

    /// The probability that `image`, prepared as MNIST's digits are (`Classification.input`),
    /// is a digit.
    public func digitProbability(_ image: GrayImage) -> Float {
        classifier.classify(prepared: image).probabilities[1]
    }
}
