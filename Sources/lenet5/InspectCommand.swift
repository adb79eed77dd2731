import ArgumentParser
import Foundation
import LeNet
import Reports

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a checkpoint's layers, parameter counts, weight statistics and metadata; draw its filters.")

    @Argument(help: ArgumentHelp("A checkpoint written by 'lenet5 train'.", valueName: "checkpoint"))
    var checkpoint: String

    @Option(help: ArgumentHelp("Write the C1 kernels and the C3 kernel grid as a PNG.", valueName: "path"))
    var filters: String?

    /// LeNet-5's layers: name, output shape (C x H x W), and the parameter tensors they own.
    static let layers: [(String, String, [String])] = [
        ("input", "1 x 32 x 32", []),
        ("C1 conv 5x5 + ReLU", "6 x 28 x 28", ["conv1.weight", "conv1.bias"]),
        ("S2 max-pool 2x2", "6 x 14 x 14", []),
        ("C3 conv 5x5 + ReLU", "16 x 10 x 10", ["conv2.weight", "conv2.bias"]),
        ("S4 max-pool 2x2", "16 x 5 x 5", []),
        ("C5 conv 5x5 + ReLU", "120 x 1 x 1", ["conv3.weight", "conv3.bias"]),
        ("F6 fully connected + ReLU", "84", ["fc1.weight", "fc1.bias"]),
        ("F7 fully connected", "10", ["fc2.weight", "fc2.bias"]),
        ("softmax", "10", []),
    ]

    func run() throws {
        let loaded = try loadCheckpoint(checkpoint)
        let parameters = loaded.model.parameters
        print("\(checkpoint): LeNet-5")
        print()
        print("  layer                        output          parameters")
        for (name, shape, tensors) in Self.layers {
            let count = tensors.compactMap { ParameterLayout.tensor(named: $0)?.count }.reduce(0, +)
            print("  " + name.padding(toLength: 29, withPad: " ", startingAt: 0) + shape.padding(toLength: 14, withPad: " ", startingAt: 0)
                  + rightAligned(count == 0 ? "-" : grouped(count), 12))
        }
        print("  " + "total".padding(toLength: 43, withPad: " ", startingAt: 0) + rightAligned(grouped(ParameterLayout.count), 12))
        print()
        print("  tensor           shape            mean       std       min       max")
        for t in ParameterLayout.tensors {
            let values = parameters[t.offset..<t.offset + t.count].map(Double.init)
            let mean = values.reduce(0, +) / Double(values.count)
            let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
            print("  " + t.name.padding(toLength: 17, withPad: " ", startingAt: 0)
                  + "[\(t.shape.map(String.init).joined(separator: ","))]".padding(toLength: 14, withPad: " ", startingAt: 0)
                  + String(format: "%10.4f%10.4f%10.4f%10.4f", mean, std, values.min() ?? 0, values.max() ?? 0))
        }
        print()
        print("  metadata")
        let width = loaded.metadata.keys.map(\.count).max() ?? 0
        for (key, value) in loaded.metadata.sorted(by: { $0.key < $1.key }) {
            print("    " + key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value)
        }
        if let filters { try drawFilters(parameters, to: URL(fileURLWithPath: filters)) }
    }

    private func drawFilters(_ parameters: [Float], to url: URL) throws {
        guard let c1 = ParameterLayout.tensor(named: "conv1.weight"), let c3 = ParameterLayout.tensor(named: "conv2.weight") else { return }
        let first = Charts.kernelsSize(rows: 1, columns: 6, size: 5, scale: 10)
        let second = Charts.kernelsSize(rows: 6, columns: 16, size: 5, scale: 6)
        let canvas = Canvas(width: max(first.width, second.width), height: first.height + second.height + 10)
        Charts.kernels(canvas, title: "C1: the 6 kernels (5x5)", rows: 1, columns: 6, size: 5,
                       weights: { _, f in Array(parameters[c1.offset + f * 25..<c1.offset + (f + 1) * 25]) },
                       rowLabel: { _ in "" }, columnLabel: { "map \($0)" }, scale: 10)
        Charts.kernels(canvas, y: Double(first.height + 10), title: "C3: kernels from each S2 map (rows) to each C3 map (columns)",
                       rows: 6, columns: 16, size: 5,
                       weights: { c, f in Array(parameters[c3.offset + (f * 6 + c) * 25..<c3.offset + (f * 6 + c + 1) * 25]) },
                       rowLabel: { "S2 map \($0)" }, columnLabel: { "\($0)" }, scale: 6)
        do {
            try canvas.writePNG(to: url)
        } catch {
            throw CommandFailure(error)
        }
        print()
        print("wrote \(url.relativePath): C1 and C3 kernels, each scaled to its own range (black low, white high)")
    }
}
