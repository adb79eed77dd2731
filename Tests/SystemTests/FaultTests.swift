import Datasets
import Formats
import Foundation
import Imaging
import Kernels
import LeNet
import TestSupport
import XCTest

/// Faults from outside the program: a disk that fills up while it trains, reports or exports, and
/// kill -9 at random moments. Each must leave only files that load, and at most one clear error.
final class FaultTests: XCTestCase {
    private static var lenet5: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("lenet5").path
    }

    /// Runs `lenet5 arguments` with `disk` a fresh tmpfs of `kilobytes`, in a mount namespace of
    /// its own (so nothing outlives the call), then copies what it wrote to `copy`.
    private func runOnSmallDisk(kilobytes: Int, disk: URL, copy: URL, _ arguments: [String]) throws -> (status: Int32, error: String) {
        try FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        let script = """
            disk=$1; copy=$2; shift 2
            mount -t tmpfs -o size=\(kilobytes)k tmpfs "$disk" || exit 99
            "$@"; status=$?
            cp -a "$disk"/. "$copy"/
            exit $status
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        let namespace = getuid() == 0 ? ["--mount"] : ["--mount", "--map-root-user"]
        process.arguments = namespace + ["sh", "-c", script, "sh", disk.path, copy.path, Self.lenet5] + arguments
        let error = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = error
        try process.run()
        let message = String(decoding: error.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus == 99 { throw XCTSkip("cannot mount a tmpfs here (needs root or user namespaces): \(message)") }
        return (process.terminationStatus, message)
    }

    /// Every file in `folder` is whole: checkpoints load, pictures decode, metrics.csv has whole
    /// rows, SVGs end; and no temporary file is left unless `temporaries` (a writer killed mid-write).
    private func assertOnlyWholeFiles(in folder: URL, temporaries: Bool = false, _ context: String, line: UInt = #line) throws {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] {
            let url = folder.appendingPathComponent(name)
            switch url.pathExtension {
            case _ where name.contains(".tmp-"):
                XCTAssertTrue(temporaries, "\(context): a temporary file was left: \(name)", line: line)
            case "safetensors":
                XCTAssertNoThrow(try Checkpoint(contentsOf: url), "\(context): \(name)", line: line)
            case "png":
                XCTAssertNoThrow(try GrayImage(contentsOf: url.path), "\(context): \(name)", line: line)
            case "svg":
                XCTAssertTrue(try String(contentsOf: url, encoding: .utf8).hasSuffix("</svg>\n"), "\(context): \(name)", line: line)
            case "csv":
                let rows = CSV.decode(try String(contentsOf: url, encoding: .utf8))
                XCTAssertTrue(rows.allSatisfy { $0.count == 8 }, "\(context): \(name): \(rows)", line: line)
            default:
                XCTAssertEqual(name, ".lock", "\(context): an unexpected file", line: line)
            }
        }
    }

    private static let reportFiles = [
        "best.safetensors", "resume.safetensors", "epoch-01.safetensors", "epoch-02.safetensors", "metrics.csv",
        "training-curves.png", "training-curves.svg", "confusion-matrix.png", "confusion-matrix.svg", "misclassified.png",
    ]

    /// A disk that fills up at any point of a run (a checkpoint, the resume state, metrics.csv, a
    /// plot) stops it with one line naming the file and the cause, and every file is whole.
    func testAFullDiskDuringTrainingGivesOneErrorAndOnlyWholeFiles() throws {
        let folder = try TemporaryDirectory("full-disk-train")
        defer { folder.remove() }
        var failed = 0
        for kilobytes in [8, 200, 400, 600, 800, 1_000, 1_200, 1_400, 1_600, 4_000] {
            let disk = folder.url("disk-\(kilobytes)"), copy = folder.url("copy-\(kilobytes)")
            let result = try runOnSmallDisk(kilobytes: kilobytes, disk: disk, copy: copy, [
                "train", "--train-images", "1000", "--validation-size", "200", "--epochs", "2", "--output", disk.path + "/run",
            ])
            let context = "\(kilobytes) KB"
            try assertOnlyWholeFiles(in: copy.appendingPathComponent("run"), context)
            if result.status == 0 {
                for name in Self.reportFiles {
                    XCTAssertTrue(FileManager.default.fileExists(atPath: copy.appendingPathComponent("run/\(name)").path), "\(context): \(name)")
                }
            } else {
                failed += 1
                XCTAssertEqual(result.status, 1, "\(context): \(result.error)")
                XCTAssertEqual(result.error.split(separator: "\n").count, 1, "\(context): \(result.error)")
                XCTAssertTrue(result.error.contains("No space left on device"), "\(context): \(result.error)")
                XCTAssertTrue(result.error.contains(disk.path + "/run"), "\(context): the message names the file: \(result.error)")
            }
        }
        XCTAssertGreaterThanOrEqual(failed, 5, "most of the disks are too small for a run")
        XCTAssertLessThan(failed, 10, "the largest is not")
    }

    /// export and test's logits on a full disk: one error, and no file at all where they write.
    func testAFullDiskDuringAnExportGivesOneErrorAndNoFile() throws {
        let folder = try TemporaryDirectory("full-disk-export")
        defer { folder.remove() }
        let model = Model.random(seed: 5)
        let checkpoint = folder.url("model.safetensors")
        try Checkpoint(model: model).write(to: checkpoint)
        for (index, arguments) in [
            ["export", "--checkpoint", checkpoint.path, "--output", "model.onnx"],
            ["export", "--checkpoint", checkpoint.path, "--format", "numpy", "--output", "model.npz"],
            ["test", "--checkpoint", checkpoint.path, "--save-logits", "logits.npy"],
        ].enumerated() {
            let disk = folder.url("disk-\(index)"), copy = folder.url("copy-\(index)")
            let written = arguments.enumerated().map { $0.offset == arguments.count - 1 ? disk.appendingPathComponent($0.element).path : $0.element }
            let result = try runOnSmallDisk(kilobytes: 64, disk: disk, copy: copy, written)
            XCTAssertEqual(result.status, 1, "\(arguments): \(result.error)")
            XCTAssertEqual(result.error.split(separator: "\n").count, 1, result.error)
            XCTAssertTrue(result.error.contains("cannot write \(written.last!): No space left on device"), result.error)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: copy.path), [], "\(arguments)")
        }
    }

    /// kill -9 at random moments of a run, again and again, each time continuing from what is on
    /// disk: every file loads after every kill, and the run that finishes in the end is bit for
    /// bit the run that was never interrupted.
    func testKillNineAtRandomMomentsLeavesFilesThatLoadAndTheRunEndsBitExact() throws {
        let folder = try TemporaryDirectory("kill-9")
        defer { folder.remove() }
        let options = ["--train-images", "3000", "--validation-size", "500", "--epochs", "4", "--batch-size", "32", "--threads", "2"]
        let started = ContinuousClock.now
        let reference = try runLenet5(["train", "--output", folder.url("reference").path] + options)
        XCTAssertEqual(reference.status, 0, reference.error)
        let elapsed = (ContinuousClock.now - started).components
        let runSeconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18

        let expected = try Checkpoint(contentsOf: folder.url("reference/best.safetensors"))
        // metrics.csv: the same epochs with the same loss and accuracies (times differ).
        func accuracies(_ url: URL) throws -> [[String]] {
            CSV.decode(try String(contentsOf: url, encoding: .utf8)).map { Array($0.prefix(6)) }
        }
        var generator = SplitMix64(seed: 9)
        var kills = 0
        // Runs, each killed until it finishes on its own (the remaining work shrinks with every
        // epoch saved), until 20 kills have struck.
        var attempt = 0
        while kills < 20 {
            attempt += 1
            let run = folder.url("run-\(attempt)")
            let resume = run.appendingPathComponent("resume.safetensors")
            var killsInRun = 0
            while true {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: Self.lenet5)
                let resuming = FileManager.default.fileExists(atPath: resume.path)
                process.arguments = resuming ? ["train", "--resume", resume.path] : ["train", "--output", run.path] + options
                let error = Pipe()
                (process.standardOutput, process.standardError) = (FileHandle.nullDevice, error)
                try process.run()
                // Anywhere in the first 60% of an uninterrupted run's time; after 8 kills in one run
                // it may finish (a slow machine's start-up alone could outlast every delay).
                if killsInRun < 8 {
                    Thread.sleep(forTimeInterval: Double(generator.nextUnitFloat()) * 0.6 * runSeconds)
                    kill(process.processIdentifier, SIGKILL)
                }
                let message = String(decoding: error.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                if process.terminationReason == .exit {
                    XCTAssertEqual(process.terminationStatus, 0, "run \(attempt) (resuming: \(resuming)): \(message)")
                    break
                }
                kills += 1
                killsInRun += 1
                try assertOnlyWholeFiles(in: run, temporaries: true, "run \(attempt) after kill \(kills)")
            }
            try assertOnlyWholeFiles(in: run, "run \(attempt), finished")
            let finished = try Checkpoint(contentsOf: run.appendingPathComponent("best.safetensors"))
            XCTAssertEqual(finished.model.parameters, expected.model.parameters, "run \(attempt): the same weights, bit for bit")
            XCTAssertEqual(finished.metadata["epoch"], expected.metadata["epoch"])
            XCTAssertEqual(try accuracies(run.appendingPathComponent("metrics.csv")), try accuracies(folder.url("reference/metrics.csv")))
        }
    }
}
