import CIntrinsics
import Datasets
import Foundation
import Kernels

/// Runs LeNet-5 on `threads` threads, each with its own workspace. Work is split into fixed,
/// contiguous shares and per-thread sums are combined in thread order, so a given thread count
/// always gives bit-identical results.
public final class Runner {
    public let threads: Int
    /// The fast kernels, or the plain ones of `PlainLeNet5`.
    public let kernels: KernelSet
    package let workspaces: [Workspace]
    /// Each thread's summed loss in `gradient` and `evaluate`, allocated once.
    private let losses: UnsafeMutableBufferPointer<Double>
    /// Each thread's count of images its forward pass classified right, in `gradient`.
    private let corrects: UnsafeMutableBufferPointer<Int>

    private let pool: WorkerPool

    public init(threads: Int, kernels: KernelSet = .fast) {
        precondition(threads > 0)
        self.threads = threads
        self.kernels = kernels
        workspaces = (0..<threads).map { _ in Workspace() }
        losses = .allocate(capacity: threads)
        corrects = .allocate(capacity: threads)
        pool = WorkerPool(threads: threads)
    }

    deinit {
        pool.stop()
        losses.deallocate()
        corrects.deallocate()
    }

    /// Calls `body(thread, range)` on every thread of the runner for its share of 0..<count: the
    /// network's work, and the work beside it that its threads share (the optimiser's step).
    public func parallel(_ count: Int, _ body: (Int, Range<Int>) -> Void) {
        let used = min(threads, count)
        guard used > 1 else {
            body(0, 0..<count)
            return
        }
        // Each thread touches only its own workspace and its own share of the outputs.
        pool.run { t in
            if t < used { body(t, count * t / used..<count * (t + 1) / used) }
        }
    }

    /// The predictions and summed loss of `model` on images `range` of `images`, and their
    /// logits if `keepLogits`.
    /// - Parameters:
    ///   - model: the weights and normalisation to evaluate.
    ///   - images: the labelled images.
    ///   - range: which of them (all when nil).
    ///   - keepLogits: keep every image's ten logits in the result.
    ///   - distortion: distorts each image by the draws of its index (robustness tests).
    public func evaluate(
        _ model: Model, on images: LabeledImages, range: Range<Int>? = nil, keepLogits: Bool = false, distortion: Distortion? = nil
    ) -> Evaluation {
        let range = range ?? 0..<images.count
        let classes = LeNet5.classes
        // Each thread writes only its own share of these.
        let predictions = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: range.count)
        let logits = UnsafeMutableBufferPointer<Float>.allocate(capacity: keepLogits ? range.count * classes : 0)
        let losses = self.losses
        defer {
            predictions.deallocate()
            logits.deallocate()
        }
        losses.initialize(repeating: 0)
        let plain = kernels == .reference ? PlainLeNet5(parameters: model.parameters) : nil
        model.parameters.withUnsafeBufferPointer { parameters in
            parallel(range.count) { t, share in
                let ws = workspaces[t]
                for start in stride(from: share.lowerBound, to: share.upperBound, by: ws.capacity) {
                    let n = min(ws.capacity, share.upperBound - start)
                    ws.load(images, count: n, normalization: model.normalization, distortion: distortion, firstPosition: range.lowerBound + start) {
                        range.lowerBound + start + $0
                    }
                    losses[t] += plain?.run(workspace: ws, count: n) ?? LeNet5.forward(parameters: parameters.baseAddress!, workspace: ws, count: n)
                    for i in 0..<n {
                        predictions[start + i] = UInt8(ws.prediction(image: i, count: n))
                        if keepLogits {
                            for k in 0..<classes { logits[(start + i) * classes + k] = ws.logits[k * n + i] }
                        }
                    }
                }
            }
        }
        return Evaluation(
            predictions: Array(predictions), labels: Array(images.labels[range]), loss: losses.reduce(0, +),
            logits: keepLogits ? Array(logits) : nil)
    }

    /// The gradient of the mean loss over `indices` of `images`, written to `gradients`
    /// (`ParameterLayout.count` floats, overwritten).
    /// - Parameters:
    ///   - model: the weights and normalisation the gradient is taken at.
    ///   - images: the labelled images.
    ///   - indices: the batch: which of them, in the epoch's order.
    ///   - distortion: distorts each image by draws from its position in the epoch
    ///     (`indices`' own positions: a batch is a slice of the epoch's order).
    ///   - labelSmoothing: the targets' share spread over all classes (0 for one-hot targets).
    ///   - gradients: where the gradient goes.
    /// - Returns: the summed loss of the batch (against the smoothed targets), and how many of
    ///   its images the forward pass classified right (as distorted, if they are): the training
    ///   accuracy of a training pass, at no extra cost.
    @discardableResult
    public func gradient(
        of model: Model, on images: LabeledImages, indices: ArraySlice<Int>, distortion: Distortion? = nil,
        labelSmoothing: Float = 0, into gradients: UnsafeMutablePointer<Float>
    ) -> (loss: Double, correct: Int) {
        let batch = indices.count
        let (losses, corrects) = (self.losses, self.corrects)
        losses.initialize(repeating: 0)
        corrects.initialize(repeating: 0)
        let plain = kernels == .reference ? PlainLeNet5(parameters: model.parameters) : nil
        model.parameters.withUnsafeBufferPointer { parameters in
            parallel(batch) { t, share in
                let ws = workspaces[t]
                ws.parameterGradients.update(repeating: 0, count: ParameterLayout.count)
                for start in stride(from: share.lowerBound, to: share.upperBound, by: ws.capacity) {
                    let n = min(ws.capacity, share.upperBound - start)
                    ws.load(images, count: n, normalization: model.normalization, distortion: distortion, firstPosition: indices.startIndex + start) {
                        indices[indices.startIndex + start + $0]
                    }
                    if let plain {
                        losses[t] += plain.run(workspace: ws, count: n, gradient: (Float(batch), labelSmoothing))
                    } else {
                        losses[t] += LeNet5.forward(
                            parameters: parameters.baseAddress!, workspace: ws, count: n,
                            computeGradient: true, lossScale: Float(batch), labelSmoothing: labelSmoothing)
                        LeNet5.backward(parameters: parameters.baseAddress!, workspace: ws, count: n)
                    }
                    for i in 0..<n where ws.prediction(image: i, count: n) == Int(ws.labels[i]) { corrects[t] += 1 }
                }
            }
        }
        // Sum the threads' gradients, each thread over its own slice of the parameters; every
        // element is summed in thread order.
        let used = min(threads, batch)
        parallel(ParameterLayout.count) { _, slice in
            for i in slice { gradients[i] = workspaces[0].parameterGradients[i] }
            for ws in workspaces[1..<used] {
                for i in slice { gradients[i] += ws.parameterGradients[i] }
            }
        }
        return (losses.reduce(0, +), corrects.reduce(0, +))
    }
}

extension Workspace {
    /// Fills the chunk's first `count` input planes and labels with images `index(0..<count)`,
    /// each distorted, if `distortion` says so, by the draws of its position in the epoch
    /// (`firstPosition + i`).
    func load(
        _ images: LabeledImages, count: Int, normalization: Normalization, distortion: Distortion? = nil, firstPosition: Int = 0,
        index: (Int) -> Int
    ) {
        let size = images.height * images.width
        images.pixels.withUnsafeBufferPointer { pixels in
            /// Asks for image `index(i)`'s lines: in a shuffled epoch each image is somewhere
            /// else in 47 MB, and its first read waited for memory.
            func prefetch(_ i: Int) {
                guard i < count else { return }
                let start = pixels.baseAddress! + index(i) * size
                for line in stride(from: 0, to: size, by: 64) { intrinsics_prefetch(start + line) }
            }
            prefetch(0)
            for i in 0..<count {
                prefetch(i + 1)
                let source = index(i)
                if let distortion {
                    var random = Augmentation.generator(seed: distortion.seed, epoch: distortion.epoch, position: firstPosition + i)
                    distortion.augmentation.apply(
                        to: pixels.baseAddress! + source * size, into: inputImage(i), normalization: normalization, random: &random)
                } else {
                    normalization.fill(inputImage(i), fromPixels: pixels.baseAddress! + source * size)
                }
                setLabel(images.labels[source], at: i)
            }
        }
    }
}
