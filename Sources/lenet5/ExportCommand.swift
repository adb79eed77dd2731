import ArgumentParser
import Formats
import Foundation
import LeNet
import Reports

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a checkpoint's model as ONNX (for ONNX Runtime and friends) or NumPy .npz.",
        discussion: """
            onnx: opset 13, standard operators only. Input 'pixels' is float32 [N, 1, 28, 28] with raw \
            intensities 0-255 (white digit on black, as in the IDX files); the graph pads and normalises. \
            Outputs 'logits' and 'probabilities', [N, 10].
            numpy: one array per tensor (PyTorch names and shapes) plus normalization_mean and normalization_std.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case onnx, numpy
    }

    @Option(help: ArgumentHelp("A checkpoint written by 'lenet5 train'.", valueName: "path"))
    var checkpoint: String

    @Option(help: "onnx or numpy.")
    var format: Format = .onnx

    @Option(name: .customLong("output"), help: ArgumentHelp("File to write (default: the checkpoint's name with .onnx or .npz).", valueName: "path"))
    var outputPath: String?

    func run() throws {
        let source = URL(fileURLWithPath: checkpoint)
        let loaded = try loadCheckpoint(checkpoint)
        let output = outputPath.map { URL(fileURLWithPath: $0) }
            ?? source.deletingPathExtension().appendingPathExtension(format == .onnx ? "onnx" : "npz")
        try refuseOverwriting(checkpoint, with: output, option: outputPath == nil ? "the default output" : "--output")
        let data: Data
        switch format {
        case .onnx:
            let facts = loaded.metadata.filter { ["epoch", "test_accuracy", "validation_accuracy"].contains($0.key) }
            data = ONNXExport.encode(loaded.model, metadata: facts)
        case .numpy:
            let normalization = loaded.model.normalization
            data = NumPy.npz(Checkpoint.tensors(loaded.model.parameters, prefix: "") + [
                NamedTensor(name: "normalization_mean", shape: [1], values: [normalization.mean]),
                NamedTensor(name: "normalization_std", shape: [1], values: [normalization.standardDeviation]),
            ])
        }
        do {
            try writeAtomically(data, to: output)
        } catch {
            throw CommandFailure(error)
        }
        print("wrote \(output.path) (\(grouped(data.count)) bytes, \(format.rawValue))")
    }
}
