import Datasets
import Foundation
import LeNet

/// The accuracies that select the best epoch, kept in resumable checkpoints.
public struct EpochRecord: Sendable, Equatable, Codable {
    /// 1-based.
    public let epoch: Int
    public let validationCorrect: Int?
    public let testCorrect: Int
}

/// Everything besides the weights and momentum that a resume needs to continue bit-identically:
/// stored as JSON in `resume.safetensors` under `TrainingState.metadataKey`.
public struct TrainingState: Sendable, Equatable, Codable {
    public static let metadataKey = "training_state"

    public var configuration: TrainingConfiguration
    /// Completed epochs.
    public var epoch = 0
    /// Completed SGD steps.
    public var step = 0
    /// Completed batches of the current epoch (non-zero only after a stop).
    public var batchInEpoch = 0
    /// The summed loss of those batches.
    public var epochLossSum = 0.0
    /// How many of those batches' images the training pass classified right; nil in a state
    /// saved before it was counted (that epoch's training accuracy is then measured afresh).
    public var epochCorrect: Int? = 0
    /// The generator as it was when the current epoch began.
    public var randomState: UInt64
    public var history: [EpochRecord] = []
    /// Of the training images and labels, so a resume on other data is refused.
    public var dataFingerprint: String
    /// Names of the classes, saved in every checkpoint.
    public var classNames: [String]

    public init(configuration: TrainingConfiguration, randomState: UInt64, dataFingerprint: String, classNames: [String]) {
        self.configuration = configuration
        self.randomState = randomState
        self.dataFingerprint = dataFingerprint
        self.classNames = classNames
    }

    /// The state as checkpoint metadata.
    var metadataValue: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Encoding plain numbers, strings and arrays cannot fail.
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// The state a resume checkpoint holds: JSON under `metadataKey`, or the separate keys of
    /// checkpoints written before it existed.
    public init(metadata: [String: String]) throws(StateError) {
        if let json = metadata[Self.metadataKey] {
            do {
                self = try JSONDecoder().decode(TrainingState.self, from: Data(json.utf8))
            } catch {
                throw .unreadable(String(describing: error))
            }
        } else if metadata["rng_state"] != nil {
            try self.init(legacyMetadata: metadata)
        } else {
            throw .weightsOnly
        }
        try validate()
    }

    /// Format 1 before `training_state`: the configuration's keys plus `rng_state`, `epoch`,
    /// `step`, `batch_in_epoch`, `epoch_loss_sum`, `data_fingerprint` and `history` as
    /// `epoch:validationCorrect-or-dash:testCorrect,...`.
    private init(legacyMetadata m: [String: String]) throws(StateError) {
        func value<T>(_ key: String, _ parse: (String) -> T?) throws(StateError) -> T {
            guard let text = m[key], let parsed = parse(text) else { throw .invalid(field: key, value: m[key] ?? "missing") }
            return parsed
        }
        do {
            configuration = try TrainingConfiguration(metadata: m)
        } catch {
            throw .invalid(field: error.key, value: error.value ?? "missing")
        }
        randomState = try value("rng_state") { UInt64($0) }
        epoch = try value("epoch") { Int($0) }
        step = try value("step") { Int($0) }
        batchInEpoch = try value("batch_in_epoch") { Int($0) }
        epochLossSum = try value("epoch_loss_sum") { Double($0) }
        epochCorrect = nil
        dataFingerprint = try value("data_fingerprint") { $0 }
        history = try value("history") { text -> [EpochRecord]? in
            var records: [EpochRecord] = []
            for item in text.split(separator: ",") {
                let fields = item.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                guard fields.count == 3, let epoch = Int(fields[0]), let test = Int(fields[2]) else { return nil }
                let validation = Int(fields[1])
                guard validation != nil || fields[1] == "-" else { return nil }
                records.append(EpochRecord(epoch: epoch, validationCorrect: validation, testCorrect: test))
            }
            return records
        }
        classNames = ClassNames.decode(m["class_names"]) ?? ClassNames.digits
    }

    /// Refuses values no run could have written, naming the field: the configuration is held to
    /// the ranges `lenet5 train` accepts (a resume cannot do what `train` refuses), the position
    /// to within the run. That `step` is the batches before it is checked where the batches per
    /// epoch are known (`Trainer(resuming:)`).
    func validate() throws(StateError) {
        if let (field, message) = configuration.problem { throw .invalid(field: field, value: message) }
        let c = configuration
        // The images of the epoch's batches so far, bounding `epochCorrect` (any batchInEpoch: it is checked below).
        let seen = batchInEpoch.multipliedReportingOverflow(by: c.batchSize)
        let checks: [(String, Bool, String)] = [
            ("epoch", (0...c.epochs).contains(epoch), "\(epoch) of \(c.epochs) epochs"),
            ("step", step >= 0, "\(step)"),
            ("batch_in_epoch", (0...TrainingConfiguration.batchSizeRange.upperBound).contains(batchInEpoch), "\(batchInEpoch)"),
            ("epoch_loss_sum", epochLossSum >= 0 && epochLossSum.isFinite, "\(epochLossSum)"),
            ("epoch_correct", epochCorrect.map { !seen.overflow && $0 >= 0 && $0 <= seen.partialValue } ?? true,
             "\(epochCorrect ?? 0) for \(batchInEpoch) batches of \(c.batchSize)"),
            ("history", history.enumerated().allSatisfy { $1.epoch == $0 + 1 } && history.count == epoch, "\(history.count) records for \(epoch) epochs"),
            ("history", history.allSatisfy { ($0.validationCorrect ?? 0) >= 0 && $0.testCorrect >= 0 }, "a negative count of correct answers"),
            ("class_names", ClassNames.problem(classNames) == nil, ClassNames.problem(classNames) ?? ""),
        ]
        if let (field, _, value) = checks.first(where: { !$0.1 }) { throw .invalid(field: field, value: value) }
    }
}

/// Why a checkpoint's training state cannot be resumed.
public enum StateError: Error, Equatable, CustomStringConvertible {
    /// The checkpoint has weights but no training state.
    case weightsOnly
    case unreadable(String)
    case invalid(field: String, value: String)

    public var description: String {
        switch self {
        case .weightsOnly: "it holds weights only; resume from the resume.safetensors that training writes beside it"
        case .unreadable(let reason): "its training state is unreadable: \(reason)"
        case .invalid(let field, let value): "its training state has an impossible \(field): \(value)"
        }
    }
}
