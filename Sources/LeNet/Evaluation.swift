import Foundation
import Kernels

/// The outcome of running a model over a set of labelled images.
public struct Evaluation: Sendable {
    public let predictions: [UInt8]
    public let labels: [UInt8]
    /// Summed cross-entropy.
    public let loss: Double
    /// (count, 10) row-major, when asked for.
    public var logits: [Float]? = nil

    public var count: Int { labels.count }
    public var correct: Int { zip(predictions, labels).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) } }
    /// In percent.
    public var accuracy: Double { count == 0 ? 0 : 100 * Double(correct) / Double(count) }
    public var meanLoss: Double { count == 0 ? 0 : loss / Double(count) }

    /// Wrong predictions with the softmax probability of the predicted class, most confident
    /// first, at most `limit`.
    /// - Precondition: the logits were kept.
    public func mistakes(limit: Int) -> [Mistake] {
        guard let logits else { preconditionFailure("mistakes need the logits") }
        let classes = LeNet5.classes
        var mistakes: [Mistake] = []
        for i in labels.indices where predictions[i] != labels[i] {
            let probabilities = softmax(logits[i * classes..<(i + 1) * classes].map(Double.init))
            mistakes.append(Mistake(index: i, label: Int(labels[i]), predicted: Int(predictions[i]), confidence: probabilities[Int(predictions[i])]))
        }
        return Array(mistakes.sorted { ($0.confidence, $1.index) > ($1.confidence, $0.index) }.prefix(limit))
    }

    /// Correct answers out of the count.
    public var score: Score { Score(correct: correct, count: count) }

    /// matrix[true][predicted] counts.
    public var confusionMatrix: [[Int]] {
        var matrix = [[Int]](repeating: [Int](repeating: 0, count: LeNet5.classes), count: LeNet5.classes)
        for (p, t) in zip(predictions, labels) { matrix[Int(t)][Int(p)] += 1 }
        return matrix
    }
}

/// Correct answers out of a count; as JSON with its `accuracy` too.
public struct Score: Sendable, Equatable, Codable {
    public let correct: Int
    public let count: Int

    public init(correct: Int, count: Int) {
        self.correct = correct
        self.count = count
    }

    /// In percent.
    public var accuracy: Double { count == 0 ? 0 : 100 * Double(correct) / Double(count) }

    private enum Key: String, CodingKey {
        case correct, count, accuracy
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        self.init(correct: try container.decode(Int.self, forKey: .correct), count: try container.decode(Int.self, forKey: .count))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(correct, forKey: .correct)
        try container.encode(count, forKey: .count)
        try container.encode(accuracy, forKey: .accuracy)
    }
}

/// One of the final test's mistakes.
public struct Mistake: Sendable, Equatable, Codable {
    /// Index in the test set.
    public let index: Int
    public let label: Int
    public let predicted: Int
    /// Softmax probability of the predicted class.
    public let confidence: Double
}
