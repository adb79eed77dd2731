import Datasets
import Formats
import Foundation
import Kernels
import LeNet

/// Trains LeNet-5 with SGD: the data split, the model, the optimizer state and a `TrainingState`
/// it advances batch by batch.
///
/// Every epoch's order is a fresh shuffle of 0..<n drawn from the generator's state at the start
/// of the epoch, so that state, the weights, the momentum and the position within the epoch are
/// all a resume needs to continue bit-identically. Not thread-safe: one thread drives it (a
/// `TrainingSession` does).
public final class Trainer {
    public let train: LabeledImages
    public let validation: LabeledImages?
    public let test: LabeledImages
    public private(set) var model: Model
    public private(set) var state: TrainingState
    /// SGD's momentum, or Adam's first moments.
    private var velocity: [Float]
    /// Adam's second moments (empty for SGD).
    private var secondMoment: [Float]
    /// The current batch's gradient of the mean loss.
    private var gradients = [Float](repeating: 0, count: ParameterLayout.count)
    package let runner: Runner

    public var configuration: TrainingConfiguration { state.configuration }
    /// Names of the classes, saved in every checkpoint (Fashion-MNIST's when recognised).
    public var classNames: [String] {
        get { state.classNames }
        set {
            precondition(newValue.count == LeNet5.classes)
            state.classNames = newValue
        }
    }
    /// Completed epochs.
    public var epoch: Int { state.epoch }
    /// Completed SGD steps.
    public var step: Int { state.step }
    /// Completed batches of the current epoch (non-zero only after a stop).
    public var batchInEpoch: Int { state.batchInEpoch }

    /// Splits off the validation images, computes the normalisation from the training images
    /// and initialises the weights.
    /// - Throws: `TrainingError` if the images are not `LeNet5.imageSide` square or the split
    ///   leaves nothing to train on.
    public init(configuration: TrainingConfiguration, dataset: IDXDataset) throws(TrainingError) {
        (train, validation, test) = try Self.split(dataset, configuration: configuration)
        var random = SplitMix64(seed: configuration.seed)
        model = Model(
            parameters: configuration.initialization.parameters(using: &random),
            normalization: Normalization(statisticsOf: train))
        velocity = [Float](repeating: 0, count: ParameterLayout.count)
        secondMoment = [Float](repeating: 0, count: configuration.optimizer.isAdam ? ParameterLayout.count : 0)
        state = TrainingState(
            configuration: configuration, randomState: random.state, dataFingerprint: Self.fingerprint(train),
            classNames: ClassNames.recognized(dataset))
        runner = Runner(threads: configuration.threads, kernels: configuration.kernels)
    }

    /// Continues the run saved in `checkpoint` (a `resume.safetensors`) on the same data.
    /// - Parameters:
    ///   - checkpoint: the run's resume state, momentum included.
    ///   - dataset: the data it trained on (the state records which; other data is refused).
    ///   - epochs: a new total number of epochs, if given; not fewer than those done.
    ///   - threads: a different thread count, if given (results then differ in the last bits).
    ///   - kernels: other kernels, if given (likewise).
    public init(
        resuming checkpoint: Checkpoint, dataset: IDXDataset, epochs: Int? = nil, threads: Int? = nil, kernels: KernelSet? = nil
    ) throws(TrainingError) {
        guard let momentum = checkpoint.momentum else { throw .notResumable(.weightsOnly) }
        var state: TrainingState
        do {
            state = try TrainingState(metadata: checkpoint.metadata)
        } catch {
            throw .notResumable(error)
        }
        if let epochs {
            guard epochs >= max(state.epoch, 1) else { throw .epochsAlreadyDone(done: state.epoch, requested: epochs) }
            state.configuration.epochs = epochs
        }
        if let threads { state.configuration.threads = threads }
        if let kernels { state.configuration.kernels = kernels }
        (train, validation, test) = try Self.split(dataset, configuration: state.configuration)
        guard state.dataFingerprint == Self.fingerprint(train) else { throw .differentData }
        let batches = (train.count + state.configuration.batchSize - 1) / state.configuration.batchSize
        guard state.batchInEpoch < batches else {
            throw .notResumable(.invalid(field: "batch_in_epoch", value: "\(state.batchInEpoch) of \(batches) batches"))
        }
        // Both factors are range-checked (epochs, batches of at most 60,000 images): no overflow.
        guard state.step == state.epoch * batches + state.batchInEpoch else {
            throw .notResumable(.invalid(
                field: "step", value: "\(state.step), where \(state.epoch) epochs of \(batches) batches and \(state.batchInEpoch) more make \(state.epoch * batches + state.batchInEpoch)"))
        }
        if state.configuration.optimizer.isAdam && checkpoint.secondMoment == nil {
            throw .notResumable(.invalid(field: "second_moment", value: "missing for \(state.configuration.optimizer.rawValue)"))
        }
        self.state = state
        model = checkpoint.model
        velocity = momentum
        secondMoment = state.configuration.optimizer.isAdam ? checkpoint.secondMoment ?? [] : []
        runner = Runner(threads: state.configuration.threads, kernels: state.configuration.kernels)
    }

    private static func fingerprint(_ images: LabeledImages) -> String {
        String(fnv1a(images.pixels, images.labels), radix: 16)
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
        return (dataset.train.slice(0..<configuration.trainingCount(available: dataset.train.count)), validation, dataset.test)
    }

    public var batchesPerEpoch: Int { (train.count + configuration.batchSize - 1) / configuration.batchSize }

    /// The learning rate of the next step (of the epoch's first, between epochs).
    public var learningRate: Float { rate(batch: state.batchInEpoch) }

    /// The schedule's rate for batch `batch` of the current epoch.
    private func rate(batch: Int) -> Float {
        configuration.schedule.rate(step: state.epoch * batchesPerEpoch + batch, stepsPerEpoch: batchesPerEpoch, epochs: configuration.epochs)
    }

    /// A batch's mean loss above this (or not finite) means training has diverged: a network
    /// that guesses at random scores 2.3 on 10 classes, a confidently wrong one tens.
    public static let divergenceLoss = 100.0

    /// Trains the rest of the current epoch, or up to a requested stop.
    /// - Parameters:
    ///   - progress: told after every batch.
    ///   - shouldStop: asked after every batch but the epoch's last; `true` ends the pass early.
    ///     The time it takes (a pause) is not training time: `BatchProgress`'s and the returned
    ///     seconds leave it out.
    /// - Returns: the epoch's mean loss per image, how many of its images the training pass
    ///   classified right (before each one's step; nil when the epoch resumed from a state that
    ///   did not count them), and the seconds it trained; nil if stopped early.
    /// - Throws: `TrainingError.diverged` at the first batch whose loss is not finite or explodes,
    ///   before that batch's step: the weights and the state stay as after the batch before.
    public func trainEpoch(progress: (BatchProgress) -> Void = { _ in }, shouldStop: () -> Bool = { false })
        throws(TrainingError) -> (loss: Double, correct: Int?, seconds: Double)?
    {
        let distortion = configuration.augmentation.map { Distortion(augmentation: $0, seed: configuration.seed, epoch: state.epoch) }
        var shuffler = SplitMix64(seed: state.randomState)
        var order = Array(0..<train.count)
        shuffler.shuffle(&order)
        let batches = batchesPerEpoch
        let batchSize = configuration.batchSize
        let start = DispatchTime.now()
        var waited = 0.0
        let firstBatch = state.batchInEpoch
        while state.batchInEpoch < batches {
            let b = state.batchInEpoch
            let indices = order[b * batchSize..<min((b + 1) * batchSize, order.count)]
            let learningRate = rate(batch: b)
            let (loss, correct) = runner.gradient(
                of: model, on: train, indices: indices, distortion: distortion, labelSmoothing: configuration.labelSmoothing,
                into: &gradients)
            let meanLoss = loss / Double(indices.count)
            guard meanLoss.isFinite, meanLoss <= Self.divergenceLoss else {
                throw .diverged(epoch: state.epoch + 1, batch: b + 1, loss: meanLoss, learningRate: learningRate)
            }
            state.epochLossSum += loss
            state.epochCorrect = state.epochCorrect.map { $0 + correct }
            step(learningRate: learningRate)
            state.step += 1
            state.batchInEpoch += 1
            let elapsed = seconds(since: start) - waited
            let trained = min(state.batchInEpoch * batchSize, order.count)
            progress(BatchProgress(
                epoch: state.epoch + 1, batch: state.batchInEpoch, batches: batches, loss: meanLoss,
                runningLoss: state.epochLossSum / Double(trained),
                imagesPerSecond: Double(trained - firstBatch * batchSize) / max(elapsed, 1e-9), elapsed: elapsed))
            if state.batchInEpoch < batches {
                let asked = DispatchTime.now()
                let stop = shouldStop()
                waited += seconds(since: asked)
                if stop { return nil }
            }
        }
        let loss = state.epochLossSum / Double(order.count)
        let correct = state.epochCorrect
        state.epoch += 1
        state.batchInEpoch = 0
        state.epochLossSum = 0
        state.epochCorrect = 0
        state.randomState = shuffler.state
        return (loss, correct, seconds(since: start) - waited)
    }

    /// One update of the weights from `gradients`, by the configured optimiser, each of the
    /// runner's threads over its own slice of the parameters (element by element: the same
    /// result whatever the slices).
    private func step(learningRate: Float) {
        let c = configuration
        let step = state.step + 1
        withUnsafePointers { parameters, gradients, velocity, secondMoment in
            runner.parallel(ParameterLayout.count) { _, slice in
                let first = slice.lowerBound
                switch c.optimizer {
                case .sgd, .nesterov:
                    sgdStep(
                        parameters: parameters + first, gradients: gradients + first, velocity: velocity + first,
                        count: slice.count, learningRate: learningRate, momentum: c.momentum, weightDecay: c.weightDecay,
                        nesterov: c.optimizer == .nesterov)
                case .adam, .adamw:
                    adamStep(
                        parameters: parameters + first, gradients: gradients + first, firstMoment: velocity + first,
                        secondMoment: secondMoment! + first, count: slice.count, learningRate: learningRate,
                        beta1: Optimizer.beta1, beta2: Optimizer.beta2, epsilon: Optimizer.epsilon, weightDecay: c.weightDecay,
                        decoupled: c.optimizer == .adamw, step: step)
                }
            }
        }
    }

    /// Calls `body` with the weights, the gradient, the momentum (Adam's first moments) and
    /// Adam's second moments (nil for SGD).
    private func withUnsafePointers(
        _ body: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>?) -> Void
    ) {
        gradients.withUnsafeBufferPointer { gradients in
            model.parameters.withUnsafeMutableBufferPointer { parameters in
                velocity.withUnsafeMutableBufferPointer { velocity in
                    secondMoment.withUnsafeMutableBufferPointer { secondMoment in
                        body(parameters.baseAddress!, gradients.baseAddress!, velocity.baseAddress!, secondMoment.baseAddress)
                    }
                }
            }
        }
    }

    /// The current model on the training, validation and test images.
    /// `model` on the validation and test images: what an epoch's end measures (the training
    /// accuracy comes from the training pass itself).
    public func evaluate() -> (validation: Evaluation?, test: Evaluation) {
        (validation.map { runner.evaluate(model, on: $0) }, runner.evaluate(model, on: test))
    }

    /// `model` on the training images: the training accuracy of an epoch that did not count it.
    public func evaluateTraining() -> Evaluation {
        runner.evaluate(model, on: train)
    }

    /// `model` on the test images, logits kept.
    public func test(_ model: Model) -> Evaluation {
        runner.evaluate(model, on: test, keepLogits: true)
    }

    /// Adds the epoch just trained to the history that selects the best one.
    public func record(validationCorrect: Int?, testCorrect: Int) {
        state.history.append(EpochRecord(epoch: state.epoch, validationCorrect: validationCorrect, testCorrect: testCorrect))
    }

    /// The epoch that the configured rule selects so far; ties go to the earlier epoch.
    public var best: EpochRecord? { Self.select(state.history, by: configuration.selection) }

    /// What every checkpoint of this run records: the configuration, the class names, and how
    /// far training has come.
    private var checkpointMetadata: [String: String] {
        var metadata = configuration.metadata
        metadata["epoch"] = "\(state.epoch)"
        metadata["step"] = "\(state.step)"
        metadata["class_names"] = ClassNames.encode(state.classNames)
        return metadata
    }

    /// The weights as they are, with the run's metadata and `facts` (accuracies, say).
    public func weightsCheckpoint(_ facts: [String: String] = [:]) -> Checkpoint {
        Checkpoint(model: model, metadata: checkpointMetadata.merging(facts) { $1 })
    }

    /// Everything needed to continue exactly from this point.
    public func resumeCheckpoint() -> Checkpoint {
        var metadata = checkpointMetadata
        metadata[TrainingState.metadataKey] = state.metadataValue
        return Checkpoint(model: model, metadata: metadata, momentum: velocity, secondMoment: secondMoment.isEmpty ? nil : secondMoment)
    }

    static func select(_ records: [EpochRecord], by selection: ModelSelection) -> EpochRecord? {
        switch selection {
        case .last: records.last
        case .validation: records.max { ($0.validationCorrect ?? 0, $1.epoch) < ($1.validationCorrect ?? 0, $0.epoch) }
        case .test: records.max { ($0.testCorrect, $1.epoch) < ($1.testCorrect, $0.epoch) }
        }
    }
}

/// Why training could not start or finish.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    case unsupportedImageSize(height: Int, width: Int)
    case validationTooLarge(validation: Int, available: Int)
    case selectionNeedsValidation
    case cannotCreateDirectory(FileWriteError)
    case checkpoint(CheckpointError)
    case report(FileWriteError)
    case nothingToSelect
    case notResumable(StateError)
    case differentData
    case epochsAlreadyDone(done: Int, requested: Int)
    /// A batch's mean loss was not finite or above `Trainer.divergenceLoss`; epoch and batch 1-based.
    case diverged(epoch: Int, batch: Int, loss: Double, learningRate: Float)
    /// The weights stopped being finite numbers; nothing was written.
    case nonFiniteWeights(epoch: Int)
    /// A new run would mix with (or replace) the earlier run in this folder.
    /// `resumable`: the folder has the run's resume.safetensors (a run killed in its first
    /// epoch, between its first checkpoint and its first saved state, has not).
    case folderHoldsRun(path: String, resumable: Bool)
    /// Another training is writing to this folder.
    case folderInUse(path: String)

    public var description: String {
        switch self {
        case .unsupportedImageSize(let h, let w):
            "LeNet-5 here takes \(LeNet5.imageSide)x\(LeNet5.imageSide) images (padded to \(LeNet5.inputSide)x\(LeNet5.inputSide)); the data set has \(h)x\(w)"
        case .validationTooLarge(let v, let available):
            "a validation split of \(v) images leaves nothing to train on: the training file has \(available)"
        case .selectionNeedsValidation:
            "selecting the best epoch on validation needs a validation split"
        case .cannotCreateDirectory(let error):
            "cannot create the run's folder: \(error)"
        case .checkpoint(let error):
            error.description
        case .report(let error):
            error.description
        case .nothingToSelect:
            "no epoch was trained, so there is no checkpoint to select"
        case .notResumable(let error):
            "this checkpoint cannot be resumed: \(error)"
        case .differentData:
            "this checkpoint was trained on different training images"
        case .epochsAlreadyDone(let done, let requested):
            "the run has already trained \(done) epochs; it cannot stop at \(requested)"
        case .diverged(let epoch, let batch, let loss, let rate):
            "training diverged at epoch \(epoch), batch \(batch) (the batch's mean loss is \(loss), at a learning rate of \(rate)); the checkpoints written before are intact"
        case .folderHoldsRun(let path, true):
            "\(path) holds an earlier run; resume it from its resume.safetensors, or start the new run in another folder"
        case .folderHoldsRun(let path, false):
            "\(path) holds checkpoints of an earlier run that saved no state to resume from (stopped in its first epoch); start the new run in another folder"
        case .folderInUse(let path):
            "another training is writing to \(path)"
        case .nonFiniteWeights(let epoch):
            "training diverged in epoch \(epoch): the weights are no longer finite numbers (nothing was written)"
        }
    }
}

package func seconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}
