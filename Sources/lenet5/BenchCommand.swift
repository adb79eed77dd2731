import ArgumentParser
import Foundation
import LeNet

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Training and inference speed on this machine (release build recommended).")

    @Option(help: "Images per SGD step for the training epoch.")
    var batchSize: Int = 64

    @OptionGroup var data: DataOptions

    func validate() throws {
        guard (1...60_000).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 60000, got \(batchSize)") }
    }

    func run() throws {
        let dataset = try data.load()
        #if DEBUG
        print("warning: this is a debug build; run 'swift run -c release lenet5 bench' for real numbers")
        #endif
        let result: BenchmarkResult
        do {
            result = try Benchmark.run(dataset: dataset, batchSize: batchSize, threads: data.threads)
        } catch {
            throw CommandFailure(error)
        }
        print("LeNet-5 benchmark, \(result.threads) thread\(result.threads == 1 ? "" : "s")")
        print(String(format: "training   epoch of %@ images, batch %d: %.2f s  (%@ img/s)",
                     grouped(result.trainingImages), result.batchSize, result.epochSeconds, grouped(Int(result.trainingImagesPerSecond))))
        print(String(format: "inference  %@ images, batched: %.3f s  (%@ img/s)",
                     grouped(result.inferenceImages), result.inferenceSeconds, grouped(Int(result.inferenceImagesPerSecond))))
        print(String(format: "inference  one image at a time, 1 thread: %.1f us/image  (%@ img/s)",
                     result.singleImageSeconds * 1e6, grouped(Int(1 / result.singleImageSeconds))))
    }
}
