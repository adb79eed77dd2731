import Datasets
import Foundation
import Kernels

/// Which epoch's checkpoint the final test uses.
public enum ModelSelection: String, CaseIterable, Sendable {
    /// Highest accuracy on the held-out validation split (needs a validation split).
    case validation
    /// The last epoch.
    case last
    /// Highest test accuracy, as the original did. Optimistic: the reported test accuracy is then
    /// not an unbiased estimate.
    case test
}

/// Everything that determines a training run.
public struct TrainingConfiguration: Sendable, Equatable {
    public var epochs = 10
    public var batchSize = 64
    public var schedule = LearningRateSchedule.cosine(base: 0.05)
    public var momentum: Float = 0.9
    public var weightDecay: Float = 0
    public var initialization = Initialization.pytorch
    public var seed: UInt64 = 1
    /// Images held out from the end of the training file to select the best epoch; 0 allowed.
    public var validationSize = 5000
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    public var selection = ModelSelection.validation

    public init() {}

    /// The original exercise's hyper-parameters: 20 epochs, batch 8, its learning-rate list,
    /// plain SGD, weights N(0, 0.1) and biases 0.01.
    public static var original: TrainingConfiguration {
        var c = TrainingConfiguration()
        c.epochs = 20
        c.batchSize = 8
        c.schedule = .original
        c.momentum = 0
        c.weightDecay = 0
        c.initialization = .normal
        return c
    }

    /// The hyper-parameters as checkpoint metadata.
    public var metadata: [String: String] {
        [
            "epochs": "\(epochs)", "batch_size": "\(batchSize)", "schedule": schedule.description,
            "momentum": "\(momentum)", "weight_decay": "\(weightDecay)", "init": initialization.rawValue,
            "seed": "\(seed)", "validation_size": "\(validationSize)", "selection": selection.rawValue,
        ]
    }
}

/// Progress inside an epoch, reported after every batch.
public struct BatchProgress: Sendable {
    public let epoch: Int
    public let batch: Int
    public let batches: Int
    /// Mean loss per image over the epoch so far.
    public let runningLoss: Double
    public let imagesPerSecond: Double
    public let elapsed: Double
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
}

/// Trains LeNet-5 with SGD: the data split, the optimizer state and the random stream.
public final class Trainer {
    public let configuration: TrainingConfiguration
    public let train: LabeledImages
    public let validation: LabeledImages?
    public let test: LabeledImages
    public private(set) var model: Model
    /// Completed epochs.
    public private(set) var epoch = 0
    /// Completed SGD steps.
    public private(set) var step = 0
    let runner: Runner
    private var velocity: [Float]
    private var random: SplitMix64
    private var order: [Int]

    /// Splits off the validation images, computes the normalisation from the training images
    /// and initialises the weights.
    /// - Throws: `TrainingError` if the images are not 28x28 or the split leaves nothing to train on.
    public init(configuration: TrainingConfiguration, dataset: IDXDataset) throws(TrainingError) {
        guard dataset.train.height == 28, dataset.train.width == 28 else {
            throw .unsupportedImageSize(height: dataset.train.height, width: dataset.train.width)
        }
        let trainCount = dataset.train.count - configuration.validationSize
        guard configuration.validationSize >= 0, trainCount > 0 else {
            throw .validationTooLarge(validation: configuration.validationSize, available: dataset.train.count)
        }
        if configuration.selection == .validation && configuration.validationSize == 0 {
            throw .selectionNeedsValidation
        }
        self.configuration = configuration
        train = dataset.train.slice(0..<trainCount)
        validation = configuration.validationSize > 0 ? dataset.train.slice(trainCount..<dataset.train.count) : nil
        test = dataset.test
        random = SplitMix64(seed: configuration.seed)
        model = Model(
            parameters: configuration.initialization.parameters(using: &random),
            normalization: Normalization(statisticsOf: train))
        velocity = [Float](repeating: 0, count: ParameterLayout.count)
        order = Array(0..<trainCount)
        runner = Runner(threads: configuration.threads)
    }

    /// One pass over the shuffled training images in mini-batches.
    /// - Returns: the mean loss per image and the seconds it took.
    public func trainEpoch(progress: (BatchProgress) -> Void = { _ in }) -> (loss: Double, seconds: Double) {
        let learningRate = configuration.schedule.rate(epoch: epoch, of: configuration.epochs)
        random.shuffle(&order)
        let batches = (order.count + configuration.batchSize - 1) / configuration.batchSize
        let start = DispatchTime.now()
        var lossSum = 0.0
        for b in 0..<batches {
            let indices = order[b * configuration.batchSize..<min((b + 1) * configuration.batchSize, order.count)]
            lossSum += runner.gradient(of: model, on: train, indices: indices)
            model.parameters.withUnsafeMutableBufferPointer { parameters in
                velocity.withUnsafeMutableBufferPointer { velocity in
                    sgdStep(
                        parameters: parameters.baseAddress!, gradients: runner.parameterGradients,
                        velocity: velocity.baseAddress!, count: ParameterLayout.count, learningRate: learningRate,
                        momentum: configuration.momentum, weightDecay: configuration.weightDecay)
                }
            }
            step += 1
            let elapsed = seconds(since: start)
            let seen = indices.endIndex
            progress(BatchProgress(
                epoch: epoch + 1, batch: b + 1, batches: batches, runningLoss: lossSum / Double(seen),
                imagesPerSecond: Double(seen) / max(elapsed, 1e-9), elapsed: elapsed))
        }
        epoch += 1
        return (lossSum / Double(order.count), seconds(since: start))
    }

    /// Trains for the configured epochs. After each one, evaluates on the training, validation
    /// and test images and saves `epoch-NN.safetensors` in `outputDirectory`. Then copies the
    /// selected epoch's checkpoint to `best.safetensors`, reloads it from disk and tests it.
    public func run(
        outputDirectory: URL, progress: (BatchProgress) -> Void = { _ in }, epochFinished: (EpochReport) -> Void = { _ in }
    ) throws(TrainingError) -> TrainingSummary {
        do {
            try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        } catch {
            throw .cannotCreateDirectory(path: outputDirectory.path, reason: error.localizedDescription)
        }
        var reports: [EpochReport] = []
        while epoch < configuration.epochs {
            let learningRate = configuration.schedule.rate(epoch: epoch, of: configuration.epochs)
            let (loss, trainingSeconds) = trainEpoch(progress: progress)
            let evaluationStart = DispatchTime.now()
            let trainEvaluation = runner.evaluate(model, on: train)
            let validationEvaluation = validation.map { runner.evaluate(model, on: $0) }
            let testEvaluation = runner.evaluate(model, on: test)
            let url = outputDirectory.appendingPathComponent(String(format: "epoch-%02d.safetensors", epoch))
            var metadata = configuration.metadata
            metadata["epoch"] = "\(epoch)"
            metadata["step"] = "\(step)"
            metadata["train_accuracy"] = "\(trainEvaluation.accuracy)"
            metadata["validation_accuracy"] = validationEvaluation.map { "\($0.accuracy)" } ?? "none"
            metadata["test_accuracy"] = "\(testEvaluation.accuracy)"
            do {
                try Checkpoint(model: model, metadata: metadata).write(to: url)
            } catch {
                throw .checkpoint(error)
            }
            let report = EpochReport(
                epoch: epoch, learningRate: learningRate, loss: loss, train: trainEvaluation,
                validation: validationEvaluation, test: testEvaluation, trainingSeconds: trainingSeconds,
                evaluationSeconds: seconds(since: evaluationStart),
                imagesPerSecond: Double(train.count) / trainingSeconds, checkpoint: url)
            reports.append(report)
            epochFinished(report)
        }
        guard let best = Self.select(reports, by: configuration.selection) else { throw .nothingToSelect }
        let bestURL = outputDirectory.appendingPathComponent("best.safetensors")
        do {
            let checkpoint = try Checkpoint(contentsOf: best.checkpoint)
            try checkpoint.write(to: bestURL)
            let reloaded = try Checkpoint(contentsOf: bestURL)
            let finalTest = runner.evaluate(reloaded.model, on: test)
            return TrainingSummary(reports: reports, best: best, bestCheckpoint: bestURL, finalTest: finalTest)
        } catch {
            throw .checkpoint(error)
        }
    }

    /// The report of the epoch to keep; ties go to the earlier epoch.
    static func select(_ reports: [EpochReport], by selection: ModelSelection) -> EpochReport? {
        switch selection {
        case .last: reports.last
        case .validation: reports.max { ($0.validation?.correct ?? 0, $1.epoch) < ($1.validation?.correct ?? 0, $0.epoch) }
        case .test: reports.max { ($0.test.correct, $1.epoch) < ($1.test.correct, $0.epoch) }
        }
    }
}

/// The outcome of `Trainer.run`.
public struct TrainingSummary: Sendable {
    public let reports: [EpochReport]
    public let best: EpochReport
    public let bestCheckpoint: URL
    /// The reloaded best checkpoint on the test set.
    public let finalTest: Evaluation
}

/// Why training could not start or finish.
public enum TrainingError: Error, CustomStringConvertible {
    case unsupportedImageSize(height: Int, width: Int)
    case validationTooLarge(validation: Int, available: Int)
    case selectionNeedsValidation
    case cannotCreateDirectory(path: String, reason: String)
    case checkpoint(CheckpointError)
    case nothingToSelect

    public var description: String {
        switch self {
        case .unsupportedImageSize(let h, let w):
            "LeNet-5 here takes 28x28 images (padded to 32x32); the data set has \(h)x\(w)"
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
        }
    }
}

func seconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}
