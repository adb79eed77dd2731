import Datasets
import Foundation
import Imaging
import LeNet
import Training

/// The private copies of models that visitors are correcting ("correct it" on the page): each a
/// `FineTuning` of a model, known by an id the page keeps, in memory only until it is saved as a
/// run. At most `limit` at once; a new one pushes out the one least recently used.
///
/// `@unchecked Sendable`: every member is touched only under `lock` (a correction's few steps
/// take tens of milliseconds).
final class Corrections: @unchecked Sendable {
    struct Copy {
        let base: String
        let tuning: FineTuning
        /// MNIST's test accuracy of the model it started from, and after the last correction.
        let testAccuracyBefore: Double
        var testAccuracy: Double
        var used: ContinuousClock.Instant
    }

    private let lock = NSLock()
    private var copies: [String: Copy] = [:]
    static let limit = 8

    /// What one correction did.
    struct Result: Codable {
        let copy: String
        let base: String
        let label: Int
        let corrections: Int
        let steps: [FineTuning.Step]
        let readsRight: Bool
        let testAccuracyBefore: Double
        let testAccuracy: Double
    }

    /// Corrects `image` (prepared) to `label` in copy `id`, or in a new copy of `base`'s
    /// `classifier` when `id` is nil.
    /// - Throws: 404 for an unknown copy.
    func correct(_ image: GrayImage, as label: Int, copy id: String?, base: String, classifier: Classifier, data: IDXDataset) throws(APIError) -> Result {
        lock.lock()
        defer { lock.unlock() }
        var copy: Copy
        let key: String
        if let id {
            guard let existing = copies[id] else { throw APIError(status: .notFound, message: "no copy '\(id)': it was never made, or pushed out by newer ones", field: "copy") }
            (key, copy) = (id, existing)
        } else {
            let before = Runner(threads: 1).evaluate(classifier.model, on: data.test).score.accuracy
            key = "copy-" + UUID().uuidString.prefix(8).lowercased()
            copy = Copy(base: base, tuning: FineTuning(model: classifier.model, digits: data.train), testAccuracyBefore: before, testAccuracy: before, used: .now)
        }
        let steps = copy.tuning.correct(image, as: label)
        copy.testAccuracy = Runner(threads: 1).evaluate(copy.tuning.model, on: data.test).score.accuracy
        copy.used = .now
        copies[key] = copy
        if copies.count > Self.limit, let oldest = copies.min(by: { $0.value.used < $1.value.used })?.key { copies[oldest] = nil }
        return Result(
            copy: key, base: copy.base, label: label, corrections: copy.tuning.corrections.count, steps: steps,
            readsRight: copy.tuning.readsEveryCorrection, testAccuracyBefore: copy.testAccuracyBefore, testAccuracy: copy.testAccuracy)
    }

    /// The copy's current classifier, or nil for an unknown id.
    func classifier(_ id: String) -> Classifier? {
        lock.withLock { copies[id].map { Classifier(model: $0.tuning.model) } }
    }

    /// The copy as a checkpoint with its story in the metadata, or nil for an unknown id.
    func checkpoint(_ id: String) -> Checkpoint? {
        lock.withLock {
            copies[id].map { copy in
                Checkpoint(model: copy.tuning.model, metadata: [
                    "fine_tuned_from": copy.base, "corrections": "\(copy.tuning.corrections.count)",
                    "test_accuracy": "\(copy.testAccuracy)", "class_names": ClassNames.encode(ClassNames.digits),
                ])
            }
        }
    }
}
