import Datasets
import Foundation
import Kernels
import XCTest
@testable import LeNet

final class TrainerTests: XCTestCase {
    /// 3,000 training and 1,000 test images of the bundled MNIST, loaded once.
    static let small: IDXDataset = {
        let mnist = try! IDXDataset(directory: IDXDataset.bundledMNIST)
        return IDXDataset(train: mnist.train.slice(0..<3000), test: mnist.test.slice(0..<1000))
    }()

    private func configuration(threads: Int, seed: UInt64 = 7) -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.epochs = 3
        c.batchSize = 32
        c.validationSize = 500
        c.threads = threads
        c.seed = seed
        return c
    }

    func testLearnsFarBetterThanChanceAndIsDeterministic() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("trainer-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let trainer = try Trainer(configuration: configuration(threads: 2), dataset: Self.small)
        var batches = 0
        var epochs: [Int] = []
        let outcome = try trainer.run(
            outputDirectory: directory, progress: { _ in batches += 1 }, epochFinished: { epochs.append($0.epoch) })
        guard case .finished(let summary) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(epochs, [1, 2, 3])
        XCTAssertEqual(batches, 3 * 79)  // ceil(2,500 / 32) per epoch
        XCTAssertGreaterThan(summary.finalTest.accuracy, 85, "test accuracy after 3 epochs on 2,500 images")
        XCTAssertLessThan(summary.reports[2].loss, summary.reports[0].loss)
        // The reloaded best checkpoint reproduces that epoch's test result exactly.
        let bestReport = try XCTUnwrap(summary.reports.first { $0.epoch == summary.best.epoch })
        XCTAssertEqual(summary.finalTest.predictions, bestReport.test.predictions)
        XCTAssertEqual(summary.best.validationCorrect, summary.reports.compactMap { $0.validation?.correct }.max())
        for name in ["epoch-01.safetensors", "epoch-03.safetensors", "best.safetensors"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path), name)
        }

        let again = try Trainer(configuration: configuration(threads: 2), dataset: Self.small)
        for _ in 0..<3 { XCTAssertNotNil(again.trainEpoch()) }
        XCTAssertEqual(again.model.parameters, trainer.model.parameters, "same seed and threads, same weights")

        let otherSeed = try Trainer(configuration: configuration(threads: 2, seed: 8), dataset: Self.small)
        _ = otherSeed.trainEpoch()
        XCTAssertNotEqual(otherSeed.model.parameters, again.model.parameters)
    }

    /// Training 3 epochs straight, and training with a stop in the middle of epoch 2 followed
    /// by a resume from the saved file, give bit-identical weights and the same best epoch.
    func testStopAndResumeIsExact() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("resume-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let straight = try Trainer(configuration: configuration(threads: 2), dataset: Self.small)
        guard case .finished(let expected) = try straight.run(outputDirectory: root.appendingPathComponent("straight")) else {
            return XCTFail("the straight run stopped")
        }

        let directory = root.appendingPathComponent("stopped")
        let first = try Trainer(configuration: configuration(threads: 2), dataset: Self.small)
        let outcome = try first.run(outputDirectory: directory, shouldStop: { first.step >= 79 + 20 })
        guard case .stopped(let url, let epoch, let batch, _) = outcome else { return XCTFail("did not stop: \(outcome)") }
        XCTAssertEqual([epoch, batch], [2, 20])

        let resumed = try Trainer(resuming: try Checkpoint(contentsOf: url), dataset: Self.small)
        XCTAssertEqual([resumed.epoch, resumed.batchInEpoch, resumed.step], [1, 20, 99])
        guard case .finished(let summary) = try resumed.run(outputDirectory: directory) else { return XCTFail("stopped again") }
        XCTAssertEqual(resumed.model.parameters.map(\.bitPattern), straight.model.parameters.map(\.bitPattern))
        XCTAssertEqual(summary.best, expected.best)
        XCTAssertEqual(summary.finalTest.predictions, expected.finalTest.predictions)
        XCTAssertEqual(summary.reports.map(\.epoch), [2, 3])
    }

    func testResumeRefusesWeightsOnlyCheckpointsAndOtherData() throws {
        let trainer = try Trainer(configuration: configuration(threads: 1), dataset: Self.small)
        let weightsOnly = Checkpoint(model: trainer.model, metadata: trainer.configuration.metadata)
        XCTAssertThrowsError(try Trainer(resuming: weightsOnly, dataset: Self.small)) { error in
            XCTAssertTrue("\(error)".contains("holds weights only"), "\(error)")
        }
        let other = IDXDataset(train: Self.small.train.slice(1..<3000), test: Self.small.test)
        XCTAssertThrowsError(try Trainer(resuming: trainer.resumeCheckpoint(), dataset: other)) { error in
            XCTAssertTrue("\(error)".contains("different training images"), "\(error)")
        }
    }

    func testConfigurationRoundTripsThroughMetadata() throws {
        var c = TrainingConfiguration.original
        c.schedule = .list([0.1, 0.05, 1e-4])
        c.weightDecay = 5e-4
        c.seed = .max
        XCTAssertEqual(try TrainingConfiguration(metadata: c.metadata), c)
        c.schedule = .cosine(base: 0.07)
        XCTAssertEqual(try TrainingConfiguration(metadata: c.metadata), c)
        var broken = c.metadata
        broken["schedule"] = "cosine:-1"
        XCTAssertThrowsError(try TrainingConfiguration(metadata: broken)) { error in
            XCTAssertEqual(error as? ConfigurationError, ConfigurationError(key: "schedule", value: "cosine:-1"))
        }
    }

    func testThreadCountOnlyChangesRounding() throws {
        let one = try Trainer(configuration: configuration(threads: 1), dataset: Self.small)
        let two = try Trainer(configuration: configuration(threads: 2), dataset: Self.small)
        _ = one.trainEpoch()
        _ = two.trainEpoch()
        let largest = zip(one.model.parameters, two.model.parameters).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(largest, 1e-3)
        XCTAssertEqual(one.runner.evaluate(one.model, on: one.test).predictions.count, 1000)
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
        XCTAssertThrowsError(try Trainer(configuration: c, dataset: Self.small)) { error in
            XCTAssertTrue("\(error)".contains("leaves nothing to train on"), "\(error)")
        }
        c.validationSize = 0
        XCTAssertThrowsError(try Trainer(configuration: c, dataset: Self.small)) { error in
            XCTAssertTrue("\(error)".contains("needs a validation split"), "\(error)")
        }
        let wide = LabeledImages(count: 1, height: 28, width: 30, pixels: [UInt8](repeating: 0, count: 840), labels: [1])
        XCTAssertThrowsError(try Trainer(configuration: configuration(threads: 1), dataset: IDXDataset(train: wide, test: wide))) { error in
            XCTAssertTrue("\(error)".contains("28x28"), "\(error)")
        }
    }

    func testSchedules() {
        XCTAssertEqual(LearningRateSchedule.original.rate(epoch: 0, of: 20), 0.05)
        XCTAssertEqual(LearningRateSchedule.original.rate(epoch: 2, of: 20), 0.02)
        XCTAssertEqual(LearningRateSchedule.original.rate(epoch: 19, of: 20), 0.0005)
        XCTAssertEqual(LearningRateSchedule.original.rate(epoch: 25, of: 30), 0.0005)
        XCTAssertEqual(LearningRateSchedule.cosine(base: 0.1).rate(epoch: 0, of: 10), 0.1)
        XCTAssertEqual(LearningRateSchedule.cosine(base: 0.1).rate(epoch: 5, of: 10), 0.05, accuracy: 1e-7)
        XCTAssertEqual(LearningRateSchedule.constant(0.3).rate(epoch: 7, of: 10), 0.3)
    }

    func testSplitMix64ReferenceValues() {
        // Published first outputs of SplitMix64 seeded with 0.
        var generator = SplitMix64(seed: 0)
        XCTAssertEqual(generator.next(), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(generator.next(), 0x6E78_9E6A_A1B9_65F4)
        var values = Array(0..<10)
        generator.shuffle(&values)
        XCTAssertEqual(values.sorted(), Array(0..<10))
        XCTAssertTrue((0..<1000).allSatisfy { _ in generator.next(below: 7) < 7 })
    }
}
