import ArgumentParser
import Foundation
import Imaging
import LeNet
import Training

/// Trains the detector that tells digits from drawings that are not (`DigitDetector`), and says
/// how well it does on test data it did not train on.
struct DetectorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detector",
        abstract: "Train the network that tells a digit from a tap, a scribble, a letter or a shape (what serve's page uses).",
        discussion: """
            LeNet-5 trained on MNIST's training images (class 1, "digit") and as many generated \
            non-digits (class 0). Reports the test digits it would doubt and the generated test \
            drawings it catches, kind by kind. The bundled one is made with the defaults: \
            lenet5 detector --output Sources/LeNet/Resources/digit-detector.safetensors
            """)

    @Option(parsing: .unconditional, help: "Epochs to train.")
    var epochs = 4

    @Option(parsing: .unconditional, help: "Seed of the initial weights, the order of the images and the generated drawings.")
    var seed: UInt64 = 1

    @Option(help: ArgumentHelp("Where to write the detector's checkpoint.", valueName: "path"))
    var output = "digit-detector.safetensors"

    @OptionGroup var data: DataOptions

    func validate() throws {
        guard (1...100).contains(epochs) else { throw ValidationError("--epochs must be between 1 and 100, got \(epochs)") }
    }

    func run() throws {
        let digits = try data.load()
        let started = DispatchTime.now()
        let dataset = DetectorTraining.dataset(digits: digits, seed: seed)
        print("made \((dataset.train.count - digits.train.count).formatted()) training and \((dataset.test.count - digits.test.count).formatted()) test drawings that are not digits in \(String(format: "%.1f", seconds(since: started))) s")
        let trainer: Trainer
        do {
            trainer = try Trainer(configuration: DetectorTraining.configuration(epochs: epochs, seed: seed, threads: data.threads), dataset: dataset)
            trainer.classNames = DigitDetector.classNames
            for epoch in 1...epochs {
                guard let (loss, _, time) = try trainer.trainEpoch() else { break }
                print(String(format: "epoch %d/%d  loss %.4f  %.1f s", epoch, epochs, loss, time))
            }
        } catch {
            throw CommandFailure(error)
        }
        let checkpoint = trainer.weightsCheckpoint()
        do {
            try checkpoint.write(to: URL(fileURLWithPath: output))
        } catch {
            throw CommandFailure(error)
        }
        // The test set: MNIST's test digits, then (alternating) drawings of every kind in turn.
        let detector = DigitDetector(checkpoint: checkpoint)
        let test = dataset.test
        let size = test.width * test.height
        var doubted = 0, caught: [Scribbles.Kind: (Int, Int)] = [:]
        var drawing = 0
        for k in 0..<test.count {
            let image = GrayImage(width: test.width, height: test.height, pixels: Array(test.pixels[k * size..<(k + 1) * size]))
            let isDigit = detector.digitProbability(image) >= DigitDetector.threshold
            if test.labels[k] == 1 {
                if !isDigit { doubted += 1 }
            } else {
                let kind = Scribbles.Kind.allCases[drawing % Scribbles.Kind.allCases.count]
                let (seen, flagged) = caught[kind] ?? (0, 0)
                caught[kind] = (seen + 1, flagged + (isDigit ? 0 : 1))
                drawing += 1
            }
        }
        let flagged = caught.values.map(\.1).reduce(0, +)
        print(String(format: "test digits doubted: %d of %d (%.2f%%); test drawings caught: %d of %d (%.2f%%)",
                     doubted, digits.test.count, 100 * Double(doubted) / Double(digits.test.count), flagged, drawing, 100 * Double(flagged) / Double(drawing)))
        print(Scribbles.Kind.allCases.map { kind in
            let (seen, flagged) = caught[kind] ?? (0, 0)
            return "\(kind.rawValue) \(flagged)/\(seen)"
        }.joined(separator: ", "))
        print("wrote \(output)")
    }
}
