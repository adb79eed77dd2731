import ArgumentParser
import Foundation
import Kernels
import LeNet
import Training

@main
struct LeNet5Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lenet5",
        abstract: "Train, test, benchmark and serve LeNet-5 on MNIST, written from scratch in Swift.",
        subcommands: [TrainCommand.self, TestCommand.self, PredictCommand.self, InspectCommand.self, ExportCommand.self, BenchCommand.self, GradcheckCommand.self, ServeCommand.self, AugmentCommand.self, DetectorCommand.self],
        defaultSubcommand: nil)

    /// Refuses, in a sentence, to run kernels this CPU lacks the instructions for (they would die
    /// of an illegal instruction), then runs the command.
    static func main() async {
        guard InstructionSet.isRunnable else {
            FileHandle.standardError.write(Data((
                "Error: this lenet5 was built for \(InstructionSet.compiled) (LENET5_MARCH), which this CPU lacks "
                    + "(it has \(InstructionSet.machine)); rebuild it here, without LENET5_MARCH for a binary that runs on any x86-64-v3 CPU\n").utf8))
            Foundation.exit(1)
        }
        do {
            var command = try parseAsRoot()
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// Prints `message` to standard error as the one-line reason for a non-zero exit.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String

    init(_ error: any Error) {
        description = "\(error)"
    }

    init(_ message: String) {
        description = message
    }
}

/// Options shared by every command that reads a data set.
struct DataOptions: ParsableArguments {
    @Option(name: .customLong("data"), help: ArgumentHelp(
        "Folder with the four IDX files (train-images-idx3-ubyte, ... gzipped or not).",
        valueName: "dir"))
    var directory: String?

    @Option(parsing: .unconditional, help: "Worker threads (default: one per core).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        let range = TrainingConfiguration.threadRange
        guard range.contains(threads) else {
            throw ValidationError("--threads must be between \(range.lowerBound) and \(range.upperBound), got \(threads)")
        }
    }
}

/// Standard output is a terminal (draw progress) rather than a file or pipe (plain lines).
var standardOutputIsTerminal: Bool { isatty(STDOUT_FILENO) == 1 }

/// `text` padded on the left with spaces to `width` characters.
func rightAligned(_ text: String, _ width: Int) -> String {
    String(repeating: " ", count: max(0, width - text.count)) + text
}

/// The checkpoint at `path`, or a one-line failure naming the problem.
func loadCheckpoint(_ path: String) throws -> Checkpoint {
    do {
        return try Checkpoint(contentsOf: URL(fileURLWithPath: path))
    } catch {
        throw CommandFailure(error)
    }
}

/// The checkpoints as one ensemble.
/// - Throws: when their class names differ (they were trained on different data sets).
func ensemble(_ checkpoints: [Checkpoint]) throws -> Ensemble {
    let classifiers = checkpoints.map { Classifier(checkpoint: $0) }
    guard classifiers.allSatisfy({ $0.classNames == classifiers[0].classNames && $0.framing == classifiers[0].framing }) else {
        throw CommandFailure("the checkpoints name different classes: an ensemble needs models of one data set")
    }
    return Ensemble(classifiers)
}

/// Refuses to write `output` over `input` (the same file, by any path or link).
func refuseOverwriting(_ input: String, with output: URL, option: String) throws {
    let a = URL(fileURLWithPath: input).resolvingSymlinksInPath().standardizedFileURL.path
    let b = output.resolvingSymlinksInPath().standardizedFileURL.path
    if a == b { throw CommandFailure("\(option) \(output.relativePath) is the checkpoint being read; name another file") }
}

