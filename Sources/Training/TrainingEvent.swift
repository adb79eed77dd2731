import Foundation
import LeNet

/// What a training session publishes, in order: `started`, then `batch` after every SGD step
/// and `epoch` after every epoch (each followed by its `checkpoint`s), possibly `paused` and
/// `resumed`, and last exactly one of `finished`, `stopped` or `failed`.
///
/// As JSON: `{"type": "batch", "data": {...}}`, the data being the payload's fields.
public enum TrainingEvent: Sendable, Equatable {
    case started(RunStart)
    case batch(BatchProgress)
    case epoch(EpochSummary)
    case checkpoint(CheckpointWritten)
    case paused(Position)
    case resumed(Position)
    case finished(RunResult)
    case stopped(RunStop)
    case failed(RunFailure)

    /// Whether nothing follows this event.
    public var isFinal: Bool {
        switch self {
        case .finished, .stopped, .failed: true
        default: false
        }
    }
}

/// How a run begins.
public struct RunStart: Sendable, Equatable, Codable {
    public let configuration: TrainingConfiguration
    public let parameterCount: Int
    public let trainingImages: Int
    public let validationImages: Int
    public let testImages: Int
    public let normalizationMean: Float
    public let normalizationStandardDeviation: Float
    public let classNames: [String]
    public let batchesPerEpoch: Int
    /// The least loss the run's targets allow (`TrainingConfiguration.lossFloor`).
    public let lossFloor: Double
    /// Where a resumed run continues (epoch and batch 1-based); nil for a new run.
    public let resumedAt: Position?
    /// The run's folder as the session was given it (relative stays relative).
    public let directory: String
}

/// A point in training: epoch and batch, both 1-based, of `batches` per epoch.
public struct Position: Sendable, Equatable, Codable {
    public let epoch: Int
    public let batch: Int
    public let batches: Int
}

/// Progress inside an epoch, reported after every batch.
public struct BatchProgress: Sendable, Equatable, Codable {
    public let epoch: Int
    public let batch: Int
    public let batches: Int
    /// This batch's mean loss per image.
    public let loss: Double
    /// Mean loss per image over the epoch so far.
    public let runningLoss: Double
    /// Over the batches trained since this epoch started or resumed.
    public let imagesPerSecond: Double
    /// Seconds spent training since this epoch started or resumed, pauses left out.
    public let elapsed: Double
}

/// What one epoch did.
public struct EpochSummary: Sendable, Equatable, Codable {
    /// 1-based.
    public let epoch: Int
    public let epochs: Int
    public let learningRate: Float
    /// Mean training loss per image over the epoch's batches.
    public let loss: Double
    public let train: Score
    public let validation: Score?
    public let test: Score
    /// Time of the training pass (evaluation and pauses excluded).
    public let trainingSeconds: Double
    public let evaluationSeconds: Double
    public let imagesPerSecond: Double
    /// The predicted class of each of the first test images, for a live view of them.
    public let testSample: [Int]
    /// The test set's counts[true class][predicted class] after this epoch.
    public let confusionMatrix: [[Int]]
}

/// A checkpoint that reached the disk.
public struct CheckpointWritten: Sendable, Equatable, Codable {
    /// Which of a run's checkpoints it is.
    public enum Kind: String, Sendable, Codable {
        /// `epoch-NN.safetensors`: the weights after an epoch.
        case epoch
        /// `resume.safetensors`: everything to continue from here.
        case resume
        /// `best.safetensors`: the selected epoch's weights.
        case best
    }

    public let kind: Kind
    public let path: String
    public let epoch: Int
}

/// How a finished run ended.
public struct RunResult: Sendable, Equatable, Codable {
    /// The epochs trained by this run (not those before a resume).
    public let epochs: [EpochSummary]
    public let best: EpochRecord
    public let selection: ModelSelection
    public let bestCheckpoint: String
    /// The reloaded best checkpoint on the test set.
    public let finalTest: Score
    /// counts[true class][predicted class].
    public let confusionMatrix: [[Int]]
    /// The most confident mistakes, most confident first.
    public let mistakes: [Mistake]
    /// Files of the report written beside the checkpoints.
    public let reportFiles: [String]
    /// A stop was requested after the last batch, when nothing was left to stop: the run finished.
    public let stopCameLate: Bool
}

/// A run stopped on request; `resumeCheckpoint` continues exactly from `position`.
public struct RunStop: Sendable, Equatable, Codable {
    /// The last batch trained.
    public let position: Position
    public let resumeCheckpoint: String
}

/// A run that could not go on.
public struct RunFailure: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

extension TrainingEvent: Codable {
    private enum Key: String, CodingKey {
        case type, data
    }

    public func encode(to encoder: any Encoder) throws {
        let (type, data): (String, any Encodable) = switch self {
        case .started(let value): ("started", value)
        case .batch(let value): ("batch", value)
        case .epoch(let value): ("epoch", value)
        case .checkpoint(let value): ("checkpoint", value)
        case .paused(let value): ("paused", value)
        case .resumed(let value): ("resumed", value)
        case .finished(let value): ("finished", value)
        case .stopped(let value): ("stopped", value)
        case .failed(let value): ("failed", value)
        }
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(type, forKey: .type)
        try container.encode(data, forKey: .data)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "started": self = .started(try container.decode(RunStart.self, forKey: .data))
        case "batch": self = .batch(try container.decode(BatchProgress.self, forKey: .data))
        case "epoch": self = .epoch(try container.decode(EpochSummary.self, forKey: .data))
        case "checkpoint": self = .checkpoint(try container.decode(CheckpointWritten.self, forKey: .data))
        case "paused": self = .paused(try container.decode(Position.self, forKey: .data))
        case "resumed": self = .resumed(try container.decode(Position.self, forKey: .data))
        case "finished": self = .finished(try container.decode(RunResult.self, forKey: .data))
        case "stopped": self = .stopped(try container.decode(RunStop.self, forKey: .data))
        case "failed": self = .failed(try container.decode(RunFailure.self, forKey: .data))
        default: throw DecodingError.dataCorruptedError(forKey: .type, in: container, debugDescription: "unknown event '\(type)'")
        }
    }
}
