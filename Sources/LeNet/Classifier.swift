import Datasets
import Foundation
import Imaging

/// One stage's output for one image, channel-major (C, H, W): what the network view draws.
public struct Activation: Sendable, Codable, Equatable {
    /// The stage's name (`C1` ... `F7`, `output`); post-ReLU where the stage has one.
    public let stage: String
    public let shape: TensorShape
    public let values: [Float]
}

/// What the network made of one image.
public struct Classification: Sendable {
    /// Softmax over the classes.
    public let probabilities: [Float]
    /// The `LeNet5.imageSide` square image the network saw, after `DigitPreprocessing` when the
    /// input was a picture.
    public let input: GrayImage
    /// The normalised, padded input plane (`input`), then every stage's output, in forward
    /// order, when asked for.
    public let activations: [Activation]?

    /// Class indices, most likely first (ties keep the lower index first).
    public var ranked: [Int] {
        probabilities.indices.sorted { (probabilities[$0], $1) > (probabilities[$1], $0) }
    }
}

/// Classifies single images for any number of concurrent callers: a trained model and a pool
/// of workspaces, one handed to each caller for the length of its forward pass.
///
/// `@unchecked Sendable` because the compiler cannot see what makes it safe: `model`,
/// `classNames` and `framing` are immutable, and a `Workspace` (whose buffers every forward
/// pass overwrites) is only touched by the one caller that took it out of `idle` under `lock`
/// until it is put back.
public final class Classifier: @unchecked Sendable {
    public let model: Model
    public let classNames: [String]
    /// How pictures are prepared: as MNIST's digits, or as Fashion-MNIST's photos for a model
    /// trained on those.
    public let framing: DigitPreprocessing.Framing

    private let lock = NSLock()
    private var idle: [Workspace] = []
    /// Workspaces kept for reuse; more are made while more callers run at once, then dropped.
    private let keep: Int

    public init(model: Model, classNames: [String] = ClassNames.digits, keep: Int = ProcessInfo.processInfo.activeProcessorCount) {
        precondition(classNames.count == LeNet5.classes)
        self.model = model
        self.classNames = classNames
        framing = classNames == ClassNames.fashionMNIST ? .fashionMNIST : .mnist
        self.keep = max(keep, 1)
    }

    /// A classifier for a checkpoint's model, with the class names it was trained with.
    public convenience init(checkpoint: Checkpoint) {
        self.init(model: checkpoint.model, classNames: ClassNames.decode(checkpoint.metadata["class_names"]) ?? ClassNames.digits)
    }

    /// Classifies a picture (PNG, JPEG or PGM bytes) after preparing it as the data set's
    /// images were made.
    /// - Parameters:
    ///   - imageData: the file's bytes.
    ///   - name: names the picture in errors.
    ///   - activations: keep every stage's output (`Classification.activations`).
    public func classify(imageData: Data, name: String, activations: Bool = false) throws(ImageError) -> Classification {
        try classify(picture: GrayImage(decoding: imageData, name: name), name: name, activations: activations)
    }

    /// Classifies a decoded picture after preparing it as the data set's images were made.
    public func classify(picture: GrayImage, name: String, activations: Bool = false) throws(ImageError) -> Classification {
        classify(prepared: try DigitPreprocessing.prepare(picture, framing: framing, name: name), activations: activations)
    }

    /// Classifies an image already `LeNet5.imageSide` square, white on black, as it is.
    /// - Precondition: the image has that size.
    public func classify(prepared image: GrayImage, activations: Bool = false) -> Classification {
        precondition(image.width == LeNet5.imageSide && image.height == LeNet5.imageSide)
        let ws = checkOut()
        defer { checkIn(ws) }
        image.pixels.withUnsafeBufferPointer { model.normalization.fill(ws.inputImage(0), fromPixels: $0.baseAddress!) }
        ws.setLabel(0, at: 0)
        model.parameters.withUnsafeBufferPointer { _ = LeNet5.forward(parameters: $0.baseAddress!, workspace: ws, count: 1, keepingActivations: activations) }
        let probabilities = Array(UnsafeBufferPointer(start: ws.probabilities, count: LeNet5.classes))
        // The input plane first: what C1 convolves, padded and normalised.
        let outputs = activations
            ? [Activation(stage: "input", shape: LeNet5.input, values: Array(UnsafeBufferPointer(start: ws.inputImage(0), count: LeNet5.input.count)))]
                + LeNet5.stages.map { stage in
                    Activation(stage: stage.name, shape: stage.output, values: Array(UnsafeBufferPointer(start: ws.output(of: stage), count: stage.output.count)))
                }
            : nil
        return Classification(probabilities: probabilities, input: image, activations: outputs)
    }

    func checkOut() -> Workspace {
        lock.withLock { idle.popLast() } ?? Workspace(capacity: 1)
    }

    func checkIn(_ workspace: Workspace) {
        lock.withLock {
            if idle.count < keep { idle.append(workspace) }
        }
    }
}

extension Checkpoint {
    /// Where the library's pretrained model is: LeNet-5 trained 60 epochs under `standard`
    /// distortions (`lenet5 train --preset best --epochs 60 --augment standard --schedule cosine
    /// --label-smoothing 0`, the `best` preset until 2026-12-07; seed 1: 99.52% on MNIST's test
    /// set, and steadier on distorted digits than today's `best`), shipped in the package's resources.
    public static var pretrained: URL? {
        Bundle.module.url(forResource: "pretrained", withExtension: "safetensors")
    }
}

extension Classifier {
    /// A classifier for the library's pretrained model (`Checkpoint.pretrained`): no file or
    /// training needed.
    ///
    /// ```swift
    /// let classifier = try Classifier.pretrained()
    /// let answer = try classifier.classify(imageData: Data(contentsOf: url), name: url.path)
    /// print(classifier.classNames[answer.ranked[0]], answer.probabilities[answer.ranked[0]])
    /// ```
    public static func pretrained() throws(CheckpointError) -> Classifier {
        guard let url = Checkpoint.pretrained else {
            throw .cannotRead(.notFound(path: "the package's pretrained.safetensors resource"))
        }
        return Classifier(checkpoint: try Checkpoint(contentsOf: url))
    }
}
