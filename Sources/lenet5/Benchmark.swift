import Datasets
import Dispatch
import Imaging
import Kernels
import LeNet
import Training

/// Throughput of training and inference on this machine, measured on real images.
struct BenchmarkResult: Sendable {
    let threads: Int
    let batchSize: Int
    /// Seconds for one training epoch over `trainingImages` images.
    let epochSeconds: Double
    let trainingImages: Int
    /// Multiply-adds that epoch performed (`Benchmark.trainingWorkMACs`).
    let trainingWorkMACs: Double
    /// Forward passes over the test set, all threads, chunks of `LeNet5.chunkSize`.
    let inferenceSeconds: Double
    let inferenceImages: Int
    /// Mean seconds per image, one image at a time on one thread.
    let singleImageSeconds: Double
    /// This machine's measured arithmetic, on 1 and on `threads` threads.
    let ceiling: MeasuredCeiling

    var trainingImagesPerSecond: Double { Double(trainingImages) / epochSeconds }
    /// Operations per second of the epoch, counting its multiply-adds as dense passes do them.
    var trainingDenseFLOPS: Double { Double(2 * Benchmark.trainingMACsPerImage) * trainingImagesPerSecond }
    /// Operations per second of the epoch, counting the multiply-adds it performed.
    var trainingWorkFLOPS: Double { 2 * trainingWorkMACs / epochSeconds }
    var inferenceImagesPerSecond: Double { Double(inferenceImages) / inferenceSeconds }
}

/// Operations per second: the FMA units' peak and `gemm`'s best, on 1 and on N threads.
struct MeasuredCeiling: Sendable {
    let peak1: Double, peak: Double
    let gemm1: Double, gemm: Double

    /// Measured now (once when `threads` is 1).
    init(threads: Int) {
        (peak1, gemm1) = (Ceiling.peakFLOPS(threads: 1), Ceiling.gemmFLOPS(threads: 1))
        (peak, gemm) = threads == 1 ? (peak1, gemm1) : (Ceiling.peakFLOPS(threads: threads), Ceiling.gemmFLOPS(threads: threads))
    }

    private init(peak1: Double, peak: Double, gemm1: Double, gemm: Double) {
        (self.peak1, self.peak, self.gemm1, self.gemm) = (peak1, peak, gemm1, gemm)
    }

    /// Each figure's higher measurement: a busy host lowers a ceiling as it slows the workloads
    /// measured against it.
    func higher(_ other: MeasuredCeiling) -> MeasuredCeiling {
        MeasuredCeiling(peak1: max(peak1, other.peak1), peak: max(peak, other.peak), gemm1: max(gemm1, other.gemm1), gemm: max(gemm, other.gemm))
    }
}

enum Benchmark {
    /// Timed passes of batched inference over the test set, and of the single images.
    static let inferenceRuns = 5, singleImageRuns = 3

    /// Trains one epoch (after a short warm-up) and times inference on `dataset`: the fastest of
    /// `inferenceRuns` passes over the test set and of `singleImageRuns` over the single images.
    /// - Parameter images: the epoch's size, if not the training set's: its images repeated or cut.
    static func run(dataset: IDXDataset, batchSize: Int, threads: Int, images: Int? = nil, singleImages: Int = 2000) throws(TrainingError) -> BenchmarkResult {
        let train = dataset.train
        let size = train.height * train.width
        var epochSet = dataset
        if let images, images != train.count {
            let repeated = LabeledImages(
                count: images, height: train.height, width: train.width,
                pixels: (0..<images).flatMap { train.pixels[($0 % train.count) * size..<($0 % train.count + 1) * size] },
                labels: (0..<images).map { train.labels[$0 % train.count] })
            epochSet = IDXDataset(train: repeated, test: dataset.test)
        }
        // The ceilings before and after the workloads, the higher of each (one measurement of
        // 0.6 s missed the quiet machine by up to a third on a shared host).
        let before = MeasuredCeiling(threads: threads)
        let trainer = try oneEpochTrainer(epochSet, batchSize: batchSize, threads: threads)
        _ = trainer.runner.evaluate(trainer.model, on: trainer.test, range: 0..<min(1000, trainer.test.count))
        let epochSeconds = try trainer.trainEpoch()?.seconds ?? .nan
        let visited = trainer.runner.workspaces.reduce(into: [Int](repeating: 0, count: LeNet5.stagesReadingPoolGradient.count)) { sum, ws in
            for (i, windows) in ws.visitedWindows.enumerated() { sum[i] += windows }
        }

        // The short workloads are each timed several times and the fastest kept, as the ceilings
        // are: one 0.05-0.1 s run on a shared host came out up to a third slow.
        var inferenceSeconds = Double.infinity
        var evaluated = 0
        for _ in 0..<inferenceRuns {
            let start = DispatchTime.now()
            evaluated = trainer.runner.evaluate(trainer.model, on: trainer.test).count
            inferenceSeconds = min(inferenceSeconds, seconds(since: start))
        }

        let classifier = Classifier(model: trainer.model, keep: 1)
        let count = min(singleImages, trainer.test.count)
        let side = trainer.test.width
        let images = (0..<count).map { i in
            GrayImage(width: side, height: side, pixels: Array(trainer.test.pixels[i * size..<(i + 1) * size]))
        }
        var checksum: Float = 0
        var singleSeconds = Double.infinity
        for _ in 0..<singleImageRuns {
            let start = DispatchTime.now()
            for image in images { checksum += classifier.classify(prepared: image).probabilities[0] }
            singleSeconds = min(singleSeconds, seconds(since: start) / Double(count))
        }
        precondition(checksum.isFinite)
        let ceiling = before.higher(MeasuredCeiling(threads: threads))
        return BenchmarkResult(
            threads: threads, batchSize: batchSize, epochSeconds: epochSeconds, trainingImages: trainer.train.count,
            trainingWorkMACs: trainingWorkMACs(images: trainer.train.count, visitedWindows: visited),
            inferenceSeconds: inferenceSeconds, inferenceImages: evaluated, singleImageSeconds: singleSeconds, ceiling: ceiling)
    }
}

extension Benchmark {
    /// Seconds of one training epoch over every training image.
    static func epochSeconds(dataset: IDXDataset, batchSize: Int, threads: Int, augmentation: Augmentation?) throws(TrainingError) -> Double {
        try oneEpochTrainer(dataset, batchSize: batchSize, threads: threads, augmentation: augmentation).trainEpoch()?.seconds ?? .nan
    }

    /// A trainer for one epoch over every training image (no validation split).
    static func oneEpochTrainer(_ dataset: IDXDataset, batchSize: Int, threads: Int, augmentation: Augmentation? = nil) throws(TrainingError) -> Trainer {
        var configuration = TrainingConfiguration()
        configuration.augmentation = augmentation
        configuration.epochs = 1
        configuration.batchSize = batchSize
        configuration.threads = threads
        configuration.validationSize = 0
        configuration.selection = .last
        return try Trainer(configuration: configuration, dataset: dataset)
    }

    /// Multiply-adds of one training step (forward and backward) per image.
    static var trainingMACsPerImage: Int {
        LayerProfile.rows.reduce(0) { $0 + $1.forwardMACs + $1.backwardMACs }
    }

    /// The multiply-adds the backward passes of `LeNet5.stagesReadingPoolGradient` performed,
    /// by their profile step, given the windows each visited (in that order): a window's share
    /// of the dense backward pass is its multiply-adds per output position (its winner is one).
    static func pooledBackwardWorkMACs(visitedWindows: [Int]) -> [LayerProfile.Step: Double] {
        var work: [LayerProfile.Step: Double] = [:]
        for (stage, visited) in zip(LeNet5.stagesReadingPoolGradient, visitedWindows) {
            if let row = LayerProfile.rows.first(where: { $0.step == .layer(stage.name) }) {
                work[row.step] = Double(visited) * Double(row.backwardMACs) / Double(stage.output.count)
            }
        }
        return work
    }

    /// Multiply-adds of a training epoch over `images` images as performed: the dense count,
    /// but for the backward passes that read the pools' gradients (`pooledBackwardWorkMACs`).
    static func trainingWorkMACs(images: Int, visitedWindows: [Int]) -> Double {
        pooledBackwardWorkMACs(visitedWindows: visitedWindows).reduce(Double(trainingMACsPerImage) * Double(images)) { macs, step in
            let dense = LayerProfile.rows.first { $0.step == step.key }?.backwardMACs ?? 0
            return macs + step.value - Double(dense) * Double(images)
        }
    }

    /// Multiply-adds of one forward pass per image.
    static var forwardMACsPerImage: Int {
        LayerProfile.rows.reduce(0) { $0 + $1.forwardMACs }
    }

    /// Times every layer over one training epoch on one thread.
    /// - Returns: the per-layer profile, the epoch's wall time (which also covers batch
    ///   preparation and the SGD updates the profile leaves out), its images, and the windows
    ///   the backward passes of `LeNet5.stagesReadingPoolGradient` visited.
    static func profileLayers(dataset: IDXDataset, batchSize: Int) throws(TrainingError)
        -> (profile: LayerProfile, epochSeconds: Double, images: Int, visitedWindows: [Int])
    {
        let trainer = try oneEpochTrainer(dataset, batchSize: batchSize, threads: 1)
        let workspace = trainer.runner.workspaces[0]
        workspace.profile = LayerProfile()
        let epochSeconds = try trainer.trainEpoch()?.seconds ?? .nan
        return (workspace.profile ?? LayerProfile(), epochSeconds, trainer.train.count, workspace.visitedWindows)
    }
}
