import Datasets
import Formats
import Foundation
import Imaging
import LeNet
import TestSupport
import XCTest

/// Faults from outside the program: a disk that fills up while it trains, reports or exports, and
/// kill -9 as it writes. Each must leave only files that load, and at most one clear error.
final class FaultTests: XCTestCase {
    /// Runs `lenet5 arguments` with `disk` a fresh tmpfs of `kilobytes` (read-only if `readOnly`),
    /// in a mount namespace of its own (so nothing outlives the call), then copies what it wrote
    /// to `copy`.
    private func runOnSmallDisk(
        kilobytes: Int, readOnly: Bool = false, disk: URL, copy: URL, _ arguments: [String]
    ) throws -> (status: Int32, error: String) {
        try FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        let script = """
            disk=$1; copy=$2; shift 2
            mount -t tmpfs -o size=\(kilobytes)k\(readOnly ? ",ro" : "") tmpfs "$disk" || exit 99
            "$@"; status=$?
            cp -a "$disk"/. "$copy"/
            exit $status
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        let namespace = getuid() == 0 ? ["--mount"] : ["--mount", "--map-root-user"]
        process.arguments = namespace + ["sh", "-c", script, "sh", disk.path, copy.path, lenet5Executable.path] + arguments
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

    /// A read-only disk is named as such by every writer (building the path once overwrote the
    /// errno of the call that failed: "No such file or directory").
    func testAReadOnlyDiskIsReportedAsOne() throws {
        let folder = try TemporaryDirectory("read-only")
        defer { folder.remove() }
        let checkpoint = folder.url("model.safetensors")
        try Checkpoint(model: Model.random(seed: 5)).write(to: checkpoint)
        // The run's folder is the disk itself: it exists, and its lock file cannot be made.
        for (index, (arguments, output)) in [
            (["train", "--train-images", "300", "--validation-size", "100", "--epochs", "1", "--output"], ""),
            (["export", "--checkpoint", checkpoint.path, "--output"], "/model.onnx"),
        ].enumerated() {
            let disk = folder.url("disk-\(index)"), copy = folder.url("copy-\(index)")
            let result = try runOnSmallDisk(kilobytes: 64, readOnly: true, disk: disk, copy: copy, arguments + [disk.path + output])
            XCTAssertEqual(result.status, 1, "\(arguments): \(result.error)")
            XCTAssertTrue(result.error.contains("Read-only file system"), result.error)
        }
    }

    /// kill -9 where a crash hurts most, again and again, each time continuing from what is on
    /// disk: as the run enters its k-th `rename` (a file written whole beside its destination,
    /// not yet in place) or its k-th `fsync` (a file written, not yet flushed; or renamed, its
    /// folder not yet flushed), k growing by one with every run, for each of the two calls in
    /// turn. strace's fault injection delivers the signal, so the kills land at the same calls on
    /// every machine, however fast. Every file loads after every kill, and the run that finishes
    /// in the end is bit for bit the run that was never interrupted.
    func testKillNineAtEveryWriteLeavesFilesThatLoadAndTheRunEndsBitExact() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/strace") else {
            throw XCTSkip("needs strace (apt-get install strace) to kill the run at chosen system calls")
        }
        let folder = try TemporaryDirectory("kill-9")
        defer { folder.remove() }
        let options = ["--train-images", "3000", "--validation-size", "500", "--epochs", "3", "--batch-size", "32", "--threads", "2"]
        let reference = try runLenet5(["train", "--output", folder.url("reference").path] + options)
        XCTAssertEqual(reference.status, 0, reference.error)
        let expected = try Checkpoint(contentsOf: folder.url("reference/best.safetensors"))
        // metrics.csv: the same epochs with the same loss and accuracies (times differ).
        func accuracies(_ url: URL) throws -> [[String]] {
            CSV.decode(try String(contentsOf: url, encoding: .utf8)).map { Array($0.prefix(6)) }
        }
        for calls in [["rename", "renameat", "renameat2"], ["fsync"]] {
            let run = folder.url("run-\(calls[0])")
            let resume = run.appendingPathComponent("resume.safetensors")
            var kills = 0
            for k in 1... {
                // Killed before its first resume state, a run is started afresh: the tool refuses the
                // folder's orphaned checkpoints (nothing to resume) unless told to replace them.
                let resuming = FileManager.default.fileExists(atPath: resume.path)
                let arguments = resuming ? ["train", "--resume", resume.path] : ["train", "--output", run.path, "--overwrite"] + options
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/strace")
                // Without --seccomp-bpf: with it, strace 6.1 injects at the first call only.
                process.arguments = ["-f", "-o", "/dev/null", "-e", "trace=" + calls.joined(separator: ","),
                                     "-e", "inject=" + calls.joined(separator: ",") + ":signal=KILL:when=\(k)", lenet5Executable.path] + arguments
                let error = Pipe()
                (process.standardOutput, process.standardError) = (FileHandle.nullDevice, error)
                try process.run()
                let message = String(decoding: error.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                // strace ends as its child did: killed by the same signal when the kill struck.
                if process.terminationReason == .exit {
                    XCTAssertEqual(process.terminationStatus, 0, "\(calls[0]) \(k): \(message)")
                    break
                }
                XCTAssertEqual(process.terminationStatus, SIGKILL, "\(calls[0]) \(k): \(message)")
                kills += 1
                try assertOnlyWholeFiles(in: run, temporaries: true, "killed entering \(calls[0]) \(k)")
                if kills > 40 { return XCTFail("\(calls[0]): the run never finished") }
            }
            XCTAssertGreaterThanOrEqual(kills, 5, "\(calls[0]): every run was killed until the calls were few enough to finish")
            try assertOnlyWholeFiles(in: run, "\(calls[0]), finished")
            let finished = try Checkpoint(contentsOf: run.appendingPathComponent("best.safetensors"))
            XCTAssertEqual(finished.model.parameters, expected.model.parameters, "\(calls[0]): the same weights, bit for bit")
            XCTAssertEqual(finished.metadata["epoch"], expected.metadata["epoch"])
            XCTAssertEqual(try accuracies(run.appendingPathComponent("metrics.csv")), try accuracies(folder.url("reference/metrics.csv")))
        }
    }
}
