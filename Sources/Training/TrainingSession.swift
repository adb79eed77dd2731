import Datasets
import Formats
import Foundation
import LeNet
import Reports

/// The files of one run's folder, named in one place.
public struct RunFolder: Sendable {
    public let url: URL

    public init(_ url: URL) {
        self.url = url
    }

    /// The weights after epoch `epoch` (1-based).
    public func epochCheckpoint(_ epoch: Int) -> URL { url.appendingPathComponent(String(format: "epoch-%02d.safetensors", epoch)) }
    public var resume: URL { url.appendingPathComponent("resume.safetensors") }
    public var best: URL { url.appendingPathComponent("best.safetensors") }
    public var metrics: URL { url.appendingPathComponent("metrics.csv") }
    /// Held (flock) by the session training in the folder.
    var lockFile: URL { url.appendingPathComponent(".lock") }

    /// The files a run writes, by name.
    private func isRunFile(_ name: String) -> Bool {
        (name.hasPrefix("epoch-") && name.hasSuffix(".safetensors"))
            || ["resume.safetensors", "best.safetensors", "metrics.csv", "misclassified.png"].contains(name)
            || ["training-curves", "confusion-matrix"].contains { name == $0 + ".png" || name == $0 + ".svg" }
    }

    private var runFiles: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).filter(isRunFile)
    }

    /// The `best.safetensors` of every run folder in `runs`, newest first.
    public static func bestCheckpoints(in runs: URL) -> [URL] {
        func modified(_ url: URL) -> Date {
            (try? url.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate) ?? .distantPast
        }
        let folders = (try? FileManager.default.contentsOfDirectory(at: runs, includingPropertiesForKeys: nil, options: [.skipsHiddenFiles])) ?? []
        return folders.map { RunFolder($0).best }
            .filter { FileManager.default.fileExists(atPath: $0.path) }
            .map { ($0, modified($0)) }
            .sorted { $0.1 > $1.1 }
            .map(\.0)
    }

    /// `text` with the folder's base (the server's runs folder, when the folder is named relative
    /// to it) cut from the paths in it: what the events may show a page, which must not learn
    /// where the server keeps its files.
    func relativeToBase(_ text: String) -> String {
        guard let base = url.baseURL?.standardizedFileURL.path else { return text }
        return text.replacingOccurrences(of: base + "/", with: "").replacingOccurrences(of: base, with: "the runs folder")
    }

    /// The command that continues a run stopped in a folder whose `resume.safetensors` is
    /// `resumeFile` (as the user names it), with every option the resume state does not hold:
    /// the data's folder, unless it is the bundled MNIST.
    public static func resumeCommand(resumeFile: String, dataDirectory: String?) -> String {
        var command = "swift run -c release lenet5 train --resume " + shellQuoted(resumeFile)
        if let dataDirectory { command += " --data " + shellQuoted(dataDirectory) }
        return command
    }

    /// Whether an earlier run left checkpoints here.
    public var holdsRun: Bool { runFiles.contains { $0.hasSuffix(".safetensors") } }

    /// Deletes what an earlier run wrote here (and nothing else), so a new run does not mix with it.
    func clear() throws(FileWriteError) {
        for name in runFiles where unlink(url.appendingPathComponent(name).path) != 0 && errno != ENOENT {
            throw .ofLastCall(path: url.appendingPathComponent(name).path)
        }
    }

    /// Takes the folder's lock for as long as the returned value lives, or nil when another
    /// process or session holds it.
    func lock() throws(FileWriteError) -> FolderLock? {
        let fd = open(lockFile.path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else { throw .ofLastCall(path: lockFile.path) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        return FolderLock(descriptor: fd)
    }
}

/// `text` as one shell word: as it is when it is plain, else in single quotes.
func shellQuoted(_ text: String) -> String {
    let plain = !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_./-+=:,@".contains($0)) }
    return plain ? text : "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// A held `flock` on a run folder's lock file, released when this is released (or the process
/// ends, however it ends).
final class FolderLock {
    private let descriptor: Int32

    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

/// How a session ended.
public enum TrainingOutcome: Sendable, Equatable {
    case finished(RunResult)
    case stopped(RunStop)
    case failed(TrainingError)
}

/// One training run: it drives a `Trainer` to the configured number of epochs, owns the run's
/// folder (checkpoints after every epoch, `resume.safetensors`, `best.safetensors`, metrics.csv
/// and the report's plots), and publishes what happens as `TrainingEvent`s to any number of
/// subscribers. Another task may pause, resume or stop it; a stop saves the state exactly as
/// after any batch, so `Trainer(resuming:)` continues bit-identically.
///
/// `@unchecked Sendable` because the compiler cannot see what makes it safe: the trainer is
/// touched only by the one thread inside `run()` (a second `run()` is refused), and every
/// other member is guarded by `condition`.
public final class TrainingSession: @unchecked Sendable {
    public let folder: RunFolder
    private let trainer: Trainer

    private let condition = NSCondition()
    private var subscribers: [UUID: AsyncStream<TrainingEvent>.Continuation] = [:]
    private var pauseRequested = false
    private var stopRequested = false
    private var started = false
    private var startEvent: TrainingEvent?
    private var finalEvent: TrainingEvent?
    private var result: TrainingOutcome?

    /// How many of the first test images each epoch's summary reports predictions for.
    public static let testSampleSize = 40
    /// How many mistakes the final result lists.
    public static let mistakesListed = 40

    /// What a new run does to a folder that holds an earlier one.
    private let overwrite: Bool

    /// - Parameters:
    ///   - trainer: the trainer it drives, new or resumed.
    ///   - directory: the run's folder.
    ///   - overwrite: let a new run delete the files of an earlier run in `directory`; otherwise
    ///     it refuses to start there (a resumed run continues its own files either way).
    public init(trainer: Trainer, directory: URL, overwrite: Bool = false) {
        self.trainer = trainer
        folder = RunFolder(directory)
        self.overwrite = overwrite
    }

    // MARK: Control, from any thread or task

    /// A stream of this session's events from now on (after the `started` event, even if it was
    /// published earlier; after only the final event if the session has ended).
    /// - Parameter policy: how many events to hold for a slow reader; batch events may then be
    ///   dropped, which a live page can afford.
    public func events(bufferingPolicy policy: AsyncStream<TrainingEvent>.Continuation.BufferingPolicy = .unbounded) -> AsyncStream<TrainingEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: TrainingEvent.self, bufferingPolicy: policy)
        let id = UUID()
        condition.withLock {
            if let startEvent { continuation.yield(startEvent) }
            if let finalEvent {
                continuation.yield(finalEvent)
                continuation.finish()
            } else {
                subscribers[id] = continuation
            }
        }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            _ = self.condition.withLock { self.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Holds training after the current batch until `resume` or `stop`.
    public func pause() {
        condition.withLock { pauseRequested = true }
    }

    public func resume() {
        condition.withLock {
            pauseRequested = false
            condition.broadcast()
        }
    }

    /// Ends training after the current batch, saving `resume.safetensors`.
    public func stop() {
        condition.withLock {
            stopRequested = true
            condition.broadcast()
        }
    }

    /// How the session ended, once it has.
    public var outcome: TrainingOutcome? { condition.withLock { result } }

    /// Runs the session on a thread of its own and returns at once; follow it with `events()`.
    public func start() {
        let thread = Thread { [self] in _ = run() }
        thread.name = "training"
        thread.start()
    }

    // MARK: The run

    /// Trains to the end, a stop or a failure on the calling thread, publishing every event.
    /// - Precondition: called once.
    @discardableResult
    public func run() -> TrainingOutcome {
        condition.withLock {
            precondition(!started, "a TrainingSession runs once")
            started = true
        }
        let outcome: TrainingOutcome
        do {
            outcome = try train()
        } catch {
            outcome = .failed(error)
        }
        let event: TrainingEvent = switch outcome {
        case .finished(let result): .finished(result)
        case .stopped(let stop): .stopped(stop)
        case .failed(let error): .failed(RunFailure(message: folder.relativeToBase(error.description)))
        }
        condition.withLock { result = outcome }
        publish(event)
        return outcome
    }

    private func train() throws(TrainingError) -> TrainingOutcome {
        let held: FolderLock?
        do {
            try createDirectories(at: folder.url)
            held = try folder.lock()
        } catch {
            throw .cannotCreateDirectory(error)
        }
        // Held until training ends, however it ends.
        guard let lock = held else { throw .folderInUse(path: folder.url.relativePath) }
        defer { withExtendedLifetime(lock) {} }
        removeAbandonedTemporaries(in: folder.url)
        let resuming = trainer.epoch > 0 || trainer.batchInEpoch > 0
        if !resuming && folder.holdsRun {
            guard overwrite else {
                throw .folderHoldsRun(path: folder.url.relativePath, resumable: FileManager.default.fileExists(atPath: folder.resume.path))
            }
            do {
                try folder.clear()
            } catch {
                throw .checkpoint(.cannotWrite(error))
            }
        }
        let configuration = trainer.configuration
        let report = RunReport(folder: folder, test: trainer.test, classNames: trainer.classNames, lossFloor: configuration.lossFloor)
        publish(.started(RunStart(
            configuration: configuration, parameterCount: ParameterLayout.count, trainingImages: trainer.train.count,
            validationImages: trainer.validation?.count ?? 0, testImages: trainer.test.count,
            normalizationMean: trainer.model.normalization.mean,
            normalizationStandardDeviation: trainer.model.normalization.standardDeviation, classNames: trainer.classNames,
            batchesPerEpoch: trainer.batchesPerEpoch, lossFloor: configuration.lossFloor,
            resumedAt: resuming ? Position(epoch: trainer.epoch + 1, batch: trainer.batchInEpoch + 1, batches: trainer.batchesPerEpoch) : nil,
            directory: folder.url.relativePath)))
        var summaries: [EpochSummary] = []
        while trainer.epoch < configuration.epochs {
            let learningRate = trainer.learningRate
            let trained = try trainer.trainEpoch(progress: { publish(.batch($0)) }, shouldStop: shouldStop)
            guard let (loss, correct, trainingSeconds) = trained else { return try stopHere() }
            let evaluationStart = DispatchTime.now()
            let (validation, test) = trainer.evaluate()
            let train = correct.map { Score(correct: $0, count: trainer.train.count) } ?? trainer.evaluateTraining().score
            let url = folder.epochCheckpoint(trainer.epoch)
            try save(trainer.weightsCheckpoint([
                "train_accuracy": "\(train.accuracy)", "validation_accuracy": validation.map { "\($0.accuracy)" } ?? "none",
                "test_accuracy": "\(test.accuracy)",
            ]), to: url, kind: .epoch)
            trainer.record(validationCorrect: validation?.correct, testCorrect: test.correct)
            let summary = EpochSummary(
                epoch: trainer.epoch, epochs: configuration.epochs, learningRate: learningRate, loss: loss, train: train,
                validation: validation?.score, test: test.score, trainingSeconds: trainingSeconds,
                evaluationSeconds: seconds(since: evaluationStart), imagesPerSecond: Double(trainer.train.count) / trainingSeconds,
                testSample: test.predictions.prefix(Self.testSampleSize).map(Int.init), confusionMatrix: test.confusionMatrix)
            // metrics.csv before the state to resume from: killed between the two, the run
            // resumes before this epoch and records it again (a row per epoch, replaced).
            do {
                try report.record(summary)
            } catch {
                throw .report(error)
            }
            try save(trainer.resumeCheckpoint(), to: folder.resume, kind: .resume)
            summaries.append(summary)
            publish(.epoch(summary))
            if trainer.epoch < configuration.epochs && shouldStop() { return try stopHere() }
        }
        guard let best = trainer.best else { throw .nothingToSelect }
        let finalTest: Evaluation
        do {
            try Checkpoint(contentsOf: folder.epochCheckpoint(best.epoch)).write(to: folder.best)
            finalTest = trainer.test(try Checkpoint(contentsOf: folder.best).model)
        } catch {
            throw .checkpoint(error)
        }
        publish(.checkpoint(CheckpointWritten(kind: .best, path: folder.best.relativePath, epoch: best.epoch)))
        let mistakes = finalTest.mistakes(limit: Self.mistakesListed)
        let files: [String]
        do {
            files = try report.write(finalTest: finalTest, mistakes: mistakes)
        } catch {
            throw .report(error)
        }
        return .finished(RunResult(
            epochs: summaries, best: best, selection: configuration.selection, bestCheckpoint: folder.best.relativePath,
            finalTest: finalTest.score, confusionMatrix: finalTest.confusionMatrix, mistakes: mistakes, reportFiles: files,
            stopCameLate: condition.withLock { stopRequested }))
    }

    /// Saves the state after the batch just trained and reports where it stopped.
    private func stopHere() throws(TrainingError) -> TrainingOutcome {
        try save(trainer.resumeCheckpoint(), to: folder.resume, kind: .resume)
        // After a whole epoch the last batch trained is that epoch's last.
        let position = trainer.batchInEpoch == 0
            ? Position(epoch: trainer.epoch, batch: trainer.batchesPerEpoch, batches: trainer.batchesPerEpoch)
            : Position(epoch: trainer.epoch + 1, batch: trainer.batchInEpoch, batches: trainer.batchesPerEpoch)
        return .stopped(RunStop(position: position, resumeCheckpoint: folder.resume.relativePath))
    }

    private func save(_ checkpoint: Checkpoint, to url: URL, kind: CheckpointWritten.Kind) throws(TrainingError) {
        // No non-finite tensor is ever written: such a file could not be loaded again.
        guard checkpoint.model.parameters.allSatisfy(\.isFinite), checkpoint.momentum?.allSatisfy(\.isFinite) ?? true else {
            throw .nonFiniteWeights(epoch: trainer.epoch + (trainer.batchInEpoch > 0 ? 1 : 0))
        }
        do {
            try checkpoint.write(to: url)
        } catch {
            throw .checkpoint(error)
        }
        publish(.checkpoint(CheckpointWritten(kind: kind, path: url.relativePath, epoch: trainer.epoch)))
    }

    /// Asked after every batch: waits while paused, then says whether to stop.
    private func shouldStop() -> Bool {
        let position = Position(epoch: trainer.epoch + 1, batch: trainer.batchInEpoch, batches: trainer.batchesPerEpoch)
        var paused = false
        condition.lock()
        while pauseRequested && !stopRequested {
            if !paused {
                paused = true
                condition.unlock()
                publish(.paused(position))
                condition.lock()
                continue
            }
            condition.wait()
        }
        let stop = stopRequested
        condition.unlock()
        if paused && !stop { publish(.resumed(position)) }
        return stop
    }

    /// Hands `event` to every subscriber. Only the training thread publishes, so events keep
    /// their order; the continuations are called outside the lock, since finishing one runs its
    /// `onTermination`, which takes the lock.
    private func publish(_ event: TrainingEvent) {
        let receivers: [AsyncStream<TrainingEvent>.Continuation] = condition.withLock {
            if case .started = event { startEvent = event }
            let receivers = Array(subscribers.values)
            if event.isFinal {
                finalEvent = event
                subscribers.removeAll()
            }
            return receivers
        }
        for continuation in receivers {
            continuation.yield(event)
            if event.isFinal { continuation.finish() }
        }
    }
}

/// metrics.csv and the report's plots, written from the events' payloads as the session
/// publishes them, so the files exist by the time the event arrives.
struct RunReport {
    let folder: RunFolder
    let test: LabeledImages
    let classNames: [String]
    /// The least loss the run's targets allow, drawn on its loss chart.
    let lossFloor: Double

    func record(_ epoch: EpochSummary) throws(FileWriteError) {
        try TrainingReport.record(EpochMetrics(
            epoch: epoch.epoch, loss: epoch.loss, trainAccuracy: epoch.train.accuracy,
            validationAccuracy: epoch.validation?.accuracy, testAccuracy: epoch.test.accuracy,
            learningRate: Double(epoch.learningRate), seconds: epoch.trainingSeconds, imagesPerSecond: epoch.imagesPerSecond),
            in: folder.url)
    }

    /// - Returns: the names of the files written, metrics.csv first.
    func write(finalTest: Evaluation, mistakes: [Mistake]) throws(FileWriteError) -> [String] {
        let files = try TrainingReport.write(
            in: folder.url, confusionMatrix: finalTest.confusionMatrix,
            mistakes: mistakes.map { ($0.index, $0.label, $0.predicted, $0.confidence) }, errors: finalTest.count - finalTest.correct,
            images: test.pixels, imageSide: test.width, classNames: classNames, lossFloor: lossFloor)
        return [folder.metrics.lastPathComponent] + files.map(\.lastPathComponent)
    }
}
