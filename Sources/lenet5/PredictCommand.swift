import ArgumentParser
import Datasets
import Formats
import Foundation
import Imaging
import LeNet
import Training

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify image files (PNG, JPEG, PGM) of single digits with a trained checkpoint.",
        discussion: """
            Each image is prepared the way MNIST's digits were made: converted to gray, inverted if it \
            is dark ink on light paper, cropped to the ink, scaled to fit 20x20 keeping its aspect \
            ratio and centred by its centre of mass in 28x28 (for a Fashion-MNIST checkpoint: scaled \
            to fill 28x28 and centred). A file that cannot be read is reported and skipped; the exit \
            status is then non-zero.
            """)

    @Argument(help: ArgumentHelp("Image files.", valueName: "image"))
    var images: [String]

    @Option(help: ArgumentHelp(
        "A checkpoint written by 'lenet5 train' (default: the newest runs/*/best.safetensors); repeat it for an ensemble, which averages the models' probabilities.",
        valueName: "path"))
    var checkpoint: [String] = []

    @Option(parsing: .unconditional, help: "How many of the most likely classes to print.")
    var top = 3

    @Flag(help: "Print one JSON array for scripts.")
    var json = false

    @Option(help: ArgumentHelp("Folder to write each 28x28 image the network saw into, as <name>.input.png.", valueName: "dir"))
    var showInput: String?

    func validate() throws {
        guard (1...10).contains(top) else { throw ValidationError("--top must be between 1 and 10, got \(top)") }
    }

    struct Prediction {
        let file: String
        let classification: Classification
        var probabilities: [Float] { classification.probabilities }
    }

    func run() throws {
        // By default the best checkpoint of the last training run.
        let paths = checkpoint.isEmpty ? RunFolder.bestCheckpoints(in: URL(fileURLWithPath: "runs")).prefix(1).map(\.path) : checkpoint
        guard !paths.isEmpty else {
            throw CommandFailure("no checkpoint under runs/: train one first (swift run -c release lenet5 train) or pass --checkpoint")
        }
        let loaded = try paths.map { path in
            do {
                return try Checkpoint(contentsOf: URL(fileURLWithPath: path))
            } catch CheckpointError.cannotRead(.notFound(let path)) {
                throw CommandFailure(
                    "no checkpoint at \(path): train one first (swift run -c release lenet5 train) or pass --checkpoint")
            } catch {
                throw CommandFailure(error)
            }
        }
        let classifier = try ensemble(loaded)
        let names = classifier.classNames
        if let showInput {
            do {
                try createDirectories(at: URL(fileURLWithPath: showInput))
            } catch {
                throw CommandFailure(error)
            }
        }
        var results: [Result<Prediction, any Error>] = []
        var written: Set<String> = []
        for file in images {
            do {
                let classification = try classifier.classify(picture: try GrayImage(contentsOf: file), name: file)
                if let showInput {
                    // a/1.png and b/1.png: 1.input.png and 1-2.input.png, never one over the other.
                    let stem = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
                    var name = stem + ".input.png"
                    var n = 2
                    while written.contains(name) {
                        name = "\(stem)-\(n).input.png"
                        n += 1
                    }
                    written.insert(name)
                    try classification.input.writePNG(to: URL(fileURLWithPath: showInput).appendingPathComponent(name))
                }
                results.append(.success(Prediction(file: file, classification: classification)))
            } catch {
                results.append(.failure(error))
                if !json { FileHandle.standardError.write(Data("Error: \(error)\n".utf8)) }
            }
        }
        if json {
            print(jsonReport(results, names: names))
        } else {
            let width = images.map(\.count).max() ?? 0
            for case .success(let p) in results {
                let ranked = p.classification.ranked.prefix(top)
                let best = ranked.first ?? 0
                let others = ranked.map { "\(names[$0]) \(percent(p.probabilities[$0]))" }.joined(separator: ", ")
                print(p.file.padding(toLength: width, withPad: " ", startingAt: 0) + "  \(names[best])   (\(others))")
            }
        }
        let failures = results.filter { if case .failure = $0 { true } else { false } }.count
        if failures > 0 { throw ExitCode(1) }
    }

    private func percent(_ p: Float) -> String { String(format: "%.1f%%", 100 * p) }

    private func jsonReport(_ results: [Result<Prediction, any Error>], names: [String]) -> String {
        var entries: [Any] = []
        for (file, result) in zip(images, results) {
            switch result {
            case .success(let p):
                let ranked = p.classification.ranked.prefix(top)
                entries.append([
                    "file": file, "class": ranked.first ?? 0, "name": names[ranked.first ?? 0],
                    "top": ranked.map { ["class": $0, "name": names[$0], "probability": Double(p.probabilities[$0])] as [String: Any] },
                ] as [String: Any])
            case .failure(let error):
                entries.append(["file": file, "error": "\(error)"])
            }
        }
        let data = (try? JSONSerialization.data(withJSONObject: entries, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
