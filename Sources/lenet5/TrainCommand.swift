import ArgumentParser
import Datasets
import Formats
import Foundation
import LeNet
import Reports
import Training

struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train LeNet-5, checkpoint every epoch, then test the best checkpoint.",
        discussion: """
            The defaults reach about 99.4% test accuracy in about 5 seconds on two cores of a recent AMD EPYC. \
            Options given explicitly override the preset.
            """)

    @Option(help: "Starting hyper-parameters: fast (momentum, one-cycle rates, label smoothing; 8 epochs: about 99.4%; the default), quick (fast over 2 epochs of all 60,000 images: 99% in seconds), original (the course exercise's exactly) or best (light distortions, one-cycle rates peaking at 0.05, label smoothing; 30 epochs of all 60,000 images: about 99.6%).")
    var preset: TrainingOptions.Preset?

    @Option(parsing: .unconditional, help: "Epochs to train (fast: 8, quick: 2, original: 20, best: 30).")
    var epochs: Int?

    @Option(parsing: .unconditional, help: "Images per SGD step (fast: 64, original: 8).")
    var batchSize: Int?

    @Option(help: ArgumentHelp(
        "Learning-rate schedule: original (its 20-epoch list), constant, cosine, warmup-cosine (linear warm-up, then cosine, every step), one-cycle (PyTorch's OneCycleLR, every step), or a comma-separated list of per-epoch rates (fast, quick and best: one-cycle, original: original).",
        valueName: "schedule"))
    var schedule: String?

    @Option(parsing: .unconditional, help: "Learning rate of the first epoch for constant and cosine, the one warmup-cosine warms up to, one-cycle's peak (fast and quick: 0.07, best and original: 0.05).")
    var learningRate: Float?

    @Option(parsing: .unconditional, help: "Epochs of linear warm-up for the warmup-cosine schedule (default 1).")
    var warmupEpochs: Int?

    @Option(parsing: .unconditional, help: "Spread this share of each training target evenly over the 10 classes, as PyTorch's label_smoothing (fast, quick and best: 0.1, original: 0).")
    var labelSmoothing: Float?

    @Option(help: "The optimiser: sgd, nesterov (SGD with Nesterov momentum), adam or adamw (default sgd; Adam's rate is 0.001 unless given).")
    var optimizer: Optimizer?

    @Option(parsing: .unconditional, help: "SGD momentum, 0 for plain SGD (fast: 0.9, original: 0).")
    var momentum: Float?

    @Option(parsing: .unconditional, help: "L2 weight decay added to the gradient (fast: 0.0005, original: 0).")
    var weightDecay: Float?

    @Option(name: .customLong("init"), help: "Weight initialisation: pytorch (uniform +-1/sqrt(fan_in)) or normal (N(0, 0.1), biases 0.01) (fast: pytorch, original: normal).")
    var initialization: Initialization?

    @Option(parsing: .unconditional, help: "Seed for initialisation and shuffling (default 1).")
    var seed: UInt64?

    @Option(help: ArgumentHelp(
        "Several runs, one per seed (comma-separated), each in a folder seed-N under --output, then a summary of their test accuracies (summary.csv).",
        valueName: "list"))
    var seeds: String?

    @Option(parsing: .unconditional, help: "Training images held out (from the end) to select the best epoch; 0 allowed (default 5000).")
    var validationSize: Int?

    @Option(name: .customLong("select"), help: ArgumentHelp(
        "Which epoch's checkpoint the final test uses: validation (best validation accuracy), last, or test (best test accuracy, as the original did; optimistic).",
        valueName: "rule"))
    var selection: ModelSelection?

    @Option(name: .customLong("train-images"), parsing: .unconditional, help: ArgumentHelp(
        "Train on only the first N training images (after the validation split), for quick trials (default: all).", valueName: "n"))
    var trainingImages: Int?

    @Option(help: ArgumentHelp(
        "Distort the training images: none, standard, light (a smaller affine transform alone), or name=value pairs (rotate, scale, shear, shift, elastic, sigma, thickness, blur), after 'standard,' or 'light,' to change some of it (fast: none, best: light).",
        valueName: "spec"))
    var augment: String?

    @Option(name: .customLong("output"), help: ArgumentHelp(
        "Folder for checkpoints (default: runs/lenet5, or runs/lenet5-2, -3, ... when it holds an earlier run; when resuming, the run's own folder).",
        valueName: "dir"))
    var outputDirectory: String?

    @Flag(help: "Let a new run delete the earlier run in --output instead of refusing to start there.")
    var overwrite = false

    @Option(help: ArgumentHelp(
        "Continue the run saved in a resume.safetensors exactly where it stopped; --epochs may extend it.",
        valueName: "path"))
    var resume: String?

    @Option(help: ArgumentHelp("A file of 10 class names, one per line, saved in the checkpoints (default: recognised Fashion-MNIST names, else digits).", valueName: "path"))
    var classNames: String?

    @Option(help: ArgumentHelp(
        "Which kernels train and test: fast, or reference (the plain loops of PlainLeNet5, to read and step through in a debugger; the same gradients to rounding and the same accuracy, about 40 times slower).",
        valueName: "set"))
    var kernels: KernelSet?

    @OptionGroup var data: DataOptions

    /// The options as the library's rules take them.
    var options: TrainingOptions {
        var o = TrainingOptions()
        o.preset = preset
        (o.epochs, o.batchSize, o.schedule, o.learningRate) = (epochs, batchSize, schedule, learningRate)
        (o.momentum, o.weightDecay, o.initialization, o.seed) = (momentum, weightDecay, initialization, seed)
        (o.validationSize, o.selection, o.trainingImages, o.augment) = (validationSize, selection, trainingImages, augment)
        (o.optimizer, o.warmupEpochs, o.labelSmoothing) = (optimizer, warmupEpochs, labelSmoothing)
        return o
    }

    /// The command-line spelling of each option.
    static func flag(_ field: TrainingOptions.Field) -> String {
        switch field {
        case .initialization: "--init"
        case .selection: "--select"
        case .trainingImages: "--train-images"
        default: "--" + field.rawValue.reduce(into: "") { $0 += $1.isUppercase ? "-" + $1.lowercased() : String($1) }
        }
    }

    func validate() throws {
        if resume != nil {
            // --epochs may extend a resumed run; every other option is the run's own.
            if let field = options.given.first(where: { $0 != .epochs }) {
                throw ValidationError("\(Self.flag(field)) cannot change when resuming: the run continues with its saved hyper-parameters")
            }
            if overwrite { throw ValidationError("--overwrite does not go with --resume: a resumed run continues its own files") }
            if seeds != nil { throw ValidationError("--seeds does not go with --resume: resume each run on its own") }
        }
        if seeds != nil {
            if seed != nil { throw ValidationError("--seed and --seeds do not go together") }
            _ = try seedList()
        }
        _ = try trainingConfiguration()
    }

    func trainingConfiguration() throws -> TrainingConfiguration {
        do {
            var configuration = try options.configuration(threads: data.threads)
            if let kernels { configuration.kernels = kernels }
            return configuration
        } catch {
            throw ValidationError("\(Self.flag(error.field)) \(error.message)")
        }
    }

    /// The seeds of --seeds, in order, each once.
    func seedList() throws -> [UInt64] {
        let parts = (seeds ?? "").split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let list = parts.compactMap { UInt64($0) }
        guard list.count == parts.count, !list.isEmpty, Set(list).count == list.count, list.count <= 100 else {
            throw ValidationError("--seeds must be up to 100 different whole numbers separated by commas, like 1,2,3; got '\(seeds ?? "")'")
        }
        return list
    }

    func run() async throws {
        let dataset = try data.load()
        let stop = StopRequest.installed()
        guard seeds != nil else {
            _ = try await train(dataset, stop: stop)
            return
        }
        let list = try seedList()
        let parent = outputDirectory.map { URL(fileURLWithPath: $0) } ?? Self.freshDefaultFolder()
        var results: [SeedResult] = []
        for (n, seed) in list.enumerated() {
            print("== run \(n + 1)/\(list.count): seed \(seed)")
            let started = DispatchTime.now()
            let folder = parent.appendingPathComponent("seed-\(seed)")
            guard let result = try await train(dataset, seed: seed, output: folder, stop: stop) else { return }
            results.append(SeedResult(seed: seed, folder: folder, result: result, seconds: seconds(since: started)))
            print()
        }
        try SeedResult.summarize(results, in: parent)
    }

    /// One run: a new one (with `seed` and into `output` if given) or the resumed one.
    /// - Returns: its result, or nil if it stopped (after saying how to resume).
    private func train(_ dataset: IDXDataset, seed: UInt64? = nil, output chosen: URL? = nil, stop: StopRequest) async throws -> RunResult? {
        let trainer: Trainer
        let output: URL
        do {
            if let resume {
                let url = URL(fileURLWithPath: resume)
                output = url.deletingLastPathComponent()
                // The best epoch may be any epoch so far, and its checkpoint is in the run's folder.
                if let outputDirectory, URL(fileURLWithPath: outputDirectory).standardizedFileURL.path != output.standardizedFileURL.path {
                    throw CommandFailure(
                        "a resumed run continues in its own folder, \(output.relativePath); copy that folder to branch the run, and resume the copy")
                }
                let checkpoint = try Checkpoint(contentsOf: url)
                trainer = try Trainer(resuming: checkpoint, dataset: dataset, epochs: epochs, threads: data.threads, kernels: kernels)
            } else {
                var configuration = try trainingConfiguration()
                if let seed { configuration.seed = seed }
                trainer = try Trainer(configuration: configuration, dataset: dataset)
                output = chosen ?? outputDirectory.map { URL(fileURLWithPath: $0) } ?? Self.freshDefaultFolder()
            }
        } catch let error as ValidationError {
            throw error
        } catch let error as CommandFailure {
            throw error
        } catch let error as TrainingError {
            throw CommandFailure(Self.message(error))
        } catch {
            throw CommandFailure(error)
        }
        if let classNames {
            do {
                trainer.classNames = try ClassNames.read(contentsOf: classNames)
            } catch {
                throw CommandFailure(error)
            }
        }
        let session = TrainingSession(trainer: trainer, directory: output, overwrite: overwrite)
        stop.stops { session.stop() }
        let events = session.events()
        session.start()
        var bar = ProgressBar(enabled: standardOutputIsTerminal)
        var start: RunStart?
        for await event in events {
            switch event {
            case .started(let run):
                start = run
                if let at = run.resumedAt, let resume {
                    print("resuming \(resume) at epoch \(at.epoch), batch \(at.batch) of \(at.batches)")
                }
                Self.printHeader(run)
            case .batch(let progress):
                bar.update(progress)
            case .epoch(let summary):
                bar.clear()
                print(Self.line(summary))
            case .finished(let result):
                bar.clear()
                Self.printResult(result, validationImages: start?.validationImages ?? 0, folder: output)
                if result.stopCameLate { print("the interrupt came after the last batch: the run finished and saved everything") }
            case .stopped(let halt):
                bar.clear()
                let resumeFile = RunFolder(output).resume.relativePath
                let signal = stop.signal == SIGTERM ? "SIGTERM" : "SIGINT"
                print("stopped by \(signal) after batch \(halt.position.batch)/\(halt.position.batches) of epoch \(halt.position.epoch); state saved to \(resumeFile)")
                print("resume with: \(RunFolder.resumeCommand(resumeFile: resumeFile, dataDirectory: data.directory))")
            case .checkpoint, .paused, .resumed, .failed:
                bar.clear()
            }
            fflush(nil)
        }
        switch session.outcome {
        case .failed(let error)?: throw CommandFailure(Self.message(error))
        case .stopped?: throw ExitCode(stop.signal == SIGTERM ? 143 : 130)
        case .finished(let result)?: return result
        case nil: return nil
        }
    }

    /// runs/lenet5, or the first of runs/lenet5-2, -3, ... that holds no earlier run, nor runs
    /// of `--seeds` (said so).
    static func freshDefaultFolder() -> URL {
        let base = "runs/lenet5"
        var name = base
        var n = 2
        func taken(_ name: String) -> Bool {
            let contents = (try? FileManager.default.contentsOfDirectory(atPath: name)) ?? []
            return RunFolder(URL(fileURLWithPath: name)).holdsRun || contents.contains { $0.hasPrefix("seed-") || $0 == "summary.csv" }
        }
        while taken(name) {
            name = "\(base)-\(n)"
            n += 1
        }
        if name != base { print("\(base) holds an earlier run; this one goes to \(name)") }
        return URL(fileURLWithPath: name)
    }

    /// The library's message, with the options that mend it where there are some.
    static func message(_ error: TrainingError) -> String {
        switch error {
        case .selectionNeedsValidation: "\(error); use --select last or test with --validation-size 0"
        case .differentData: "\(error); resume with the same --data"
        case .epochsAlreadyDone(let done, _): "\(error); pass --epochs \(done) or more"
        case .folderHoldsRun(let path, false):
            "\(path) holds checkpoints of an earlier run that saved no state to resume from (stopped in its first epoch): replace them with --overwrite, or choose another --output"
        case .folderHoldsRun(let path, true):
            "\(path) holds an earlier run: resume it with --resume \(path)/resume.safetensors, replace it with --overwrite, or choose another --output"
        case .diverged(_, _, _, let rate): "\(error); try a --learning-rate below \(rate)"
        case .nonFiniteWeights: "\(error); try a lower --learning-rate"
        default: error.description
        }
    }

    static func printHeader(_ run: RunStart) {
        let c = run.configuration
        print(
            "LeNet-5, \(grouped(run.parameterCount)) parameters | train \(grouped(run.trainingImages)), "
                + "validation \(grouped(run.validationImages)), test \(grouped(run.testImages)) images | "
                + "\(c.threads) thread\(c.threads == 1 ? "" : "s")" + (c.kernels == .fast ? "" : ", \(c.kernels.rawValue) kernels"))
        print(
            "epochs \(c.epochs), batch \(c.batchSize), \(c.optimizer.rawValue), lr \(c.schedule), "
                + (c.optimizer.isAdam ? "" : "momentum \(c.momentum), ") + "weight decay \(c.weightDecay), "
                + (c.labelSmoothing > 0 ? "label smoothing \(c.labelSmoothing), " : "")
                + "init \(c.initialization.rawValue), seed \(c.seed)")
        if let augmentation = c.augmentation { print("augmentation: \(augmentation.token)") }
        print(String(format: "normalisation: mean %.4f, std %.4f (training images, padded to %dx%d)",
                     run.normalizationMean, run.normalizationStandardDeviation, LeNet5.inputSide, LeNet5.inputSide))
        print("per epoch: train = the training pass's own answers, each image's before its step" + (c.augmentation == nil ? "" : " (distorted)")
            + "; val, test = after the epoch"
            + (c.labelSmoothing > 0 ? String(format: "; loss against the smoothed targets, %.2f at best", c.lossFloor) : ""))
    }

    static func printResult(_ result: RunResult, validationImages: Int, folder: URL) {
        let best = result.best
        let rule: String = switch result.selection {
        case .validation: "highest validation accuracy, " + percent(best.validationCorrect ?? 0, of: validationImages)
        case .last: "last epoch"
        case .test: "highest TEST accuracy, " + percent(best.testCorrect, of: result.finalTest.count) + ", optimistic: selected on the test set"
        }
        print("best: epoch \(best.epoch) (\(rule)) -> \(RunFolder(folder).best.relativePath)")
        let test = result.finalTest
        print(String(format: "final test accuracy (reloaded best checkpoint): %@/%@ = %.2f%%",
                     grouped(test.correct), grouped(test.count), test.accuracy))
        print("report: " + result.reportFiles.joined(separator: ", ") + " in \(folder.relativePath)")
    }

    private static func percent(_ correct: Int, of total: Int) -> String {
        String(format: "%.2f%%", total == 0 ? 0 : 100 * Double(correct) / Double(total))
    }

    static func line(_ r: EpochSummary) -> String {
        func accuracy(_ name: String, _ score: Score) -> String {
            String(format: "%@ %@/%@ (%.2f%%)", name, grouped(score.correct), grouped(score.count), score.accuracy)
        }
        var parts = [
            String(format: "epoch %2d/%d", r.epoch, r.epochs),
            String(format: "lr %.4g", r.learningRate),
            String(format: "loss %.4f", r.loss),
            accuracy("train", r.train),
        ]
        if let v = r.validation { parts.append(accuracy("val", v)) }
        parts.append(accuracy("test", r.test))
        parts.append(String(format: "%.1fs (%@ img/s) + eval %.1fs", r.trainingSeconds, grouped(Int(r.imagesPerSecond)), r.evaluationSeconds))
        return parts.joined(separator: "  ")
    }
}

/// One run of `train --seeds`.
struct SeedResult {
    let seed: UInt64
    let folder: URL
    let result: RunResult
    let seconds: Double

    /// Prints the mean, standard deviation, minimum and maximum of the runs' final test
    /// accuracies, and writes them, run by run, to summary.csv in `parent`.
    static func summarize(_ runs: [SeedResult], in parent: URL) throws {
        let accuracies = runs.map(\.result.finalTest.accuracy)
        let mean = accuracies.reduce(0, +) / Double(accuracies.count)
        let sd = accuracies.count > 1
            ? (accuracies.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(accuracies.count - 1)).squareRoot() : 0
        print("seed  best epoch  test accuracy  time")
        for run in runs {
            print(String(format: "%4llu  %10d  %12.2f%%  %.0f s", run.seed, run.result.best.epoch, run.result.finalTest.accuracy, run.seconds))
        }
        print(String(format: "%d runs: test accuracy mean %.2f%%, standard deviation %.2f, min %.2f%%, max %.2f%%",
                     runs.count, mean, sd, accuracies.min() ?? 0, accuracies.max() ?? 0))
        let rows = runs.map { run in
            [String(run.seed), String(run.result.best.epoch), String(run.result.finalTest.correct), String(run.result.finalTest.count),
             String(format: "%.2f", run.result.finalTest.accuracy), String(format: "%.1f", run.seconds), run.folder.lastPathComponent]
        } + [("mean", mean), ("sd", sd), ("min", accuracies.min() ?? 0), ("max", accuracies.max() ?? 0)].map { name, value in
            [name, "", "", "", String(format: "%.2f", value), "", ""]
        }
        let summary = parent.appendingPathComponent("summary.csv")
        do {
            try writeAtomically(Data(CSV.encode(
                header: ["seed", "best_epoch", "test_correct", "test_images", "test_accuracy", "seconds", "folder"], rows: rows).utf8), to: summary)
        } catch {
            throw CommandFailure(error)
        }
        print("summary: \(summary.relativePath)")
    }
}

extension Initialization: ExpressibleByArgument {}
extension Optimizer: ExpressibleByArgument {}
extension TrainingOptions.Preset: ExpressibleByArgument {}
extension ModelSelection: ExpressibleByArgument {}
extension KernelSet: ExpressibleByArgument {}

extension DataOptions {
    /// The folder at `--data`, or the bundled MNIST's.
    var url: URL { directory.map { URL(fileURLWithPath: $0) } ?? IDXDataset.bundledMNIST }

    /// The data set at `--data`, or the bundled MNIST.
    func load() throws -> IDXDataset {
        do {
            return try IDXDataset(directory: url)
        } catch {
            throw CommandFailure(error)
        }
    }

    /// Only its test images and labels (the training files are not read).
    /// The test images at `--data`, or the bundled MNIST's, refused unless the network takes their
    /// size (`test` and `augment` need nothing else).
    func loadTestSet() throws -> LabeledImages {
        let test: LabeledImages
        do {
            test = try IDXDataset.testSet(in: url)
        } catch {
            throw CommandFailure(error)
        }
        guard test.height == LeNet5.imageSide, test.width == LeNet5.imageSide else {
            throw CommandFailure(TrainingError.unsupportedImageSize(height: test.height, width: test.width))
        }
        return test
    }
}

