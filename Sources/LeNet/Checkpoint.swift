import Foundation

/// A failure to read or write a checkpoint, naming the problem.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    case cannotRead(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    case malformed(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotRead(let path, let reason): "cannot read checkpoint \(path): \(reason)"
        case .cannotWrite(let path, let reason): "cannot write checkpoint \(path): \(reason)"
        case .malformed(let path, let reason): "\(path) is not a valid swift-lenet checkpoint: \(reason)"
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

    public var model: Model
    /// Free-form facts about the run (epoch, accuracies, hyper-parameters); the normalisation
    /// and format keys are managed by the checkpoint itself.
    public var metadata: [String: String]
    /// SGD momentum buffers in `ParameterLayout` order, for an exact resume.
    public var momentum: [Float]?

    public init(model: Model, metadata: [String: String] = [:], momentum: [Float]? = nil) {
        precondition(momentum == nil || momentum?.count == ParameterLayout.count)
        self.model = model
        self.metadata = metadata
        self.momentum = momentum
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
            throw .cannotWrite(path: url.path, reason: error.reason)
        }
    }

    /// Reads and validates a checkpoint.
    public init(contentsOf url: URL) throws(CheckpointError) {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            let reason = FileManager.default.fileExists(atPath: url.path) ? error.localizedDescription : "no such file"
            throw .cannotRead(path: url.path, reason: reason)
        }
        try self.init(decoding: data, path: url.path)
    }

    /// Parses safetensors bytes, refusing anything but a complete, finite LeNet-5.
    /// - Parameter path: used only in error messages.
    public init(decoding data: Data, path: String) throws(CheckpointError) {
        func fail(_ reason: String) -> CheckpointError { .malformed(path: path, reason: reason) }
        let file: (tensors: [NamedTensor], metadata: [String: String])
        do {
            file = try SafeTensors.decode(data)
        } catch {
            throw fail(error.description)
        }
        let metadata = file.metadata
        guard metadata["format"] == Self.format else {
            throw fail("metadata format is \(metadata["format"].map { "'\($0)'" } ?? "missing"); expected '\(Self.format)'")
        }
        guard metadata["format_version"] == Self.formatVersion else {
            throw fail("format version \(metadata["format_version"] ?? "missing") is not supported; expected \(Self.formatVersion) (written by a different swift-lenet?)")
        }
        var byName: [String: NamedTensor] = [:]
        for tensor in file.tensors { byName[tensor.name] = tensor }
        func flat(prefix: String) throws(CheckpointError) -> [Float] {
            var values = [Float](repeating: 0, count: ParameterLayout.count)
            for t in ParameterLayout.tensors {
                guard let tensor = byName.removeValue(forKey: prefix + t.name) else { throw fail("missing tensor '\(prefix + t.name)'") }
                guard tensor.shape == t.shape else { throw fail("'\(tensor.name)' has shape \(tensor.shape); expected \(t.shape)") }
                values.replaceSubrange(t.offset..<t.offset + t.count, with: tensor.values)
            }
            return values
        }
        let parameters = try flat(prefix: "")
        let hasMomentum = byName.keys.contains { $0.hasPrefix(Self.momentumPrefix) }
        let momentum = hasMomentum ? try flat(prefix: Self.momentumPrefix) : nil
        if let extra = byName.keys.sorted().first { throw fail("unexpected tensor '\(extra)'") }

        guard let mean = metadata["normalization_mean"].flatMap(Float.init), mean.isFinite,
            let std = metadata["normalization_std"].flatMap(Float.init), std.isFinite, std > 0
        else { throw fail("metadata lacks a finite normalization_mean and a positive normalization_std") }
        self.init(
            model: Model(parameters: parameters, normalization: Normalization(mean: mean, standardDeviation: std)),
            metadata: metadata, momentum: momentum)
    }
}
