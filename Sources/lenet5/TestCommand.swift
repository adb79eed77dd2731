import ArgumentParser
import Datasets
import Formats
import Foundation
import LeNet
import Reports
import Training

struct TestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Accuracy, per-class accuracy and confusion matrix of a checkpoint on the test set.")

    @Option(help: ArgumentHelp(
        "A checkpoint written by 'lenet5 train'; repeat it for an ensemble, which predicts the class of highest mean probability.",
        valueName: "path"))
    var checkpoint: [String] = []

    @Option(help: ArgumentHelp("Also write the test set's logits, [N, 10] float32, as a NumPy .npy file.", valueName: "path"))
    var saveLogits: String?

    @Option(help: ArgumentHelp(
        "Distort the test images first, as train's --augment does training images (each image's draw fixed by its index), to measure robustness: rotate=20, scale=0.3, thickness=1, ...",
        valueName: "spec"))
    var distort: String?

    @OptionGroup var data: DataOptions

    func validate() throws {
        if checkpoint.isEmpty { throw ValidationError("Missing expected argument '--checkpoint <path>'") }
        _ = try distortion()
    }

    /// The test images' distortion, if any: seed 0, epoch 0, position = image index.
    func distortion() throws -> Distortion? {
        guard let distort else { return nil }
        do {
            return Distortion(augmentation: try Augmentation(parsing: distort), seed: 0, epoch: 0)
        } catch {
            throw ValidationError("--distort \(error.message)")
        }
    }

    func run() throws {
        if let saveLogits {
            for path in checkpoint { try refuseOverwriting(path, with: URL(fileURLWithPath: saveLogits), option: "--save-logits") }
        }
        let checkpoints = try checkpoint.map(loadCheckpoint)
        let loaded = checkpoints[0]
        let test = try data.loadTestSet()
        let runner = Runner(threads: data.threads)
        let distortion = try distortion()
        let evaluation = checkpoints.count == 1
            ? runner.evaluate(loaded.model, on: test, keepLogits: saveLogits != nil, distortion: distortion)
            : try ensemble(checkpoints).evaluate(on: test, runner: runner, distortion: distortion)
        if let saveLogits, let logits = evaluation.logits {
            do {
                try writeAtomically(NumPy.npy(shape: [evaluation.count, LeNet5.classes], values: logits), to: URL(fileURLWithPath: saveLogits))
            } catch {
                throw CommandFailure(error)
            }
        }
        if checkpoints.count == 1 {
            let epoch = loaded.metadata["epoch"].map { ", epoch \($0)" } ?? ""
            print("checkpoint \(checkpoint[0])\(epoch)")
        } else {
            print("ensemble of \(checkpoints.count) checkpoints (mean probabilities): " + checkpoint.joined(separator: ", "))
            if saveLogits != nil { print("the saved logits are the logarithms of the mean probabilities") }
        }
        if let distortion { print("test images distorted: \(distortion.augmentation.token)") }
        print(String(format: "test accuracy: %@/%@ = %.2f%%  (mean loss %.4f)",
                     grouped(evaluation.correct), grouped(evaluation.count), evaluation.accuracy, evaluation.meanLoss))
        print()
        let matrix = evaluation.confusionMatrix
        let names = ClassNames.decode(loaded.metadata["class_names"]) ?? ClassNames.recognized(test: test)
        let nameWidth = names.map(\.count).max() ?? 1
        print("per class:")
        for (k, row) in matrix.enumerated() {
            let total = row.reduce(0, +)
            let rate = total == 0 ? 0 : 100 * Double(row[k]) / Double(total)
            let label = names == ClassNames.digits ? "\(k)" : "\(k) \(names[k])".padding(toLength: nameWidth + 2, withPad: " ", startingAt: 0)
            print("  \(label)  " + rightAligned(grouped(row[k]), 5) + "/" + grouped(total).padding(toLength: 6, withPad: " ", startingAt: 0)
                + String(format: "%6.2f%%", rate))
        }
        print()
        print("confusion matrix (rows: true class, columns: predicted):")
        print("      " + (0..<matrix.count).map { String(format: "%6d", $0) }.joined())
        for (k, row) in matrix.enumerated() {
            print(String(format: "  %2d  ", k) + row.map { String(format: "%6d", $0) }.joined())
        }
    }
}
