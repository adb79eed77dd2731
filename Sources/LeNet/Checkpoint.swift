import Formats
import Foundation

/// A failure to read or write a checkpoint.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    case cannotRead(FileReadError)
    case cannotWrite(FileWriteError)
    case malformed(path: String, problem: CheckpointProblem)

    public var description: String {
        switch self {
        case .cannotRead(let error): error.description
        case .cannotWrite(let error): error.description
        case .malformed(let path, let problem): "\(path) is not a valid swift-lenet checkpoint: \(problem)"
        }
    }
}

/// What makes a safetensors file not a LeNet-5 checkpoint of this format.
public enum CheckpointProblem: Error, Equatable, CustomStringConvertible {
    case safeTensors(SafeTensorsError)
    case wrongFormat(found: String?)
    case unsupportedVersion(found: String?)
    case missingTensor(name: String)
    case wrongShape(name: String, found: [Int], expected: [Int])
    case unexpectedTensor(name: String)
    case missingNormalization

    public var description: String {
        switch self {
        case .safeTensors(let error): error.description
        case .wrongFormat(let found):
            "metadata format is \(found.map { "'\($0)'" } ?? "missing"); expected '\(Checkpoint.format)'"
        case .unsupportedVersion(let found):
            "format version \(found ?? "missing") is not supported; expected \(Checkpoint.formatVersion) (written by a different swift-lenet?)"
        case .missingTensor(let name): "missing tensor '\(name)'"
        case .wrongShape(let name, let found, let expected): "'\(name)' has shape \(found); expected \(expected)"
        case .unexpectedTensor(let name): "unexpected tensor '\(name)'"
        case .missingNormalization: "metadata lacks a finite normalization_mean and a positive normalization_std"
        }
    }
}

/// LeNet-5's weights in the safetensors format, with tensor names and shapes PyTorch gives the
/// same network (`conv1.weight` [6, 1, 5, 5], ... `fc2.bias` [10]), so that
/// `model.load_state_dict(safetensors.torch.load_file(path))` works unchanged. A resumable
/// checkpoint also holds the optimizer's momentum buffers as `momentum.<name>` tensors.
public struct Checkpoint: Sendable, Equatable {
    public static let format = "swift-lenet"
    public static let formatVersion = "1"
    static let momentumPrefix = "momentum."
    static let secondMomentPrefix = "second_moment."

    public var model: Model
    /// Free-form facts about the run (epoch, accuracies, hyper-parameters); the normalisation
    /// and format keys are managed by the checkpoint itself.
    public var metadata: [String: String]
    /// SGD's momentum buffers (Adam's first moments) in `ParameterLayout` order, for an exact resume.
    public var momentum: [Float]?
    /// Adam's second moments, likewise.
    public var secondMoment: [Float]?

    public init(model: Model, metadata: [String: String] = [:], momentum: [Float]? = nil, secondMoment: [Float]? = nil) {
        precondition(momentum == nil || momentum?.count == ParameterLayout.count)
        precondition(secondMoment == nil || secondMoment?.count == ParameterLayout.count)
        self.model = model
        self.metadata = metadata
        self.momentum = momentum
        self.secondMoment = secondMoment
    }

    /// The bytes of the safetensors file.
    public func encoded() -> Data {
        var meta = metadata
        meta["format"] = Self.format
        meta["format_version"] = Self.formatVersion
        meta["normalization_mean"] = "\(model.normalization.mean)"
        meta["normalization_std"] = "\(model.normalization.standardDeviation)"
        var tensors = Self.tensors(model.parameters, prefix: "")
        if let momentum { tensors += Self.tensors(momentum, prefix: Self.momentumPrefix) }
        if let secondMoment { tensors += Self.tensors(secondMoment, prefix: Self.secondMomentPrefix) }
        return SafeTensors.encode(tensors, metadata: meta)
    }

    /// The flat buffer split into LeNet-5's named tensors.
    public static func tensors(_ flat: [Float], prefix: String) -> [NamedTensor] {
        ParameterLayout.tensors.map { t in
            NamedTensor(name: prefix + t.name, shape: t.shape, values: Array(flat[t.offset..<t.offset + t.count]))
        }
    }

    /// Writes the checkpoint atomically: to a temporary file in the same directory, flushed to
    /// disk, then renamed over `url`. A crash leaves either the old file or the new one.
    public func write(to url: URL) throws(CheckpointError) {
        do {
            try writeAtomically(encoded(), to: url)
        } catch {
            throw .cannotWrite(error)
        }
    }

    /// Larger than any LeNet-5 checkpoint (weights and Adam's two moments take 741 KB): a bigger file is
    /// refused unread.
    public static let maximumFileBytes = 4 << 20

    /// Reads and validates a checkpoint.
    public init(contentsOf url: URL) throws(CheckpointError) {
        let data: Data
        do {
            data = try readFile(atPath: url.path, maximumBytes: Self.maximumFileBytes)
        } catch {
            throw .cannotRead(error)
        }
        try self.init(decoding: data, path: url.path)
    }

    /// Parses safetensors bytes, refusing anything but a complete, finite LeNet-5.
    /// - Parameters:
    ///   - data: the file's bytes.
    ///   - path: used only in error messages.
    public init(decoding data: Data, path: String) throws(CheckpointError) {
        func fail(_ problem: CheckpointProblem) -> CheckpointError { .malformed(path: path, problem: problem) }
        let file: (tensors: [NamedTensor], metadata: [String: String])
        do {
            file = try SafeTensors.decode(data)
        } catch {
            throw fail(.safeTensors(error))
        }
        let metadata = file.metadata
        guard metadata["format"] == Self.format else {
            throw fail(.wrongFormat(found: metadata["format"]))
        }
        guard metadata["format_version"] == Self.formatVersion else {
            throw fail(.unsupportedVersion(found: metadata["format_version"]))
        }
        var byName: [String: NamedTensor] = [:]
        for tensor in file.tensors { byName[tensor.name] = tensor }
        func flat(prefix: String) throws(CheckpointError) -> [Float] {
            var values = [Float](repeating: 0, count: ParameterLayout.count)
            for t in ParameterLayout.tensors {
                guard let tensor = byName.removeValue(forKey: prefix + t.name) else { throw fail(.missingTensor(name: prefix + t.name)) }
                guard tensor.shape == t.shape else { throw fail(.wrongShape(name: tensor.name, found: tensor.shape, expected: t.shape)) }
                values.replaceSubrange(t.offset..<t.offset + t.count, with: tensor.values)
            }
            return values
        }
        let parameters = try flat(prefix: "")
        let hasMomentum = byName.keys.contains { $0.hasPrefix(Self.momentumPrefix) }
        let momentum = hasMomentum ? try flat(prefix: Self.momentumPrefix) : nil
        let hasSecondMoment = byName.keys.contains { $0.hasPrefix(Self.secondMomentPrefix) }
        let secondMoment = hasSecondMoment ? try flat(prefix: Self.secondMomentPrefix) : nil
        if let extra = byName.keys.sorted().first { throw fail(.unexpectedTensor(name: extra)) }

        guard let mean = metadata["normalization_mean"].flatMap(Float.init), mean.isFinite,
            let std = metadata["normalization_std"].flatMap(Float.init), std.isFinite, std > 0
        else { throw fail(.missingNormalization) }
        self.init(
            model: Model(parameters: parameters, normalization: Normalization(mean: mean, standardDeviation: std)),
            metadata: metadata, momentum: momentum, secondMoment: secondMoment)
    }
}
