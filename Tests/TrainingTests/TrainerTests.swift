import Datasets
import Foundation
import Formats
import Kernels
import LeNet
import TestSupport
import XCTest
@testable import Training

final class TrainerTests: XCTestCase {
    private func configuration(threads: Int, seed: UInt64 = 7) -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.epochs = 3
        c.batchSize = 32
        c.validationSize = 500
        c.threads = threads
        c.seed = seed
        return c
    }

    /// Runs a session to its end on this thread, collecting every event it publishes.
    private func run(_ session: TrainingSession) async -> (TrainingOutcome, [TrainingEvent]) {
        let stream = session.events()
        let outcome = session.run()
        var events: [TrainingEvent] = []
        for await event in stream { events.append(event) }
        return (outcome, events)
    }

    func testLearnsFarBetterThanChanceAndIsDeterministic() async throws {
        let folder = try TemporaryDirectory("trainer")
        defer { folder.remove() }
        let trainer = try Trainer(configuration: configuration(threads: 2), dataset: IDXDataset.small)
        let (outcome, events) = await run(TrainingSession(trainer: trainer, directory: folder.url))
        guard case .finished(let result) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(result.epochs.map(\.epoch), [1, 2, 3])
        XCTAssertEqual(events.filter { if case .batch = $0 { true } else { false } }.count, 3 * 79)  // ceil(2,500 / 32) per epoch
        XCTAssertGreaterThan(result.finalTest.accuracy, 85, "test accuracy after 3 epochs on 2,500 images")
        XCTAssertLessThan(result.epochs[2].loss, result.epochs[0].loss)
        // The reloaded best checkpoint reproduces that epoch's test result exactly.
        let bestEpoch = try XCTUnwrap(result.epochs.first { $0.epoch == result.best.epoch })
        XCTAssertEqual(result.finalTest, bestEpoch.test)
        XCTAssertEqual(result.best.validationCorrect, result.epochs.compactMap { $0.validation?.correct }.max())
        XCTAssertEqual(result.confusionMatrix.joined().reduce(0, +), 1000)
        XCTAssertEqual(result.mistakes.count, min(40, 1000 - result.finalTest.correct))
        XCTAssertTrue(result.mistakes.allSatisfy { $0.label != $0.predicted })
        for name in ["epoch-01.safetensors", "epoch-03.safetensors", "best.safetensors", "resume.safetensors"] + result.reportFiles {
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder.url(name).path), name)
        }

        let again = try Trainer(configuration: configuration(threads: 2), dataset: IDXDataset.small)
        for _ in 0..<3 { XCTAssertNotNil(try again.trainEpoch()) }
        XCTAssertEqual(again.model.parameters, trainer.model.parameters, "same seed and threads, same weights")

        let otherSeed = try Trainer(configuration: configuration(threads: 2, seed: 8), dataset: IDXDataset.small)
        _ = try otherSeed.trainEpoch()
        XCTAssertNotEqual(otherSeed.model.parameters, again.model.parameters)
    }

    /// `--kernels reference` trains with the plain loops of `PlainLeNet5`: the same steps to
    /// rounding at first, then, as with another thread count, a run that drifts apart in its
    /// details (SGD amplifies rounding) and not in its quality. Asserted: the first batch's loss
    /// within 1e-6 (relative), the first ten within 1e-3, the test accuracy after 2 epochs within
    /// 1.5 points of the fast run's (measured 2026-12-07: 4e-10, 8e-9 and 0 points; fast runs on
    /// one and two threads drift as far apart on longer runs); and a resumed run keeps its kernels.
    func testTheReferenceKernelsTrainTheSameRun() throws {
        var c = configuration(threads: 2)
        c.epochs = 2
        let fast = try Trainer(configuration: c, dataset: IDXDataset.small)
        c.kernels = .reference
        let plain = try Trainer(configuration: c, dataset: IDXDataset.small)
        XCTAssertEqual(plain.runner.kernels, .reference)
        var (fastLosses, plainLosses) = ([Double](), [Double]())
        for _ in 1...2 {
            _ = try fast.trainEpoch { fastLosses.append($0.loss) }
            _ = try plain.trainEpoch { plainLosses.append($0.loss) }
        }
        XCTAssertEqual(plainLosses[0], fastLosses[0], accuracy: fastLosses[0] * 1e-6)
        for (a, b) in zip(plainLosses, fastLosses).prefix(10) { XCTAssertEqual(a, b, accuracy: b * 1e-3) }
        let fastTest = fast.runner.evaluate(fast.model, on: fast.test).accuracy
        let plainTest = plain.runner.evaluate(plain.model, on: plain.test).accuracy
        XCTAssertEqual(plainTest, fastTest, accuracy: 1.5)
        XCTAssertGreaterThan(plainTest, 85)
        // A state saved before the first epoch (a run's epochs need the session's records).
        let saved = try Trainer(configuration: c, dataset: IDXDataset.small).resumeCheckpoint()
        XCTAssertEqual(try TrainingState(metadata: saved.metadata).configuration.kernels, .reference)
        XCTAssertEqual(try Trainer(resuming: saved, dataset: IDXDataset.small).runner.kernels, .reference)
        XCTAssertEqual(try Trainer(resuming: saved, dataset: IDXDataset.small, kernels: .fast).runner.kernels, .fast)
    }

    /// The events arrive in the documented order: started, per epoch its batches, its two
    /// checkpoints and its summary, then the best checkpoint and finished; and they survive a
    /// round trip through JSON.
    func testEventsArriveInOrderAndEncodeAsJSON() async throws {
        let folder = try TemporaryDirectory("events")
        defer { folder.remove() }
        var c = configuration(threads: 1)
        c.epochs = 2
        let (_, events) = await run(TrainingSession(trainer: try Trainer(configuration: c, dataset: IDXDataset.small), directory: folder.url))
        func kind(_ event: TrainingEvent) -> String {
            switch event {
            case .started: "started"
            case .batch: "batch"
            case .epoch: "epoch"
            case .checkpoint(let written): "checkpoint " + written.kind.rawValue
            case .paused: "paused"
            case .resumed: "resumed"
            case .finished: "finished"
            case .stopped: "stopped"
            case .failed: "failed"
            }
        }
        let epoch = [String](repeating: "batch", count: 79) + ["checkpoint epoch", "checkpoint resume", "epoch"]
        XCTAssertEqual(events.map(kind), ["started"] + epoch + epoch + ["checkpoint best", "finished"])
        let decoded = try events.map { try JSONDecoder().decode(TrainingEvent.self, from: JSONEncoder().encode($0)) }
        XCTAssertEqual(decoded, events)
        let batch = String(decoding: try JSONEncoder().encode(events[1]), as: UTF8.self)
        XCTAssertTrue(batch.hasPrefix("{\"type\":\"batch\",\"data\":{") || batch.contains("\"type\":\"batch\""), batch)
        guard case .epoch(let summary) = events[82] else { return XCTFail("\(events[82])") }
        XCTAssertEqual(summary.testSample.count, TrainingSession.testSampleSize)
    }

    /// Training 3 epochs straight, and training that is paused in epoch 2, stopped while paused
    /// and resumed from the saved file, give bit-identical weights and the same best epoch. A
    /// pause holds training until it is resumed, and a stop while paused lands where the pause
    /// did, whenever this task gets to send it.
    func testPauseStopAndResumeFromAnotherTaskIsExact() async throws {
        let root = try TemporaryDirectory("resume")
        defer { root.remove() }
        let straight = try Trainer(configuration: configuration(threads: 2), dataset: IDXDataset.small)
        guard case .finished(let expected) = TrainingSession(trainer: straight, directory: root.url("straight")).run() else {
            return XCTFail("the straight run stopped")
        }

        let first = try Trainer(configuration: configuration(threads: 2), dataset: IDXDataset.small)
        let session = TrainingSession(trainer: first, directory: root.url("stopped"))
        let events = session.events()
        // Requested before the start, the pause holds training after its first batch.
        session.pause()
        session.start()
        var log: [String] = []
        var batchesWhilePaused = 0
        var paused = false
        var secondPause: Position?
        for await event in events {
            switch event {
            case .paused(let position):
                log.append("paused at \(position.epoch).\(position.batch)")
                paused = true
                if position.epoch == 1 && position.batch == 1 {
                    try await Task.sleep(for: .milliseconds(200))
                    paused = false
                    session.resume()
                } else {
                    secondPause = position
                    session.stop()
                }
            case .resumed(let position):
                log.append("resumed at \(position.epoch).\(position.batch)")
            case .batch(let progress):
                if paused { batchesWhilePaused += 1 }
                // Lands after whichever batch training is on when it arrives: the paused event says which.
                if progress.epoch == 2 && progress.batch == 20 { session.pause() }
            case .stopped:
                log.append("stopped")
            default:
                break
            }
        }
        let p = try XCTUnwrap(secondPause, "\(log)")
        XCTAssertEqual(log, ["paused at 1.1", "resumed at 1.1", "paused at \(p.epoch).\(p.batch)", "stopped"])
        XCTAssertEqual(batchesWhilePaused, 0)
        guard case .stopped(let stop)? = session.outcome else { return XCTFail("\(String(describing: session.outcome))") }
        XCTAssertEqual(stop.position, p, "the stop lands where training was paused")
        XCTAssertTrue(p.epoch == 2 && p.batch >= 20 || p.epoch == 3, "\(p)")

        let resumed = try Trainer(resuming: try Checkpoint(contentsOf: URL(fileURLWithPath: stop.resumeCheckpoint)), dataset: IDXDataset.small)
        XCTAssertEqual([resumed.epoch, resumed.batchInEpoch, resumed.step], [p.epoch - 1, p.batch, (p.epoch - 1) * 79 + p.batch])
        guard case .finished(let result) = TrainingSession(trainer: resumed, directory: root.url("stopped")).run() else {
            return XCTFail("stopped again")
        }
        XCTAssertEqual(resumed.model.parameters.map(\.bitPattern), straight.model.parameters.map(\.bitPattern))
        XCTAssertEqual(result.best, expected.best)
        XCTAssertEqual(result.finalTest, expected.finalTest)
        XCTAssertEqual(result.confusionMatrix, expected.confusionMatrix)
        XCTAssertEqual(result.epochs.map(\.epoch), Array(p.epoch...3))
    }

    func testResumeRefusesWeightsOnlyCheckpointsOtherDataAndImpossibleStates() throws {
        let trainer = try Trainer(configuration: configuration(threads: 1), dataset: IDXDataset.small)
        XCTAssertThrowsError(try Trainer(resuming: trainer.weightsCheckpoint(), dataset: IDXDataset.small)) { error in
            XCTAssertEqual(error as? TrainingError, .notResumable(.weightsOnly))
        }
        let other = IDXDataset(train: IDXDataset.small.train.slice(1..<3000), test: IDXDataset.small.test)
        XCTAssertThrowsError(try Trainer(resuming: trainer.resumeCheckpoint(), dataset: other)) { error in
            XCTAssertEqual(error as? TrainingError, .differentData)
        }
        func edited(_ edit: (inout TrainingState) -> Void) -> Checkpoint {
            var checkpoint = trainer.resumeCheckpoint()
            var state = trainer.state
            edit(&state)
            checkpoint.metadata[TrainingState.metadataKey] = state.metadataValue
            return checkpoint
        }
        // Every number of the state within what `lenet5 train` accepts, and the position within
        // the run: the largest integers trapped in arithmetic before they were checked.
        let cases: [(String, (inout TrainingState) -> Void)] = [
            ("batchSize", { $0.configuration.batchSize = 0 }),
            ("batchSize", { $0.configuration.batchSize = .max }),
            ("epochs", { $0.configuration.epochs = .max }),
            ("epoch", { $0.epoch = -3 }),
            ("epoch", { $0.epoch = .max }),
            ("step", { $0.step = .max }),
            ("batch_in_epoch", { $0.batchInEpoch = -1 }),
            ("batch_in_epoch", { $0.batchInEpoch = 99_999_999 }),
            ("history", { $0.history = [EpochRecord(epoch: 5, validationCorrect: nil, testCorrect: 1)] }),
            ("threads", { $0.configuration.threads = 0 }),
            ("warmupEpochs", { $0.configuration.schedule = .warmupCosine(base: 0.03, warmupEpochs: .max) }),
            ("augment", { $0.configuration.augmentation = Augmentation(rotation: 1e30) }),
            ("labelSmoothing", { $0.configuration.labelSmoothing = 50 }),
        ]
        for (field, edit) in cases {
            XCTAssertThrowsError(try Trainer(resuming: edited(edit), dataset: IDXDataset.small)) { error in
                guard case .notResumable(.invalid(field, _))? = error as? TrainingError else { return XCTFail("\(field): \(error)") }
            }
        }
        // A schedule's rates are checked as it is read back from its text form.
        for schedule in [LearningRateSchedule.list([0.1, -1]), .cosine(base: .infinity)] {
            XCTAssertThrowsError(try Trainer(resuming: edited { $0.configuration.schedule = schedule }, dataset: IDXDataset.small)) { error in
                guard case .notResumable(.unreadable)? = error as? TrainingError else { return XCTFail("\(schedule): \(error)") }
            }
        }
        var garbled = trainer.resumeCheckpoint()
        garbled.metadata[TrainingState.metadataKey] = "{\"epoch\": \"x\"}"
        XCTAssertThrowsError(try Trainer(resuming: garbled, dataset: IDXDataset.small)) { error in
            guard case .notResumable(.unreadable)? = error as? TrainingError else { return XCTFail("\(error)") }
        }
        _ = try trainer.trainEpoch()
        trainer.record(validationCorrect: 400, testCorrect: 800)
        XCTAssertThrowsError(try Trainer(resuming: trainer.resumeCheckpoint(), dataset: IDXDataset.small, epochs: 0)) { error in
            XCTAssertEqual(error as? TrainingError, .epochsAlreadyDone(done: 1, requested: 0))
        }
    }

    /// Resume files written before the training state had its own JSON (separate keys, history
    /// as "epoch:validation:test,...") still continue where they stopped.
    func testLegacyResumeFilesStillLoad() throws {
        let trainer = try Trainer(configuration: configuration(threads: 1), dataset: IDXDataset.small)
        _ = try trainer.trainEpoch(shouldStop: { trainer.batchInEpoch == 5 })
        var legacy = trainer.resumeCheckpoint()
        let state = trainer.state
        legacy.metadata[TrainingState.metadataKey] = nil
        legacy.metadata.merge([
            "batch_in_epoch": "\(state.batchInEpoch)", "epoch_loss_sum": "\(state.epochLossSum)", "rng_state": "\(state.randomState)",
            "history": "", "data_fingerprint": state.dataFingerprint,
        ]) { $1 }
        let resumed = try Trainer(resuming: legacy, dataset: IDXDataset.small)
        var expected = state
        expected.epochCorrect = nil  // not counted then
        XCTAssertEqual(resumed.state, expected)
        legacy.metadata["history"] = "1:x:3"
        XCTAssertThrowsError(try Trainer(resuming: legacy, dataset: IDXDataset.small)) { error in
            XCTAssertEqual(error as? TrainingError, .notResumable(.invalid(field: "history", value: "1:x:3")))
        }
    }

    /// The right answers a state counts are within the images of its batches so far (a huge
    /// batch position is refused, not multiplied into a trap); a state saved before they were
    /// counted has none, and its epoch measures the training accuracy afresh.
    func testTheEpochsRightAnswersAreRangeCheckedAndMayBeAbsent() throws {
        let trainer = try Trainer(configuration: configuration(threads: 1), dataset: IDXDataset.small)
        _ = try trainer.trainEpoch(shouldStop: { trainer.batchInEpoch == 5 })
        let checkpoint = trainer.resumeCheckpoint()
        let json = try XCTUnwrap(checkpoint.metadata[TrainingState.metadataKey])
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let counted = try XCTUnwrap(object["epochCorrect"] as? Int)
        XCTAssertEqual(Optional(counted), trainer.state.epochCorrect)
        XCTAssertTrue((1...5 * 32).contains(counted))
        func resuming(_ change: (inout [String: Any]) -> Void) throws -> Trainer {
            var changed = object
            change(&changed)
            var edited = checkpoint
            edited.metadata[TrainingState.metadataKey] = String(decoding: try JSONSerialization.data(withJSONObject: changed), as: UTF8.self)
            return try Trainer(resuming: edited, dataset: IDXDataset.small)
        }
        for bad in [-1, 5 * 32 + 1, Int.max] {
            XCTAssertThrowsError(try resuming { $0["epochCorrect"] = bad }) { error in
                XCTAssertEqual(error as? TrainingError, .notResumable(.invalid(field: "epoch_correct", value: "\(bad) for 5 batches of 32")))
            }
        }
        XCTAssertThrowsError(try resuming { $0["batchInEpoch"] = Int.max }) { error in
            XCTAssertEqual(error as? TrainingError, .notResumable(.invalid(field: "batch_in_epoch", value: "\(Int.max)")))
        }
        let old = try resuming { $0["epochCorrect"] = nil }
        XCTAssertNil(old.state.epochCorrect)
        let epoch = try XCTUnwrap(try old.trainEpoch())
        XCTAssertNil(epoch.correct, "the epoch did not count all its images")
        XCTAssertEqual(old.state.epochCorrect, 0, "the next one does")
        let whole = try XCTUnwrap(try trainer.trainEpoch())
        XCTAssertEqual(whole.correct.map { $0 > counted }, true)
    }

    func testConfigurationRoundTripsThroughMetadata() throws {
        var c = TrainingConfiguration.original
        c.schedule = .list([0.1, 0.05, 1e-4])
        c.weightDecay = 5e-4
        c.seed = .max
        XCTAssertEqual(try TrainingConfiguration(metadata: c.metadata), c)
        c.schedule = .cosine(base: 0.07)
        XCTAssertEqual(try TrainingConfiguration(metadata: c.metadata), c)
        (c.schedule, c.labelSmoothing) = (.warmupCosine(base: 0.05, warmupEpochs: 3), 0.1)
        XCTAssertEqual(try TrainingConfiguration(metadata: c.metadata), c)
        c.schedule = .oneCycle(peak: 0.2)
        XCTAssertEqual(try TrainingConfiguration(metadata: c.metadata), c)
        // A checkpoint from before label smoothing trained on one-hot targets, whatever today's default.
        var older = c.metadata
        older["label_smoothing"] = nil
        XCTAssertEqual(try TrainingConfiguration(metadata: older).labelSmoothing, 0)
        for (key, value) in [("schedule", "warmup-cosine:0.05,1.5"), ("schedule", "one-cycle:0.1,2"), ("label_smoothing", "1.0")] {
            var broken = c.metadata
            broken[key] = value
            XCTAssertThrowsError(try TrainingConfiguration(metadata: broken)) { error in
                XCTAssertEqual(error as? ConfigurationError, ConfigurationError(key: key, value: value))
            }
        }
        var broken = c.metadata
        broken["schedule"] = "cosine:-1"
        XCTAssertThrowsError(try TrainingConfiguration(metadata: broken)) { error in
            XCTAssertEqual(error as? ConfigurationError, ConfigurationError(key: "schedule", value: "cosine:-1"))
        }
    }

    func testThreadCountOnlyChangesRounding() throws {
        let one = try Trainer(configuration: configuration(threads: 1), dataset: IDXDataset.small)
        let two = try Trainer(configuration: configuration(threads: 2), dataset: IDXDataset.small)
        _ = try one.trainEpoch()
        _ = try two.trainEpoch()
        let largest = zip(one.model.parameters, two.model.parameters).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(largest, 1e-3)
        XCTAssertEqual(one.runner.evaluate(one.model, on: one.test).predictions.count, 1000)
    }

    /// The statistics docs/how-it-works.md and docs/results.md quote for MNIST's 55,000 training images,
    /// padded: 0.1001 and 0.2753 (not the unpadded 0.1307 and 0.3081).
    func testMNISTNormalizationIsOfThePaddedTrainingImages() throws {
        let train = try IDXDataset(directory: IDXDataset.bundledMNIST).train.slice(0..<55_000)
        let n = Normalization(statisticsOf: train)
        XCTAssertEqual(n.mean, 0.1001, accuracy: 5e-5)
        XCTAssertEqual(n.standardDeviation, 0.2753, accuracy: 5e-5)
        XCTAssertEqual(-n.mean / n.standardDeviation, -0.364, accuracy: 5e-4, "the border's value")
    }

    func testNormalizationUsesTrainingImagesPadded() {
        // One 28x28 image, all 255: padded to 32x32, 784 of 1,024 pixels are 1.
        let images = LabeledImages(count: 1, height: 28, width: 28, pixels: [UInt8](repeating: 255, count: 784), labels: [0])
        let n = Normalization(statisticsOf: images)
        let p = 784.0 / 1024.0
        XCTAssertEqual(Double(n.mean), p, accuracy: 1e-6)
        XCTAssertEqual(Double(n.standardDeviation), (p * (1 - p)).squareRoot(), accuracy: 1e-6)
        var plane = [Float](repeating: .nan, count: 1024)
        n.fill(&plane, from: images, index: 0)
        XCTAssertEqual(Double(plane.reduce(0, +)) / 1024, 0, accuracy: 1e-5)
        XCTAssertEqual(plane[0], -n.mean / n.standardDeviation)
        XCTAssertEqual(plane[2 * 32 + 2], (1 - n.mean) / n.standardDeviation)
    }

    func testConfigurationErrors() {
        var c = configuration(threads: 1)
        c.validationSize = 3000
        XCTAssertThrowsError(try Trainer(configuration: c, dataset: IDXDataset.small)) { error in
            XCTAssertEqual(error as? TrainingError, .validationTooLarge(validation: 3000, available: 3000))
        }
        c.validationSize = 0
        XCTAssertThrowsError(try Trainer(configuration: c, dataset: IDXDataset.small)) { error in
            XCTAssertEqual(error as? TrainingError, .selectionNeedsValidation)
        }
        let wide = LabeledImages(count: 1, height: 28, width: 30, pixels: [UInt8](repeating: 0, count: 840), labels: [1])
        XCTAssertThrowsError(try Trainer(configuration: configuration(threads: 1), dataset: IDXDataset(train: wide, test: wide))) { error in
            XCTAssertEqual(error as? TrainingError, .unsupportedImageSize(height: 28, width: 30))
        }
    }

    /// A learning rate far too high: training stops at the first exploding batch, names it,
    /// and writes no tensor that is not finite; a run that diverges after good epochs keeps them.
    func testDivergenceStopsTrainingAndWritesNothingNonFinite() throws {
        let folder = try TemporaryDirectory("diverge")
        defer { folder.remove() }
        var c = configuration(threads: 2)
        c.schedule = .list([0.03, 50])
        let trainer = try Trainer(configuration: c, dataset: IDXDataset.small)
        let outcome = TrainingSession(trainer: trainer, directory: folder.url).run()
        guard case .failed(.diverged(let epoch, let batch, let loss, let rate)) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(epoch, 2)
        XCTAssertGreaterThan(batch, 1)
        XCTAssertTrue(!loss.isFinite || loss > Trainer.divergenceLoss)
        XCTAssertEqual(rate, 50)
        XCTAssertEqual(trainer.epoch, 1, "the first, good epoch is kept")
        XCTAssertTrue(trainer.model.parameters.allSatisfy(\.isFinite), "the exploding batch's step was not taken")
        let written = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".safetensors") }.sorted()
        XCTAssertEqual(written, ["epoch-01.safetensors", "resume.safetensors"])
        for name in written { XCTAssertNoThrow(try Checkpoint(contentsOf: folder.url(name)), name) }
        XCTAssertEqual(try Trainer(resuming: Checkpoint(contentsOf: folder.url("resume.safetensors")), dataset: IDXDataset.small).epoch, 1)
    }

    /// A folder holding a run refuses a new one unless told to overwrite (which clears the old
    /// run's files), and a folder another session trains in is locked.
    func testRunFoldersAreNeitherMixedNorShared() throws {
        let folder = try TemporaryDirectory("folders")
        defer { folder.remove() }
        var c = configuration(threads: 1)
        c.epochs = 1
        XCTAssertEqual(TrainingSession(trainer: try Trainer(configuration: c, dataset: IDXDataset.small), directory: folder.url).run().isFinished, true)
        let stale = folder.url("epoch-09.safetensors")
        try FileManager.default.copyItem(at: folder.url("epoch-01.safetensors"), to: stale)
        let refused = TrainingSession(trainer: try Trainer(configuration: c, dataset: IDXDataset.small), directory: folder.url).run()
        XCTAssertEqual(refused, .failed(.folderHoldsRun(path: folder.url.relativePath, resumable: true)))
        // Checkpoints without the state to resume from: a run killed in its first epoch.
        try FileManager.default.removeItem(at: folder.url("resume.safetensors"))
        let unresumable = TrainingSession(trainer: try Trainer(configuration: c, dataset: IDXDataset.small), directory: folder.url).run()
        XCTAssertEqual(unresumable, .failed(.folderHoldsRun(path: folder.url.relativePath, resumable: false)))
        let replaced = TrainingSession(trainer: try Trainer(configuration: c, dataset: IDXDataset.small), directory: folder.url, overwrite: true).run()
        XCTAssertEqual(replaced.isFinished, true)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale.path))

        let held = try XCTUnwrap(try RunFolder(folder.url("busy")).lockAfterCreating())
        let blocked = TrainingSession(trainer: try Trainer(configuration: c, dataset: IDXDataset.small), directory: folder.url("busy")).run()
        XCTAssertEqual(blocked, .failed(.folderInUse(path: folder.url("busy").relativePath)))
        withExtendedLifetime(held) {}
    }

    /// A stop that comes when no batch is left (here: before a session that only has to select,
    /// test and report) cannot stop anything; the run finishes and says the stop came late.
    func testAStopAfterTheLastBatchIsReportedNotIgnored() throws {
        let folder = try TemporaryDirectory("late-stop")
        defer { folder.remove() }
        var c = configuration(threads: 1)
        c.epochs = 1
        guard case .finished(let first) = TrainingSession(trainer: try Trainer(configuration: c, dataset: IDXDataset.small), directory: folder.url).run() else {
            return XCTFail("the first run did not finish")
        }
        XCTAssertFalse(first.stopCameLate)
        let done = try Trainer(resuming: Checkpoint(contentsOf: folder.url("resume.safetensors")), dataset: IDXDataset.small)
        let session = TrainingSession(trainer: done, directory: folder.url)
        session.stop()
        guard case .finished(let result) = session.run() else { return XCTFail("\(String(describing: session.outcome))") }
        XCTAssertTrue(result.stopCameLate)
        XCTAssertEqual(result.best, first.best)
    }

    func testARunFolderUnderAFileFailsWithTheReason() throws {
        let folder = try TemporaryDirectory("blocked")
        defer { folder.remove() }
        try Data("x".utf8).write(to: folder.url("file"))
        let trainer = try Trainer(configuration: configuration(threads: 1), dataset: IDXDataset.small)
        let outcome = TrainingSession(trainer: trainer, directory: folder.url("file/run")).run()
        XCTAssertEqual(outcome, .failed(.cannotCreateDirectory(FileWriteError(path: folder.url("file").path, code: ENOTDIR))))
    }

    /// The loss the log says smoothed targets cannot go below is the loss of probabilities equal
    /// to those targets, and probabilities off them lose more.
    func testTheLossFloorIsTheLeastLossOfSmoothedTargets() {
        var c = TrainingConfiguration()
        XCTAssertEqual(c.lossFloor, 0.5003, accuracy: 5e-5, "the log's 0.50")
        let classes = LeNet5.classes
        func loss(logits: [Float]) -> Double {
            var probabilities = [Float](repeating: 0, count: classes)
            return softmaxCrossEntropy(
                logits: logits, labels: [3], classes: classes, count: 1, probabilities: &probabilities, gradient: nil, scale: 1,
                labelSmoothing: c.labelSmoothing)
        }
        for smoothing: Float in [0.1, 0.3] {
            c.labelSmoothing = smoothing
            let share = smoothing / Float(classes)
            let targets = (0..<classes).map { log(($0 == 3 ? 1 - smoothing : 0) + share) }
            XCTAssertEqual(loss(logits: targets), c.lossFloor, accuracy: 1e-6)
            var off = targets
            off[3] += 0.5
            XCTAssertGreaterThan(loss(logits: off), c.lossFloor + 1e-3)
        }
        c.labelSmoothing = 0
        XCTAssertEqual(c.lossFloor, 0)
    }

    func testSchedules() {
        XCTAssertEqual(LearningRateSchedule.original.rate(epoch: 0, of: 20), 0.05)
        XCTAssertEqual(LearningRateSchedule.original.rate(epoch: 2, of: 20), 0.02)
        XCTAssertEqual(LearningRateSchedule.original.rate(epoch: 19, of: 20), 0.0005)
        XCTAssertEqual(LearningRateSchedule.original.rate(epoch: 25, of: 30), 0.0005)
        XCTAssertEqual(LearningRateSchedule.cosine(base: 0.1).rate(epoch: 0, of: 10), 0.1)
        XCTAssertEqual(LearningRateSchedule.cosine(base: 0.1).rate(epoch: 5, of: 10), 0.05, accuracy: 1e-7)
        XCTAssertEqual(LearningRateSchedule.constant(0.3).rate(epoch: 7, of: 10), 0.3)
        // The default's rates as docs/how-it-works.md lists them: its epochs' first, its peak, its last.
        let c = TrainingConfiguration()
        let steps = (55_000 + c.batchSize - 1) / c.batchSize
        func rate(_ step: Int) -> Float { c.schedule.rate(step: step, stepsPerEpoch: steps, epochs: c.epochs) }
        let listed: [Float] = [0.0028, 0.0277, 0.0655, 0.0680, 0.0568, 0.0389, 0.0198, 0.0054]
        XCTAssertEqual([steps, c.epochs], [860, listed.count])
        for (e, listed) in listed.enumerated() { XCTAssertEqual(rate(e * steps), listed, accuracy: 5e-5) }
        XCTAssertEqual(rate(2_063), 0.07)
        XCTAssertLessThan(rate(2_062), 0.07)
        XCTAssertEqual(rate(8 * steps - 1), 2.8e-7, accuracy: 1e-12)
        // Per-epoch schedules keep an epoch's rate for all its steps; the per-step ones do not.
        XCTAssertEqual(LearningRateSchedule.cosine(base: 0.1).rate(step: 59, stepsPerEpoch: 10, epochs: 10), 0.05, accuracy: 1e-7)
        let warmup = LearningRateSchedule.warmupCosine(base: 0.1, warmupEpochs: 2)
        XCTAssertEqual(warmup.rate(step: 0, stepsPerEpoch: 10, epochs: 10), 0.005, accuracy: 1e-9)
        XCTAssertEqual(warmup.rate(step: 19, stepsPerEpoch: 10, epochs: 10), 0.1)
        XCTAssertEqual(warmup.rate(step: 20, stepsPerEpoch: 10, epochs: 10), 0.1)
        XCTAssertEqual(warmup.rate(step: 60, stepsPerEpoch: 10, epochs: 10), 0.05, accuracy: 1e-7)
        let cycle = LearningRateSchedule.oneCycle(peak: 0.1)
        XCTAssertEqual(cycle.rate(step: 0, stepsPerEpoch: 10, epochs: 10), 0.004, accuracy: 1e-9)
        XCTAssertEqual(cycle.rate(step: 29, stepsPerEpoch: 10, epochs: 10), 0.1)
        XCTAssertEqual(cycle.rate(step: 99, stepsPerEpoch: 10, epochs: 10), 0.004 / 10_000, accuracy: 1e-12)
        // A run of a single step stays finite.
        for schedule in [warmup, cycle] { XCTAssertTrue(schedule.rate(step: 0, stepsPerEpoch: 1, epochs: 1).isFinite) }
    }
}

extension TrainingOutcome {
    var isFinished: Bool {
        if case .finished = self { true } else { false }
    }
}

extension RunFolder {
    /// The folder, made, with its lock held (as a second training would find it).
    func lockAfterCreating() throws -> FolderLock? {
        try createDirectories(at: url)
        return try lock()
    }
}

