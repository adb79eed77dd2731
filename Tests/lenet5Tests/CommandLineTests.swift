import ArgumentParser
import Datasets
import Formats
import Foundation
import Imaging
import Kernels
import LeNet
import TestSupport
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
        assertRejected(["train", "--epochs", "many"], "many")
        assertRejected(["test"], "--checkpoint")
        assertRejected(["bench", "--batch-size", "0"], "--batch-size must be between 1 and 60000")
        assertRejected(["fly"], "fly")
    }

    func testPresetsAndOverrides() throws {
        let original = try XCTUnwrap(try LeNet5Command.parseAsRoot(["train", "--preset", "original", "--threads", "1"]) as? TrainCommand)
        var expected = TrainingConfiguration.original
        expected.threads = 1
        XCTAssertEqual(try original.trainingConfiguration(), expected)

        let tuned = try XCTUnwrap(try LeNet5Command.parseAsRoot(
            ["train", "--preset", "original", "--epochs", "3", "--learning-rate", "0.01", "--validation-size", "0"]) as? TrainCommand)
        let c = try tuned.trainingConfiguration()
        XCTAssertEqual(c.epochs, 3)
        XCTAssertEqual(c.batchSize, 8)
        XCTAssertEqual(c.schedule, .constant(0.01))
        XCTAssertEqual(c.selection, .last, "no validation split: select the last epoch")

        // A named schedule without --learning-rate starts at the preset's first rate.
        let cosine = try XCTUnwrap(try LeNet5Command.parseAsRoot(["train", "--schedule", "constant"]) as? TrainCommand)
        XCTAssertEqual(try cosine.trainingConfiguration().schedule, .constant(0.03))
        let originalCosine = try XCTUnwrap(try LeNet5Command.parseAsRoot(["train", "--preset", "original", "--schedule", "cosine"]) as? TrainCommand)
        XCTAssertEqual(try originalCosine.trainingConfiguration().schedule, .cosine(base: 0.05))

        let listed = try XCTUnwrap(try LeNet5Command.parseAsRoot(["train", "--schedule", "0.1, 0.05,0.01"]) as? TrainCommand)
        XCTAssertEqual(try listed.trainingConfiguration().schedule, .list([0.1, 0.05, 0.01]))
    }

    // MARK: The built tool, as a user runs it

    private func run(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        try runLenet5(arguments)
    }

    /// Starts `lenet5` and waits until its standard output contains `marker`.
    private func start(_ arguments: [String], waitingFor marker: String) throws -> (Process, Pipe, String) {
        let products = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let process = Process()
        process.executableURL = products.appendingPathComponent("lenet5")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = Pipe()
        try process.run()
        var seen = ""
        while !seen.contains(marker) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        return (process, output, seen)
    }

    func testInterruptSavesStateAndResumeFinishesTheRun() throws {
        let folder = try TemporaryDirectory("interrupt")
        defer { folder.remove() }
        let directory = folder.url
        // A --data folder of its own (a copy of the bundled files), whose path has a space.
        let data = folder.url("my data")
        try FileManager.default.copyItem(at: IDXDataset.bundledMNIST, to: data)
        let (process, output, _) = try start(
            ["train", "--epochs", "1", "--output", directory.path, "--data", data.path], waitingFor: "normalisation:")
        process.interrupt()  // SIGINT, while the first epoch (several seconds) is running
        let rest = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 130, rest)
        XCTAssertTrue(rest.contains("stopped by SIGINT after batch"), rest)
        let saved = try Checkpoint(contentsOf: directory.appendingPathComponent("resume.safetensors"))
        XCTAssertNotNil(saved.momentum)
        XCTAssertEqual(saved.metadata["epoch"], "0")

        // The printed command, followed to the letter, finishes the run.
        let printed = try XCTUnwrap(rest.split(separator: "\n").first { $0.hasPrefix("resume with: swift run -c release lenet5 ") })
        XCTAssertEqual(
            String(printed), "resume with: swift run -c release lenet5 train --resume \(directory.path)/resume.safetensors --data '\(data.path)'")
        let resumed = try run(["train", "--resume", directory.appendingPathComponent("resume.safetensors").path, "--data", data.path])
        XCTAssertEqual(resumed.status, 0, resumed.error)
        XCTAssertTrue(resumed.output.contains("resuming"), resumed.output)
        XCTAssertTrue(resumed.output.contains("final test accuracy (reloaded best checkpoint)"), resumed.output)
        for name in ["best.safetensors", "metrics.csv", "training-curves.png", "training-curves.svg", "confusion-matrix.png",
                     "confusion-matrix.svg", "misclassified.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path), name)
        }
        let metrics = try String(contentsOf: directory.appendingPathComponent("metrics.csv"), encoding: .utf8)
        XCTAssertEqual(metrics.split(separator: "\n").count, 2, "header and the one epoch: \(metrics)")
    }

    func testTerminateExitsWith143() throws {
        let folder = try TemporaryDirectory("terminate")
        defer { folder.remove() }
        let directory = folder.url
        let (process, output, _) = try start(["train", "--output", directory.path], waitingFor: "normalisation:")
        process.terminate()
        let rest = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 143, rest)
        XCTAssertTrue(rest.contains("stopped by SIGTERM"), rest)
    }

    /// A rate that explodes the loss ends the run at once with one line naming the batch and the
    /// option to lower, and a non-zero exit.
    func testDivergenceIsReportedWithTheOptionToChange() throws {
        let folder = try TemporaryDirectory("diverge")
        defer { folder.remove() }
        let result = try run([
            "train", "--train-images", "2000", "--validation-size", "500", "--learning-rate", "5", "--epochs", "2",
            "--output", folder.url("run").path,
        ])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.error.split(separator: "\n").count, 1, result.error)
        XCTAssertTrue(result.error.contains("training diverged at epoch 1, batch"), result.error)
        XCTAssertTrue(result.error.contains("try a --learning-rate below 5.0"), result.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.url("run/epoch-01.safetensors").path))
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

    /// bench on a data set smaller than its warm-up (1,000 test images) runs instead of trapping.
    func testBenchOnASmallDataSet() throws {
        let folder = try TemporaryDirectory("bench-small")
        defer { folder.remove() }
        let mnist = try IDXDataset(directory: IDXDataset.bundledMNIST)
        for (name, images, count) in [("train", mnist.train, 300), ("t10k", mnist.test, 50)] {
            try writeIDX(dimensions: [count, 28, 28], bytes: Array(images.pixels.prefix(count * 784)), to: folder.url("\(name)-images-idx3-ubyte"))
            try writeIDX(dimensions: [count], bytes: Array(images.labels.prefix(count)), to: folder.url("\(name)-labels-idx1-ubyte"))
        }
        let result = try run(["bench", "--data", folder.path, "--images", "300", "--json"])
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertTrue(result.output.contains("\"train_images\": 300"), result.output)
        let fields = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        for key in ["instruction_set", "machine_instruction_set", "ceiling_gflops", "peak_gflops", "training_percent_of_ceiling", "single_image_bound_seconds"] {
            XCTAssertNotNil(fields[key], "bench --json lacks \(key)")
        }
    }

    /// Runs are never silently overwritten: the default folder moves on to runs/lenet5-2 and says
    /// so (predict then takes the newest), an explicit --output that holds a run is refused
    /// unless --overwrite, which removes the old files, and a resume stays in its own folder.
    func testAFolderHoldingARunIsNeverSilentlyOverwritten() throws {
        let folder = try TemporaryDirectory("runs")
        defer { folder.remove() }
        let quick = ["train", "--train-images", "300", "--validation-size", "100", "--epochs", "1"]
        let first = try runLenet5(quick, in: folder.url)
        XCTAssertEqual(first.status, 0, first.error)
        let second = try runLenet5(quick + ["--seed", "2"], in: folder.url)
        XCTAssertEqual(second.status, 0, second.error)
        XCTAssertTrue(second.output.contains("runs/lenet5 holds an earlier run; this one goes to runs/lenet5-2"), second.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.url("runs/lenet5-2/best.safetensors").path))
        let digit = folder.url("digit.pgm")
        try Data("P5 28 28 255\n".utf8 + IDXDataset(directory: IDXDataset.bundledMNIST).test.pixels.prefix(784)).write(to: digit)
        let predicted = try runLenet5(["predict", digit.path, "--json"], in: folder.url)
        XCTAssertEqual(predicted.status, 0, predicted.error)
        let newest = try Checkpoint(contentsOf: folder.url("runs/lenet5-2/best.safetensors"))
        XCTAssertEqual(newest.metadata["seed"], "2", "the newest run's checkpoint is the default")

        // An explicit folder with a run: refused, the old files untouched; --overwrite replaces them.
        let stale = folder.url("runs/lenet5/epoch-07.safetensors")
        try FileManager.default.copyItem(at: folder.url("runs/lenet5/epoch-01.safetensors"), to: stale)
        let refused = try runLenet5(quick + ["--output", "runs/lenet5"], in: folder.url)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.error.contains("runs/lenet5 holds an earlier run: resume it with --resume runs/lenet5/resume.safetensors"), refused.error)
        XCTAssertTrue(FileManager.default.fileExists(atPath: stale.path))
        let replaced = try runLenet5(quick + ["--output", "runs/lenet5", "--overwrite"], in: folder.url)
        XCTAssertEqual(replaced.status, 0, replaced.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale.path), "no old epoch file mixes with the new run")

        let elsewhere = try runLenet5(["train", "--resume", "runs/lenet5/resume.safetensors", "--epochs", "2", "--output", "runs/other"], in: folder.url)
        XCTAssertEqual(elsewhere.status, 1)
        XCTAssertTrue(elsewhere.error.contains("a resumed run continues in its own folder, runs/lenet5"), elsewhere.error)
    }

    /// --seeds: one run per seed, each in seed-N with its seed in its checkpoints, then
    /// summary.csv with each run's accuracy and their mean, standard deviation, min and max.
    func testSeedsRunOneAfterAnotherIntoTheirOwnFoldersAndSummarize() throws {
        let folder = try TemporaryDirectory("seeds")
        defer { folder.remove() }
        let result = try runLenet5(["train", "--train-images", "300", "--validation-size", "100", "--epochs", "1", "--seeds", "3,4"], in: folder.url)
        XCTAssertEqual(result.status, 0, result.error)
        XCTAssertTrue(result.output.contains("== run 2/2: seed 4"), result.output)
        XCTAssertTrue(result.output.contains("2 runs: test accuracy mean "), result.output)
        let rows = CSV.decode(try String(contentsOf: folder.url("runs/lenet5/summary.csv"), encoding: .utf8))
        XCTAssertEqual(rows.map { $0[0] }, ["seed", "3", "4", "mean", "sd", "min", "max"])
        let accuracies = rows[1...2].map { Double($0[4])! }
        XCTAssertEqual(Double(rows[3][4])!, (accuracies[0] + accuracies[1]) / 2, accuracy: 0.006)
        XCTAssertEqual(Double(rows[5][4])!, accuracies.min()!)
        for seed in ["3", "4"] {
            XCTAssertEqual(try Checkpoint(contentsOf: folder.url("runs/lenet5/seed-\(seed)/best.safetensors")).metadata["seed"], seed)
        }
        assertRejected(["train", "--seeds", "1,1"], "--seeds must be up to 100 different whole numbers")
        assertRejected(["train", "--seeds", "1,2", "--seed", "3"], "--seed and --seeds do not go together")
        assertRejected(["train", "--seeds", "1,x"], "got '1,x'")
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

    /// Ctrl-C stops whichever run of --seeds is training (the signal handling is installed
    /// once: installed again per run, it left SIGINT and SIGTERM ignored from the second run on).
    func testInterruptStopsTheCurrentRunOfSeveralSeeds() throws {
        let folder = try TemporaryDirectory("seeds-interrupt")
        defer { folder.remove() }
        let (process, output, _) = try start(
            ["train", "--train-images", "3000", "--validation-size", "100", "--epochs", "3", "--seeds", "1,2",
             "--output", folder.path],
            waitingFor: "== run 2/2")
        process.interrupt()
        let rest = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 130, rest)
        XCTAssertTrue(rest.contains("stopped by SIGINT after batch"), rest)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.url("seed-2/resume.safetensors").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.url("summary.csv").path))
    }

    func testOptimizerRules() throws {
        assertRejected(["train", "--optimizer", "adam", "--momentum", "0.9"], "--momentum is for sgd and nesterov")
        assertRejected(["train", "--optimizer", "nesterov", "--momentum", "0"], "--optimizer nesterov needs a momentum above 0")
        assertRejected(["train", "--optimizer", "rmsprop"], "rmsprop")
        var options = TrainingOptions()
        options.optimizer = .adamw
        XCTAssertEqual(try options.configuration(threads: 1).schedule, .cosine(base: 0.001), "Adam's own starting rate")
        options.learningRate = 0.002
        XCTAssertEqual(try options.configuration(threads: 1).schedule, .cosine(base: 0.002))
    }

    func testPerStepSchedulesAndLabelSmoothing() throws {
        func configuration(_ arguments: [String]) throws -> TrainingConfiguration {
            try XCTUnwrap(try LeNet5Command.parseAsRoot(["train"] + arguments) as? TrainCommand).trainingConfiguration()
        }
        XCTAssertEqual(try configuration(["--schedule", "warmup-cosine"]).schedule, .warmupCosine(base: 0.03, warmupEpochs: 1))
        XCTAssertEqual(
            try configuration(["--preset", "best", "--schedule", "warmup-cosine", "--warmup-epochs", "5"]).schedule,
            .warmupCosine(base: 0.05, warmupEpochs: 5))
        XCTAssertEqual(try configuration(["--schedule", "one-cycle", "--learning-rate", "0.1"]).schedule, .oneCycle(peak: 0.1))
        XCTAssertEqual(try configuration(["--label-smoothing", "0.1"]).labelSmoothing, 0.1)
        assertRejected(["train", "--schedule", "warmup-cosine", "--epochs", "3", "--warmup-epochs", "3"], "--warmup-epochs must be at least 1 and fewer than the epochs (3), got 3")
        assertRejected(["train", "--schedule", "warmup-cosine", "--epochs", "1"], "--warmup-epochs must be at least 1 and fewer than the epochs (1), got 1")
        assertRejected(["train", "--warmup-epochs", "2"], "--warmup-epochs is for the warmup-cosine schedule")
        assertRejected(["train", "--label-smoothing", "1"], "--label-smoothing must be in [0, 1), got 1.0")
        assertRejected(["train", "--schedule", "two-cycle"], "must be original, constant, cosine, warmup-cosine, one-cycle or a list")
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

final class InspectTests: XCTestCase {
    func testInspectCountsParametersShowsMetadataAndDrawsFilters() throws {
        let folder = try TemporaryDirectory("inspect")
        defer { folder.remove() }
        let directory = folder.url
        let model = Model.random(seed: 4)
        let checkpoint = directory.appendingPathComponent("model.safetensors")
        try Checkpoint(model: model, metadata: ["epoch": "7", "test_accuracy": "99.01"]).write(to: checkpoint)
        let filters = directory.appendingPathComponent("filters.png")
        let result = try runLenet5(["inspect", "--checkpoint", checkpoint.path, "--filters", filters.path])
        XCTAssertEqual(result.status, 0, result.error)
        for text in ["C5 conv 5x5 + ReLU", "48,120", "total", "61,706", "conv3.weight", "test_accuracy", "99.01", "normalization_std"] {
            XCTAssertTrue(result.output.contains(text), "\(text) missing from:\n\(result.output)")
        }
        let image = try GrayImage(contentsOf: filters.path)
        XCTAssertGreaterThan(image.width * image.height, 100_000)

        let missing = try runLenet5(["inspect", "--checkpoint", directory.appendingPathComponent("none.safetensors").path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.error.contains("no such file"), missing.error)
    }
}

final class GradcheckTests: XCTestCase {
    func testGradcheckPrintsEveryCheckAndPasses() throws {
        let result = try runLenet5(["gradcheck"])
        XCTAssertEqual(result.status, 0, result.error)
        for text in [
            "C1 convolution (direct forward)", "C1 conv + ReLU + max-pool (backward in one)",
            "C3 conv + ReLU + max-pool (backward in one)", "ReLU + max-pool 2x2 (fused backward)",
            "softmax + cross-entropy, label smoothing 0.1", "fc2.bias", "38 passed, 0 failed",
        ] {
            XCTAssertTrue(result.output.contains(text), "\(text) missing from:\n\(result.output)")
        }
    }
}

