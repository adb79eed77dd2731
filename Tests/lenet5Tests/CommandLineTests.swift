import ArgumentParser
import Datasets
import Formats
import Foundation
import Imaging
import Kernels
import LeNet
import TestSupport
import Training
import XCTest
@testable import lenet5

final class CommandLineTests: XCTestCase {
    /// Parses `arguments` and asserts the rejection message contains `fragment`.
    private func assertRejected(_ arguments: [String], _ fragment: String, line: UInt = #line) {
        do {
            _ = try LeNet5Command.parseAsRoot(arguments)
            XCTFail("\(arguments) was accepted", line: line)
        } catch {
            let message = LeNet5Command.message(for: error)
            XCTAssertTrue(message.contains(fragment), "'\(message)' does not mention '\(fragment)'", line: line)
            XCTAssertNotEqual(LeNet5Command.exitCode(for: error), .success, line: line)
        }
    }

    func testInvalidOptionsAreRejectedWithAMessage() {
        assertRejected(["train", "--epochs", "0"], "--epochs must be between 1 and 10000")
        assertRejected(["train", "--train-images", "0"], "--train-images must be at least 1")
        // A negative number is the option's value, not another option.
        assertRejected(["train", "--epochs", "-1"], "--epochs must be between 1 and 10000, got -1")
        assertRejected(["train", "--momentum", "-0.5"], "--momentum must be in [0, 1), got -0.5")
        assertRejected(["bench", "--images", "-3"], "--images must be between 1 and 1000000, got -3")
        assertRejected(["train", "--batch-size=-3"], "--batch-size must be between 1 and 60000")
        assertRejected(["train", "--learning-rate", "nan"], "--learning-rate must be a positive number")
        assertRejected(["train", "--momentum", "1.5"], "--momentum must be in [0, 1)")
        assertRejected(["train", "--schedule", "0.05,abc"], "--schedule must be original, constant, cosine, warmup-cosine, one-cycle or a list")
        assertRejected(["train", "--validation-size", "0", "--select", "validation"], "--select validation needs a validation split above 0")
        assertRejected(["train", "--init", "xavier"], "xavier")
        assertRejected(["train", "--threads", "0"], "--threads must be between 1 and 256")
        assertRejected(["train", "--kernels", "simd"], "simd")
        assertRejected(["train", "--epochs", "many"], "many")
        assertRejected(["test"], "--checkpoint")
        assertRejected(["bench", "--batch-size", "0"], "--batch-size must be between 1 and 60000")
        assertRejected(["fly"], "fly")
        assertRejected(["train", "--seeds", "1,1"], "--seeds must be up to 100 different whole numbers")
        assertRejected(["train", "--seeds", "1,2", "--seed", "3"], "--seed and --seeds do not go together")
        assertRejected(["train", "--seeds", "1,x"], "got '1,x'")
    }

    func testPresetsAndOverrides() throws {
        let original = try XCTUnwrap(try LeNet5Command.parseAsRoot(["train", "--preset", "original", "--threads", "1"]) as? TrainCommand)
        var expected = TrainingConfiguration.original
        expected.threads = 1
        XCTAssertEqual(try original.trainingConfiguration(), expected)

        let quick = try XCTUnwrap(try LeNet5Command.parseAsRoot(["train", "--preset", "quick", "--threads", "1"]) as? TrainCommand)
        expected = TrainingConfiguration.quick
        expected.threads = 1
        XCTAssertEqual(try quick.trainingConfiguration(), expected)
        XCTAssertEqual([expected.epochs, expected.validationSize], [2, 0])

        let tuned = try XCTUnwrap(try LeNet5Command.parseAsRoot(
            ["train", "--preset", "original", "--epochs", "3", "--learning-rate", "0.01", "--validation-size", "0"]) as? TrainCommand)
        let c = try tuned.trainingConfiguration()
        XCTAssertEqual(c.epochs, 3)
        XCTAssertEqual(c.batchSize, 8)
        XCTAssertEqual(c.schedule, .constant(0.01))
        XCTAssertEqual(c.selection, .last, "no validation split: select the last epoch")

        // A named schedule without --learning-rate starts at the preset's first rate.
        let constant = try XCTUnwrap(try LeNet5Command.parseAsRoot(["train", "--schedule", "constant"]) as? TrainCommand)
        XCTAssertEqual(try constant.trainingConfiguration().schedule, .constant(0.07))
        let originalCosine = try XCTUnwrap(try LeNet5Command.parseAsRoot(["train", "--preset", "original", "--schedule", "cosine"]) as? TrainCommand)
        XCTAssertEqual(try originalCosine.trainingConfiguration().schedule, .cosine(base: 0.05))

        let plain = try XCTUnwrap(try LeNet5Command.parseAsRoot(["train", "--kernels", "reference"]) as? TrainCommand)
        XCTAssertEqual(try plain.trainingConfiguration().kernels, .reference)
        XCTAssertEqual(try constant.trainingConfiguration().kernels, .fast)

        let listed = try XCTUnwrap(try LeNet5Command.parseAsRoot(["train", "--schedule", "0.1, 0.05,0.01"]) as? TrainCommand)
        XCTAssertEqual(try listed.trainingConfiguration().schedule, .list([0.1, 0.05, 0.01]))
    }

    // MARK: The built tool, as a user runs it

    private func run(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        try runLenet5(arguments)
    }

    /// export and test never write over the checkpoint they read, whatever the path says.
    func testNoCommandOverwritesItsInput() throws {
        let folder = try TemporaryDirectory("overwrite")
        defer { folder.remove() }
        let model = Model.random(seed: 4)
        let named = folder.url("w.onnx")
        try Checkpoint(model: model).write(to: named)
        let before = try Data(contentsOf: named)
        for arguments in [
            ["export", "--checkpoint", named.path],
            ["export", "--checkpoint", named.path, "--output", folder.path + "/./w.onnx"],
            ["export", "--checkpoint", named.path, "--format", "numpy", "--output", named.path],
            ["test", "--checkpoint", named.path, "--save-logits", named.path],
        ] {
            let result = try run(arguments)
            XCTAssertEqual(result.status, 1, "\(arguments)")
            XCTAssertTrue(result.error.contains("is the checkpoint being read"), result.error)
        }
        XCTAssertEqual(try Data(contentsOf: named), before)
    }

    /// augment draws its picture; test --distort distorts the test images (none at all: the
    /// plain accuracy), and the ensemble of a checkpoint with itself is that checkpoint.
    func testAugmentPictureDistortedTestsAndEnsembles() throws {
        let folder = try TemporaryDirectory("augment")
        defer { folder.remove() }
        let picture = folder.url("a.png")
        let drawn = try run(["augment", "--samples", "3", "--output", picture.path])
        XCTAssertEqual(drawn.status, 0, drawn.error)
        let image = try GrayImage(contentsOf: picture.path)
        XCTAssertEqual(image.width, 4 * (32 * 3 + 52))
        XCTAssertEqual(image.height, 36 + 8 * (32 * 3 + 44), "seven distortions and all of them, a row each")

        let model = folder.url("m.safetensors")
        try Checkpoint(model: Model.random(seed: 6)).write(to: model)
        func accuracy(_ arguments: [String]) throws -> String {
            let result = try run(["test", "--checkpoint", model.path] + arguments)
            XCTAssertEqual(result.status, 0, result.error)
            return try XCTUnwrap(result.output.split(separator: "\n").first { $0.hasPrefix("test accuracy") }.map(String.init))
        }
        let plain = try accuracy([])
        XCTAssertEqual(try accuracy(["--distort", "rotate=0"]), plain)
        XCTAssertNotEqual(try accuracy(["--distort", "shift=6,rotate=30"]), plain)
        XCTAssertEqual(try accuracy(["--checkpoint", model.path]).prefix(28), plain.prefix(28))
        assertRejected(["test", "--checkpoint", "m", "--distort", "twist=1"], "--distort 'twist=1' is not one of")
    }

    /// The training options are TrainingOptions' fields: each has its flag, the flag sets that
    /// field alone, `--help` shows it, and the table of options in docs/commands.md lists it.
    func testEveryTrainingOptionHasItsFlagHelpAndDocumentedRow() throws {
        // A value for each, and the options it needs beside it.
        let samples: [TrainingOptions.Field: [String]] = [
            .preset: ["best"], .epochs: ["3"], .batchSize: ["32"], .schedule: ["constant"], .learningRate: ["0.01"], .momentum: ["0.5"],
            .weightDecay: ["0.001"], .initialization: ["normal"], .seed: ["3"], .validationSize: ["100"], .selection: ["last"],
            .trainingImages: ["500"], .augment: ["standard"], .optimizer: ["nesterov"], .labelSmoothing: ["0.1"],
            .warmupEpochs: ["2", "--schedule", "warmup-cosine"],
        ]
        let help = TrainCommand.helpMessage()
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let table = try String(contentsOf: root.appendingPathComponent("docs/commands.md"), encoding: .utf8)
        for field in TrainingOptions.Field.allCases {
            let flag = TrainCommand.flag(field)
            let value = try XCTUnwrap(samples[field], "a sample value for \(field)")
            let command = try XCTUnwrap(try LeNet5Command.parseAsRoot(["train", flag] + value) as? TrainCommand, flag)
            XCTAssertTrue(command.options.given.contains(field), flag)
            XCTAssertEqual(command.options.given.count, (value.count + 1) / 2, "\(flag) sets its field alone")
            XCTAssertTrue(help.contains(flag + " "), "--help lacks \(flag)")
            XCTAssertTrue(table.contains("| `\(flag) "), "docs/commands.md's options table lacks \(flag)")
        }
        assertRejected(["train", "--resume", "x.safetensors", "--preset", "fast"], "--preset cannot change when resuming")
        XCTAssertNoThrow(try LeNet5Command.parseAsRoot(["train", "--resume", "x.safetensors", "--epochs", "30"]), "--epochs extends a resumed run")
    }

    func testOptimizerRules() throws {
        assertRejected(["train", "--optimizer", "adam", "--momentum", "0.9"], "--momentum is for sgd and nesterov")
        assertRejected(["train", "--optimizer", "nesterov", "--momentum", "0"], "--optimizer nesterov needs a momentum above 0")
        assertRejected(["train", "--optimizer", "rmsprop"], "rmsprop")
        var options = TrainingOptions()
        options.optimizer = .adamw
        XCTAssertEqual(try options.configuration(threads: 1).schedule, .oneCycle(peak: 0.001), "Adam's own rate")
        options.schedule = "cosine"
        XCTAssertEqual(try options.configuration(threads: 1).schedule, .cosine(base: 0.001), "Adam's own rate, named schedule")
        options.learningRate = 0.002
        XCTAssertEqual(try options.configuration(threads: 1).schedule, .cosine(base: 0.002))
    }

    /// Any configuration, written out as every option on top of its preset (as the web form's
    /// presets are), is that configuration again.
    func testOptionsFilledFromAConfigurationGiveItBack() throws {
        for arguments in [
            ["--schedule", "warmup-cosine", "--warmup-epochs", "2"], ["--schedule", "0.1,0.05"], ["--optimizer", "adam"],
            ["--preset", "original", "--schedule", "cosine"], ["--augment", "standard,rotate=20"], ["--preset", "best", "--augment", "light"],
            ["--schedule", "constant", "--learning-rate", "0.02", "--train-images", "300", "--select", "last"],
        ] {
            let command = try XCTUnwrap(try LeNet5Command.parseAsRoot(["train", "--threads", "1"] + arguments) as? TrainCommand)
            let c = try command.trainingConfiguration()
            let preset = arguments.firstIndex(of: "--preset").flatMap { TrainingOptions.Preset(rawValue: arguments[$0 + 1]) } ?? .fast
            XCTAssertEqual(try TrainingOptions(preset: preset, filledFrom: c).configuration(threads: 1), c, "\(arguments)")
        }
    }

    func testPerStepSchedulesAndLabelSmoothing() throws {
        func configuration(_ arguments: [String]) throws -> TrainingConfiguration {
            try XCTUnwrap(try LeNet5Command.parseAsRoot(["train"] + arguments) as? TrainCommand).trainingConfiguration()
        }
        XCTAssertEqual(try configuration(["--schedule", "warmup-cosine"]).schedule, .warmupCosine(base: 0.07, warmupEpochs: 1))
        XCTAssertEqual(
            try configuration(["--preset", "best", "--schedule", "warmup-cosine", "--warmup-epochs", "5"]).schedule,
            .warmupCosine(base: 0.05, warmupEpochs: 5))
        XCTAssertEqual(try configuration(["--schedule", "one-cycle", "--learning-rate", "0.1"]).schedule, .oneCycle(peak: 0.1))
        // A rate alone keeps the preset's kind of schedule; the original's list becomes constant.
        XCTAssertEqual(try configuration(["--preset", "best"]).schedule, .oneCycle(peak: 0.05))
        XCTAssertEqual(try configuration(["--preset", "best", "--learning-rate", "0.08"]).schedule, .oneCycle(peak: 0.08))
        XCTAssertEqual(try configuration(["--learning-rate", "0.02"]).schedule, .oneCycle(peak: 0.02))
        XCTAssertEqual(try configuration(["--preset", "original", "--learning-rate", "0.02"]).schedule, .constant(0.02))
        // The bundled model's recipe (the best preset until 2026-12-07), as docs/server.md gives it.
        var bundled = TrainingConfiguration()
        (bundled.epochs, bundled.schedule, bundled.augmentation, bundled.labelSmoothing) = (60, .cosine(base: 0.05), .standard, 0)
        (bundled.validationSize, bundled.selection) = (0, .last)
        XCTAssertEqual(
            try configuration(["--preset", "best", "--epochs", "60", "--augment", "standard", "--schedule", "cosine", "--label-smoothing", "0"]),
            bundled)
        XCTAssertEqual(try configuration(["--label-smoothing", "0.05"]).labelSmoothing, 0.05)
        XCTAssertEqual(try configuration(["--preset", "original"]).labelSmoothing, 0, "the original had one-hot targets")
        assertRejected(["train", "--schedule", "warmup-cosine", "--epochs", "3", "--warmup-epochs", "3"], "--warmup-epochs must be at least 1 and fewer than the epochs (3), got 3")
        assertRejected(["train", "--schedule", "warmup-cosine", "--epochs", "1"], "--warmup-epochs must be at least 1 and fewer than the epochs (1), got 1")
        assertRejected(["train", "--warmup-epochs", "2"], "--warmup-epochs is for the warmup-cosine schedule")
        assertRejected(["train", "--label-smoothing", "1"], "--label-smoothing must be in [0, 1), got 1.0")
        assertRejected(["train", "--schedule", "two-cycle"], "must be original, constant, cosine, warmup-cosine, one-cycle or a list")
    }

    /// Commands that read only the test images refuse images of another size, naming it, before
    /// anything assumes 28x28.
    func testTestAndAugmentRefuseImagesOfAnotherSize() throws {
        let folder = try TemporaryDirectory("ten-by-ten")
        defer { folder.remove() }
        try writeIDX(dimensions: [3, 10, 10], bytes: [UInt8](repeating: 9, count: 300), to: folder.url("t10k-images-idx3-ubyte"))
        try writeIDX(dimensions: [3], bytes: [1, 2, 3], to: folder.url("t10k-labels-idx1-ubyte"))
        try Checkpoint(model: Model.random(seed: 4)).write(to: folder.url("m.safetensors"))
        for arguments in [["augment", "--output", folder.url("a.png").path], ["test", "--checkpoint", folder.url("m.safetensors").path]] {
            let result = try run(arguments + ["--data", folder.path])
            XCTAssertEqual(result.status, 1, "\(arguments): \(result.error)")
            XCTAssertTrue(result.error.contains("takes 28x28 images (padded to 32x32); the data set has 10x10"), result.error)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.url("a.png").path))
    }

    /// test reads the test files only: a folder without training files (or with broken ones) is fine.
    func testTestReadsOnlyTheTestFiles() throws {
        let folder = try TemporaryDirectory("test-only")
        defer { folder.remove() }
        let mnist = try IDXDataset(directory: IDXDataset.bundledMNIST)
        try writeIDX(dimensions: [100, 28, 28], bytes: Array(mnist.test.pixels.prefix(78_400)), to: folder.url("t10k-images-idx3-ubyte"))
        try writeIDX(dimensions: [100], bytes: Array(mnist.test.labels.prefix(100)), to: folder.url("t10k-labels-idx1-ubyte"))
        try Data("broken".utf8).write(to: folder.url("train-images-idx3-ubyte"))
        let model = Model.random(seed: 4)
        try Checkpoint(model: model).write(to: folder.url("m.safetensors"))
        let result = try run(["test", "--checkpoint", folder.url("m.safetensors").path, "--data", folder.path])
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertTrue(result.output.contains("/100 = "), result.output)
    }

    func testResumeRejectsChangedHyperParameters() {
        assertRejected(["train", "--resume", "x.safetensors", "--batch-size", "8"], "--batch-size cannot change when resuming")
    }

    func testFailuresExitNonZeroWithOneLineError() throws {
        let missing = try run(["train", "--data", "/nonexistent/mnist"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertEqual(missing.error.split(separator: "\n").count, 1, missing.error)
        XCTAssertTrue(missing.error.contains("/nonexistent/mnist has none of train-images-idx3-ubyte"), missing.error)

        let garbage = FileManager.default.temporaryDirectory.appendingPathComponent("garbage-\(UUID().uuidString).safetensors")
        try Data("not a checkpoint".utf8).write(to: garbage)
        defer { try? FileManager.default.removeItem(at: garbage) }
        let corrupt = try run(["test", "--checkpoint", garbage.path])
        XCTAssertNotEqual(corrupt.status, 0)
        XCTAssertTrue(corrupt.error.contains("is not a valid swift-lenet checkpoint"), corrupt.error)
        XCTAssertEqual(corrupt.error.split(separator: "\n").count, 1, corrupt.error)
    }
}
