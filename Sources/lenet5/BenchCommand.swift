import ArgumentParser
import Datasets
import Foundation
import Kernels
import LeNet
import Reports

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Training and inference speed on this machine (release build recommended).")

    @Option(parsing: .unconditional, help: "Images per SGD step for the training epoch.")
    var batchSize: Int = 64

    @Option(parsing: .unconditional, help: "Images in the training epoch (the training set repeated or cut).")
    var images: Int = 60_000

    @Flag(help: "Also time every layer, forward and backward, over an epoch on one thread.")
    var layers = false

    @Option(help: ArgumentHelp(
        "Also time epochs with the training images distorted (as train's --augment: standard, or name=value pairs), alternating with plain ones.",
        valueName: "spec"))
    var augment: String?

    @Flag(help: "Print the measurements as one JSON object (for scripts/benchmark.py).")
    var json = false

    @OptionGroup var data: DataOptions


    func validate() throws {
        guard (1...60_000).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 60000, got \(batchSize)") }
        guard (1...1_000_000).contains(images) else { throw ValidationError("--images must be between 1 and 1000000, got \(images)") }
        if let augment {
            do {
                _ = try Augmentation(parsing: augment)
            } catch {
                throw ValidationError("--augment \(error.message)")
            }
        }
    }

    func run() throws {
        let dataset = try data.load()
        #if DEBUG
        if !json { print("warning: this is a debug build; run 'swift run -c release lenet5 bench' for real numbers") }
        #endif
        let result: BenchmarkResult
        do {
            result = try Benchmark.run(dataset: dataset, batchSize: batchSize, threads: data.threads, images: images)
        } catch {
            throw CommandFailure(error)
        }
        let ceiling = result.ceiling
        let (training, work) = (result.trainingDenseFLOPS, result.trainingWorkFLOPS)
        let inference = Double(2 * Benchmark.forwardMACsPerImage) * result.inferenceImagesPerSecond
        // The single image's arithmetic alone, at the one-thread ceiling.
        let singleBound = Double(2 * Benchmark.forwardMACsPerImage) / ceiling.gemm1
        if json {
            let fields: [(String, String)] = [
                ("threads", "\(result.threads)"), ("batch_size", "\(result.batchSize)"),
                ("train_images", "\(result.trainingImages)"), ("epoch_seconds", "\(result.epochSeconds)"), ("inference_images_per_second", "\(result.inferenceImagesPerSecond)"),
                ("single_image_seconds", "\(result.singleImageSeconds)"),
                ("instruction_set", "\"\(InstructionSet.compiled)\""), ("machine_instruction_set", "\"\(InstructionSet.machine)\""),
                ("vector_bits", "\(InstructionSet.vectorBits)"),
                ("peak_gflops_1", "\(ceiling.peak1 / 1e9)"), ("peak_gflops", "\(ceiling.peak / 1e9)"),
                ("ceiling_gflops_1", "\(ceiling.gemm1 / 1e9)"), ("ceiling_gflops", "\(ceiling.gemm / 1e9)"),
                ("training_gflops", "\(training / 1e9)"), ("training_percent_of_ceiling", "\(100 * training / ceiling.gemm)"),
                ("training_work_gflops", "\(work / 1e9)"), ("training_work_percent_of_ceiling", "\(100 * work / ceiling.gemm)"),
                ("training_work_share", "\(work / training)"),
                ("inference_gflops", "\(inference / 1e9)"), ("inference_percent_of_ceiling", "\(100 * inference / ceiling.gemm)"),
                ("single_image_bound_seconds", "\(singleBound)"),
            ]
            print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
            return
        }
        let threads = "\(result.threads) thread\(result.threads == 1 ? "" : "s")"
        print("LeNet-5 benchmark, \(threads); kernels built for \(InstructionSet.compiled) (\(InstructionSet.vectorBits)-bit vectors), this CPU has \(InstructionSet.machine)")
        if result.threads == 1 {
            print(String(format: "ceiling    FP32 peak (FMA chains) %.0f GFLOPS; gemm in cache %.0f (the 100%% below)", ceiling.peak / 1e9, ceiling.gemm / 1e9))
        } else {
            print(String(format: "ceiling    FP32 peak (FMA chains) %.0f GFLOPS on 1 thread, %.0f on %d; gemm in cache %.0f and %.0f (the 100%% below)",
                         ceiling.peak1 / 1e9, ceiling.peak / 1e9, result.threads, ceiling.gemm1 / 1e9, ceiling.gemm / 1e9))
        }
        print(String(format: "training   epoch of %@ images, batch %d: %.2f s  (%@ img/s; %.0f GFLOPS, %.0f%% of the ceiling, counted dense;",
                     grouped(result.trainingImages), result.batchSize, result.epochSeconds, grouped(Int(result.trainingImagesPerSecond)),
                     training / 1e9, 100 * training / ceiling.gemm))
        print(String(format: "           on the %.0f%% of that work it did, %.0f GFLOPS, %.0f%% of the ceiling)",
                     100 * work / training, work / 1e9, 100 * work / ceiling.gemm))
        print(String(format: "inference  %@ images, batched (fastest of %d): %.3f s  (%@ img/s, %.0f GFLOPS, %.0f%% of the ceiling)",
                     grouped(result.inferenceImages), Benchmark.inferenceRuns, result.inferenceSeconds, grouped(Int(result.inferenceImagesPerSecond)),
                     inference / 1e9, 100 * inference / ceiling.gemm))
        print(String(format: "inference  one image at a time, 1 thread (fastest of %d): %.1f us/image  (%@ img/s; %.1fx its arithmetic at the 1-thread ceiling, %.1f us)",
                     Benchmark.singleImageRuns, result.singleImageSeconds * 1e6, grouped(Int(1 / result.singleImageSeconds)), result.singleImageSeconds / singleBound, singleBound * 1e6))
        if let augment { try printAugmentationCost(dataset, augmentation: try Augmentation(parsing: augment)) }
        if layers { try printLayers(dataset) }
    }

    /// Epochs with and without distorted images, alternating three times; the median of each.
    private func printAugmentationCost(_ dataset: IDXDataset, augmentation: Augmentation) throws {
        var plain: [Double] = [], distorted: [Double] = []
        do {
            for _ in 0..<3 {
                plain.append(try Benchmark.epochSeconds(dataset: dataset, batchSize: batchSize, threads: data.threads, augmentation: nil))
                distorted.append(try Benchmark.epochSeconds(dataset: dataset, batchSize: batchSize, threads: data.threads, augmentation: augmentation))
            }
        } catch {
            throw CommandFailure(error)
        }
        let (without, with) = (plain.sorted()[1], distorted.sorted()[1])
        print(String(format: "augmentation %@: epoch %.2f s against %.2f s without (+%.0f%%; medians of 3, alternating)",
                     augmentation.token, with, without, 100 * (with / without - 1)))
    }

    private func printLayers(_ dataset: IDXDataset) throws {
        let (profile, epochSeconds, images, visited) = try {
            do {
                return try Benchmark.profileLayers(dataset: dataset, batchSize: batchSize)
            } catch {
                throw CommandFailure(error)
            }
        }()
        print()
        print(String(format: "per layer, one thread, one epoch of %@ images at batch %d (%.2f s):", grouped(images), batchSize, epochSeconds))
        print("  layer                      forward  GFLOPS    backward  GFLOPS   share")
        let workMACs = Benchmark.pooledBackwardWorkMACs(visitedWindows: visited)
        for row in LayerProfile.rows {
            func column(_ pass: LayerProfile.Pass, _ macs: Int) -> String {
                if let stage = pass == .forward ? row.forwardRunsIn : row.backwardRunsIn {
                    return "  in \(stage)".padding(toLength: 19, withPad: " ", startingAt: 0)
                }
                let seconds = profile.seconds(row.step, pass)
                let flops = 2 * ((pass == .backward ? workMACs[row.step] : nil) ?? Double(macs) * Double(images))
                let gflops = macs == 0 || seconds == 0 ? "" : String(format: "%.1f", flops / seconds / 1e9)
                return String(format: "%8.1f ms", seconds * 1e3) + rightAligned(gflops, 8)
            }
            let share = 100 * (profile.seconds(row.step, .forward) + profile.seconds(row.step, .backward)) / epochSeconds
            print("  " + row.label.padding(toLength: 24, withPad: " ", startingAt: 0)
                + column(.forward, row.forwardMACs) + "  " + column(.backward, row.backwardMACs)
                + String(format: "  %5.1f%%", share))
        }
        let other = epochSeconds - profile.totalSeconds
        print("  " + "batch preparation + SGD".padding(toLength: 24, withPad: " ", startingAt: 0)
              + String(format: "%8.1f ms (both)%24.1f%%", other * 1e3, 100 * other / epochSeconds))
        let pooled = LeNet5.stagesReadingPoolGradient
        let shares = zip(pooled, visited).map { stage, windows in
            String(format: "%@ %.0f%%", stage.name, 100 * Double(windows) / (Double(stage.output.count / 4) * Double(images)))
        }
        print("  GFLOPS count the multiply-adds each step performs. The backward passes of \(pooled.map(\.name).joined(separator: " and "))")
        print("  read the next pool's gradient and visit only the windows with a gradient after the ReLU, here")
        print("  \(shares.joined(separator: " and ")) of them, each for a quarter of the window's dense work (the pool passes")
        print("  a gradient to one input in four).")
    }
}
