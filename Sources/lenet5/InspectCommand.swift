import ArgumentParser
import Foundation
import LeNet
import Reports

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a checkpoint's layers, parameter counts, weight statistics and metadata; draw its filters.")

    @Option(help: ArgumentHelp("A checkpoint written by 'lenet5 train'.", valueName: "path"))
    var checkpoint: String

    @Option(help: ArgumentHelp("Write the C1 kernels and the C3 kernel grid as a PNG.", valueName: "path"))
    var filters: String?

    func run() throws {
        let loaded = try loadCheckpoint(checkpoint)
        let parameters = loaded.model.parameters
        print("\(checkpoint): LeNet-5")
        print()
        print("  layer                        output          parameters")
        let rows = [("input", "\(LeNet5.input)", 0)] + LeNet5.stages.map { stage in
            (stage.summary, stage.kind == .fullyConnected || stage.kind == .softmax ? "\(stage.output.count)" : "\(stage.output)", stage.parameterCount)
        }
        for (name, shape, count) in rows {
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
        if let filters { try drawFilters(loaded.model, to: URL(fileURLWithPath: filters)) }
    }

    private func drawFilters(_ model: Model, to url: URL) throws {
        let (c1, c3) = (LeNet5.stage("C1"), LeNet5.stage("C3"))
        guard case .convolution(let k1) = c1.kind, case .convolution(let k3) = c3.kind else { return }
        let first = Charts.kernelsSize(rows: c1.input.channels, columns: c1.output.channels, size: k1, scale: 10)
        let second = Charts.kernelsSize(rows: c3.input.channels, columns: c3.output.channels, size: k3, scale: 6)
        let canvas = Canvas(width: max(first.width, second.width), height: first.height + second.height + 10)
        Charts.kernels(canvas, title: "C1: the \(c1.output.channels) kernels (\(k1)x\(k1))", rows: c1.input.channels,
                       columns: c1.output.channels, size: k1, weights: { c, f in model.kernel(of: c1, output: f, input: c) },
                       rowLabel: { _ in "" }, columnLabel: { "map \($0)" }, scale: 10)
        Charts.kernels(canvas, y: Double(first.height + 10), title: "C3: kernels from each S2 map (rows) to each C3 map (columns)",
                       rows: c3.input.channels, columns: c3.output.channels, size: k3,
                       weights: { c, f in model.kernel(of: c3, output: f, input: c) },
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
