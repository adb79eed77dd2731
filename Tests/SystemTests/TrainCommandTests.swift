import Datasets
import Formats
import Foundation
import Imaging
import LeNet
import TestSupport
import XCTest

/// `lenet5 train` run whole, as a user runs it: signals, resumes, folders, seeds, divergence,
/// and bench on a small data set.
final class TrainCommandTests: XCTestCase {
    /// SIGINT stops the run after its current batch, wherever that is, saves it, and prints the
    /// command that finishes it.
    func testInterruptSavesStateAndResumeFinishesTheRun() throws {
        let folder = try TemporaryDirectory("interrupt")
        defer { folder.remove() }
        let directory = folder.url
        // A --data folder of its own (a copy of the bundled files), whose path has a space.
        let data = folder.url("my data")
        try FileManager.default.copyItem(at: IDXDataset.bundledMNIST, to: data)
        let (process, output, _) = try startLenet5(
            ["train", "--epochs", "2", "--output", directory.path, "--data", data.path], waitingFor: "normalisation:")
        process.interrupt()  // SIGINT, as training starts (an epoch takes a second or more)
        let rest = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 130, rest)
        // "stopped by SIGINT after batch b/B of epoch e; state saved to ..."
        let stopped = try XCTUnwrap(rest.split(separator: "\n").first { $0.hasPrefix("stopped by SIGINT after batch ") }, rest)
        let words = stopped.split(separator: " ")
        let epoch = try XCTUnwrap(Int(words[8].trimmingCharacters(in: .punctuationCharacters)), String(stopped))
        let saved = try Checkpoint(contentsOf: directory.appendingPathComponent("resume.safetensors"))
        XCTAssertNotNil(saved.momentum)
        XCTAssertEqual(saved.metadata["epoch"], String(epoch - 1), "the epochs finished before the batch it stopped after")

        // The printed command, followed to the letter, finishes the run.
        let printed = try XCTUnwrap(rest.split(separator: "\n").first { $0.hasPrefix("resume with: swift run -c release lenet5 ") })
        XCTAssertEqual(
            String(printed), "resume with: swift run -c release lenet5 train --resume \(directory.path)/resume.safetensors --data '\(data.path)'")
        let resumed = try runLenet5(["train", "--resume", directory.appendingPathComponent("resume.safetensors").path, "--data", data.path])
        XCTAssertEqual(resumed.status, 0, resumed.error)
        XCTAssertTrue(resumed.output.contains("resuming"), resumed.output)
        XCTAssertTrue(resumed.output.contains("final test accuracy (reloaded best checkpoint)"), resumed.output)
        for name in ["best.safetensors", "metrics.csv", "training-curves.png", "training-curves.svg", "confusion-matrix.png",
                     "confusion-matrix.svg", "misclassified.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path), name)
        }
        let metrics = try String(contentsOf: directory.appendingPathComponent("metrics.csv"), encoding: .utf8)
        XCTAssertEqual(metrics.split(separator: "\n").count, 3, "header and the two epochs: \(metrics)")
    }

    func testTerminateExitsWith143() throws {
        let folder = try TemporaryDirectory("terminate")
        defer { folder.remove() }
        let directory = folder.url
        let (process, output, _) = try startLenet5(["train", "--output", directory.path], waitingFor: "normalisation:")
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
        let result = try runLenet5([
            "train", "--train-images", "2000", "--validation-size", "500", "--schedule", "constant", "--learning-rate", "5",
            "--epochs", "2", "--output", folder.url("run").path,
        ])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.error.split(separator: "\n").count, 1, result.error)
        XCTAssertTrue(result.error.contains("training diverged at epoch 1, batch"), result.error)
        XCTAssertTrue(result.error.contains("try a --learning-rate below 5.0"), result.error)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.url("run/epoch-01.safetensors").path))
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
        let result = try runLenet5(["bench", "--data", folder.path, "--images", "300", "--json"])
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
    }

    /// Ctrl-C stops whichever run of --seeds is training (the signal handling is installed
    /// once: installed again per run, it left SIGINT and SIGTERM ignored from the second run on).
    func testInterruptStopsTheCurrentRunOfSeveralSeeds() throws {
        let folder = try TemporaryDirectory("seeds-interrupt")
        defer { folder.remove() }
        let (process, output, _) = try startLenet5(
            ["train", "--train-images", "3000", "--validation-size", "100", "--epochs", "20", "--seeds", "1,2",
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
}
