import Datasets
import Foundation
import Kernels

/// Progress inside an epoch, reported after every batch.
public struct BatchProgress: Sendable {
    public let epoch: Int
    public let batch: Int
    public let batches: Int
    /// Mean loss per image over the epoch so far.
    public let runningLoss: Double
    /// Over the batches trained since this epoch started or resumed.
    public let imagesPerSecond: Double
    public let elapsed: Double
}

/// The accuracies that select the best epoch, kept in resumable checkpoints.
public struct EpochRecord: Sendable, Equatable {
    /// 1-based.
    public let epoch: Int
    public let validationCorrect: Int?
    public let testCorrect: Int
}

/// What one epoch did.
public struct EpochReport: Sendable {
    /// 1-based.
    public let epoch: Int
    public let learningRate: Float
    /// Mean training loss per image over the epoch's batches.
    public let loss: Double
    public let train: Evaluation
    public let validation: Evaluation?
    public let test: Evaluation
    /// Wall time of the training pass (evaluation excluded).
    public let trainingSeconds: Double
    public let evaluationSeconds: Double
    public let imagesPerSecond: Double
    public let checkpoint: URL

    var record: EpochRecord {
        EpochRecord(epoch: epoch, validationCorrect: validation?.correct, testCorrect: test.correct)
    }
}

/// How `Trainer.run` ended.
public enum TrainingOutcome: Sendable {
    case finished(TrainingSummary)
    /// Stopped on request after a batch; `resumeCheckpoint` continues exactly from there.
    case stopped(resumeCheckpoint: URL, epoch: Int, batch: Int, batches: Int)
}

/// The outcome of a finished `Trainer.run`.
public struct TrainingSummary: Sendable {
    /// The epochs trained by this run (not those before a resume).
    public let reports: [EpochReport]
    public let best: EpochRecord
    public let bestCheckpoint: URL
    /// The reloaded best checkpoint on the test set, logits included.
    public let finalTest: Evaluation
}

/// Trains LeNet-5 with SGD: the data split, the optimizer state and the random stream.
///
/// Every epoch's order is a fresh shuffle of 0..<n drawn from the generator's state at the start
/// of the epoch, so that state, the weights, the momentum and the position within the epoch are
/// all a resume needs to continue bit-identically.
public final class Trainer {
    public private(set) var configuration: TrainingConfiguration
    public let train: LabeledImages
    public let validation: LabeledImages?
    public let test: LabeledImages
    public private(set) var model: Model
    /// Names of the 10 classes, saved in every checkpoint (Fashion-MNIST's when recognised).
    public var classNames: [String]
    /// Completed epochs.
    public private(set) var epoch = 0
    /// Completed SGD steps.
    public private(set) var step = 0
    /// Completed batches of the current epoch (non-zero only after a stop).
    public private(set) var batchInEpoch = 0
    /// The summed loss of those batches.
    private var epochLossSum = 0.0
    /// The generator as it was when the current epoch began.
    private var random: SplitMix64
    private var velocity: [Float]
    private var history: [EpochRecord] = []
    /// Of the training images and labels, so a resume on other data is refused.
    private let dataFingerprint: String
    package let runner: Runner

    /// Splits off the validation images, computes the normalisation from the training images
    /// and initialises the weights.
    /// - Throws: `TrainingError` if the images are not 28x28 or the split leaves nothing to train on.
    public init(configuration: TrainingConfiguration, dataset: IDXDataset) throws(TrainingError) {
        (train, validation, test) = try Self.split(dataset, configuration: configuration)
        self.configuration = configuration
        random = SplitMix64(seed: configuration.seed)
        model = Model(
            parameters: configuration.initialization.parameters(using: &random),
            normalization: Normalization(statisticsOf: train))
        velocity = [Float](repeating: 0, count: ParameterLayout.count)
        classNames = ClassNames.recognized(dataset)
        dataFingerprint = String(fnv1a(train.pixels, train.labels), radix: 16)
        runner = Runner(threads: configuration.threads)
    }

    /// Continues the run saved in `checkpoint` (a `resume.safetensors`) on the same data.
    /// - Parameters:
    ///   - epochs: a new total number of epochs, if given.
    ///   - threads: a different thread count, if given (results then differ in the last bits).
    public init(resuming checkpoint: Checkpoint, dataset: IDXDataset, epochs: Int? = nil, threads: Int? = nil) throws(TrainingError) {
        let m = checkpoint.metadata
        guard let momentum = checkpoint.momentum, let state = m["rng_state"].flatMap({ UInt64($0) }),
            let epoch = m["epoch"].flatMap({ Int($0) }), let step = m["step"].flatMap({ Int($0) }),
            let batch = m["batch_in_epoch"].flatMap({ Int($0) }), let lossSum = m["epoch_loss_sum"].flatMap({ Double($0) }),
            let history = m["history"].flatMap(Self.parseHistory)
        else { throw .notResumable }
        var configuration: TrainingConfiguration
        do {
            configuration = try TrainingConfiguration(metadata: m)
        } catch {
            throw .notResumable
        }
        if let epochs { configuration.epochs = epochs }
        if let threads { configuration.threads = threads }
        (train, validation, test) = try Self.split(dataset, configuration: configuration)
        dataFingerprint = String(fnv1a(train.pixels, train.labels), radix: 16)
        guard m["data_fingerprint"] == dataFingerprint else { throw .differentData }
        self.configuration = configuration
        self.model = checkpoint.model
        self.velocity = momentum
        self.random = SplitMix64(seed: state)
        self.epoch = epoch
        self.step = step
        self.batchInEpoch = batch
        self.epochLossSum = lossSum
        self.history = history
        classNames = ClassNames.decode(m["class_names"]) ?? ClassNames.recognized(dataset)
        runner = Runner(threads: configuration.threads)
    }

    private static func split(_ dataset: IDXDataset, configuration: TrainingConfiguration) throws(TrainingError)
        -> (LabeledImages, LabeledImages?, LabeledImages)
    {
        guard dataset.train.height == LeNet5.imageSide, dataset.train.width == LeNet5.imageSide else {
            throw .unsupportedImageSize(height: dataset.train.height, width: dataset.train.width)
        }
        let trainCount = dataset.train.count - configuration.validationSize
        guard configuration.validationSize >= 0, trainCount > 0 else {
            throw .validationTooLarge(validation: configuration.validationSize, available: dataset.train.count)
        }
        if configuration.selection == .validation && configuration.validationSize == 0 {
            throw .selectionNeedsValidation
        }
        let validation = configuration.validationSize > 0 ? dataset.train.slice(trainCount..<dataset.train.count) : nil
        return (dataset.train.slice(0..<trainCount), validation, dataset.test)
    }

    public var batchesPerEpoch: Int { (train.count + configuration.batchSize - 1) / configuration.batchSize }

    /// Trains the rest of the current epoch, or up to a requested stop.
    /// - Parameter shouldStop: asked after every batch; `true` ends the pass early.
    /// - Returns: the epoch's mean loss per image and the seconds it took, or nil if stopped early.
    public func trainEpoch(progress: (BatchProgress) -> Void = { _ in }, shouldStop: () -> Bool = { false })
        -> (loss: Double, seconds: Double)?
    {
        let learningRate = configuration.schedule.rate(epoch: epoch, of: configuration.epochs)
        var shuffler = random
        var order = Array(0..<train.count)
        shuffler.shuffle(&order)
        let batches = batchesPerEpoch
        let start = DispatchTime.now()
        let firstBatch = batchInEpoch
        while batchInEpoch < batches {
            let b = batchInEpoch
            let indices = order[b * configuration.batchSize..<min((b + 1) * configuration.batchSize, order.count)]
            epochLossSum += runner.gradient(of: model, on: train, indices: indices)
            model.parameters.withUnsafeMutableBufferPointer { parameters in
                velocity.withUnsafeMutableBufferPointer { velocity in
                    sgdStep(
                        parameters: parameters.baseAddress!, gradients: runner.parameterGradients,
                        velocity: velocity.baseAddress!, count: ParameterLayout.count, learningRate: learningRate,
                        momentum: configuration.momentum, weightDecay: configuration.weightDecay)
                }
            }
            step += 1
            batchInEpoch += 1
            let elapsed = seconds(since: start)
            let trained = min(batchInEpoch * configuration.batchSize, order.count)
            progress(BatchProgress(
                epoch: epoch + 1, batch: batchInEpoch, batches: batches, runningLoss: epochLossSum / Double(trained),
                imagesPerSecond: Double(trained - firstBatch * configuration.batchSize) / max(elapsed, 1e-9),
                elapsed: elapsed))
            if batchInEpoch < batches && shouldStop() { return nil }
        }
        let loss = epochLossSum / Double(order.count)
        epoch += 1
        batchInEpoch = 0
        epochLossSum = 0
        random = shuffler
        return (loss, seconds(since: start))
    }

    /// Trains until the configured number of epochs. After each epoch it evaluates on the
    /// training, validation and test images, saves the weights as `epoch-NN.safetensors` and
    /// the whole training state as `resume.safetensors` in `outputDirectory`. At the end it
    /// copies the selected epoch's checkpoint to `best.safetensors`, reloads it and tests it.
    ///
    /// - Parameter shouldStop: asked after every batch and epoch; `true` saves the state to
    ///   `resume.safetensors` and returns `.stopped`.
    public func run(
        outputDirectory: URL, progress: (BatchProgress) -> Void = { _ in }, epochFinished: (EpochReport) -> Void = { _ in },
        shouldStop: () -> Bool = { false }
    ) throws(TrainingError) -> TrainingOutcome {
        do {
            try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        } catch {
            throw .cannotCreateDirectory(path: outputDirectory.path, reason: error.localizedDescription)
        }
        let resumeURL = outputDirectory.appendingPathComponent("resume.safetensors")
        var reports: [EpochReport] = []
        while epoch < configuration.epochs {
            let learningRate = configuration.schedule.rate(epoch: epoch, of: configuration.epochs)
            guard let (loss, trainingSeconds) = trainEpoch(progress: progress, shouldStop: shouldStop) else {
                try save(resumeCheckpoint(), to: resumeURL)
                return .stopped(resumeCheckpoint: resumeURL, epoch: epoch + 1, batch: batchInEpoch, batches: batchesPerEpoch)
            }
            let evaluationStart = DispatchTime.now()
            let trainEvaluation = runner.evaluate(model, on: train)
            let validationEvaluation = validation.map { runner.evaluate(model, on: $0) }
            let testEvaluation = runner.evaluate(model, on: test)
            let url = outputDirectory.appendingPathComponent(String(format: "epoch-%02d.safetensors", epoch))
            var metadata = checkpointMetadata
            metadata["train_accuracy"] = "\(trainEvaluation.accuracy)"
            metadata["validation_accuracy"] = validationEvaluation.map { "\($0.accuracy)" } ?? "none"
            metadata["test_accuracy"] = "\(testEvaluation.accuracy)"
            try save(Checkpoint(model: model, metadata: metadata), to: url)
            let report = EpochReport(
                epoch: epoch, learningRate: learningRate, loss: loss, train: trainEvaluation,
                validation: validationEvaluation, test: testEvaluation, trainingSeconds: trainingSeconds,
                evaluationSeconds: seconds(since: evaluationStart),
                imagesPerSecond: Double(train.count) / trainingSeconds, checkpoint: url)
            history.append(report.record)
            try save(resumeCheckpoint(), to: resumeURL)
            reports.append(report)
            epochFinished(report)
            if epoch < configuration.epochs && shouldStop() {
                return .stopped(resumeCheckpoint: resumeURL, epoch: epoch + 1, batch: 0, batches: batchesPerEpoch)
            }
        }
        guard let best = Self.select(history, by: configuration.selection) else { throw .nothingToSelect }
        let bestURL = outputDirectory.appendingPathComponent("best.safetensors")
        do {
            let source = outputDirectory.appendingPathComponent(String(format: "epoch-%02d.safetensors", best.epoch))
            try Checkpoint(contentsOf: source).write(to: bestURL)
            let reloaded = try Checkpoint(contentsOf: bestURL)
            let finalTest = runner.evaluate(reloaded.model, on: test, keepLogits: true)
            return .finished(TrainingSummary(reports: reports, best: best, bestCheckpoint: bestURL, finalTest: finalTest))
        } catch {
            throw .checkpoint(error)
        }
    }

    private func save(_ checkpoint: Checkpoint, to url: URL) throws(TrainingError) {
        do {
            try checkpoint.write(to: url)
        } catch {
            throw .checkpoint(error)
        }
    }

    /// What every checkpoint of this run records: the configuration, the class names, and how
    /// far training has come.
    private var checkpointMetadata: [String: String] {
        var metadata = configuration.metadata
        metadata["epoch"] = "\(epoch)"
        metadata["step"] = "\(step)"
        metadata["class_names"] = ClassNames.encode(classNames)
        return metadata
    }

    /// Everything needed to continue exactly from this point.
    public func resumeCheckpoint() -> Checkpoint {
        var metadata = checkpointMetadata
        metadata["batch_in_epoch"] = "\(batchInEpoch)"
        metadata["epoch_loss_sum"] = "\(epochLossSum)"
        metadata["rng_state"] = "\(random.state)"
        metadata["history"] = history.map { "\($0.epoch):\($0.validationCorrect.map(String.init) ?? "-"):\($0.testCorrect)" }
            .joined(separator: ",")
        metadata["data_fingerprint"] = dataFingerprint
        return Checkpoint(model: model, metadata: metadata, momentum: velocity)
    }

    private static func parseHistory(_ text: String) -> [EpochRecord]? {
        var records: [EpochRecord] = []
        for item in text.split(separator: ",") {
            let fields = item.split(separator: ":").map(String.init)
            guard fields.count == 3, let epoch = Int(fields[0]), let test = Int(fields[2]) else { return nil }
            let validation = Int(fields[1])
            guard validation != nil || fields[1] == "-" else { return nil }
            records.append(EpochRecord(epoch: epoch, validationCorrect: validation, testCorrect: test))
        }
        return records
    }

    /// The epoch to keep; ties go to the earlier epoch.
    static func select(_ records: [EpochRecord], by selection: ModelSelection) -> EpochRecord? {
        switch selection {
        case .last: records.last
        case .validation: records.max { ($0.validationCorrect ?? 0, $1.epoch) < ($1.validationCorrect ?? 0, $0.epoch) }
        case .test: records.max { ($0.testCorrect, $1.epoch) < ($1.testCorrect, $0.epoch) }
        }
    }
}

/// Why training could not start or finish.
public enum TrainingError: Error, CustomStringConvertible {
    case unsupportedImageSize(height: Int, width: Int)
    case validationTooLarge(validation: Int, available: Int)
    case selectionNeedsValidation
    case cannotCreateDirectory(path: String, reason: String)
    case checkpoint(CheckpointError)
    case nothingToSelect
    case notResumable
    case differentData

    public var description: String {
        switch self {
        case .unsupportedImageSize(let h, let w):
            "LeNet-5 here takes \(LeNet5.imageSide)x\(LeNet5.imageSide) images (padded to \(LeNet5.inputSide)x\(LeNet5.inputSide)); the data set has \(h)x\(w)"
        case .validationTooLarge(let v, let available):
            "a validation split of \(v) images leaves nothing to train on: the training file has \(available)"
        case .selectionNeedsValidation:
            "selecting the best epoch on validation needs a validation split; use --select last or test with --validation-size 0"
        case .cannotCreateDirectory(let path, let reason):
            "cannot create output directory \(path): \(reason)"
        case .checkpoint(let error):
            error.description
        case .nothingToSelect:
            "no epoch was trained, so there is no checkpoint to select"
        case .notResumable:
            "this checkpoint holds weights only; resume from the resume.safetensors that training writes beside it"
        case .differentData:
            "this checkpoint was trained on different training images; resume with the same --data"
        }
    }
}

package func seconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}
