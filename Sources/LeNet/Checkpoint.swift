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

/// A trained model in the safetensors format: an 8-byte little-endian header length, a JSON
/// header giving each tensor's `dtype`, `shape` and `data_offsets` plus a `__metadata__` map of
/// strings, then the raw little-endian data. Tensor names and shapes are PyTorch's for the same
/// network, so `load_state_dict(safetensors.torch.load_file(path))` works unchanged.
public struct Checkpoint: Sendable, Equatable {
    public static let format = "swift-lenet"
    public static let formatVersion = "1"
    /// A header larger than this is refused before it is read.
    static let maximumHeaderLength = 1 << 20

    public var model: Model
    /// Free-form facts about the run (epoch, accuracies, hyper-parameters); the normalisation
    /// and format keys are managed by the checkpoint itself.
    public var metadata: [String: String]

    public init(model: Model, metadata: [String: String] = [:]) {
        self.model = model
        self.metadata = metadata
    }

    /// The bytes of the safetensors file.
    public func encoded() -> Data {
        var meta = metadata
        meta["format"] = Self.format
        meta["format_version"] = Self.formatVersion
        meta["normalization_mean"] = "\(model.normalization.mean)"
        meta["normalization_std"] = "\(model.normalization.standardDeviation)"
        var entries = ["\"__metadata__\":{" + meta.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }.joined(separator: ",") + "}"]
        for tensor in ParameterLayout.tensors {
            let begin = tensor.offset * 4, end = (tensor.offset + tensor.count) * 4
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            entries.append("\"\(tensor.name)\":{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(begin),\(end)]}")
        }
        var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        // Pad with spaces so the tensor data starts 8-byte aligned, as the reference writer does.
        while header.count % 8 != 0 { header.append(0x20) }
        var data = Data(capacity: 8 + header.count + ParameterLayout.count * 4)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: header)
        for value in model.parameters {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
        }
        return data
    }

    /// Writes the checkpoint atomically: to a temporary file in the same directory, flushed to
    /// disk, then renamed over `url`. A crash leaves either the old file or the new one.
    public func write(to url: URL) throws(CheckpointError) {
        try writeAtomically(encoded(), to: url)
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
        let bytes = [UInt8](data)
        guard bytes.count >= 8 else { throw fail("file is \(bytes.count) bytes, shorter than the 8-byte header length") }
        let headerLength = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard headerLength <= UInt64(min(bytes.count - 8, Self.maximumHeaderLength)) else {
            throw fail("header length \(headerLength) exceeds the \(bytes.count - 8) bytes after it")
        }
        let dataStart = 8 + Int(headerLength)
        guard let json = try? JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart])),
            let header = json as? [String: Any]
        else { throw fail("header is not a JSON object") }

        let metadata = (header["__metadata__"] as? [String: Any] ?? [:]).compactMapValues { $0 as? String }
        guard metadata["format"] == Self.format else {
            throw fail("metadata format is \(metadata["format"].map { "'\($0)'" } ?? "missing"); expected '\(Self.format)'")
        }
        guard metadata["format_version"] == Self.formatVersion else {
            throw fail("format version \(metadata["format_version"] ?? "missing") is not supported; expected \(Self.formatVersion) (written by a different swift-lenet?)")
        }
        let expectedNames = Set(ParameterLayout.tensors.map(\.name))
        let names = Set(header.keys).subtracting(["__metadata__"])
        if let extra = names.subtracting(expectedNames).sorted().first { throw fail("unexpected tensor '\(extra)'") }
        if let missing = expectedNames.subtracting(names).sorted().first { throw fail("missing tensor '\(missing)'") }

        let payload = bytes.count - dataStart
        var parameters = [Float](repeating: 0, count: ParameterLayout.count)
        var spans: [(begin: Int, end: Int, name: String)] = []
        for tensor in ParameterLayout.tensors {
            guard let entry = header[tensor.name] as? [String: Any] else { throw fail("'\(tensor.name)' is not an object") }
            guard entry["dtype"] as? String == "F32" else {
                throw fail("'\(tensor.name)' has dtype \(entry["dtype"] ?? "none"); expected F32")
            }
            guard let shape = entry["shape"] as? [Int], shape == tensor.shape else {
                throw fail("'\(tensor.name)' has shape \(entry["shape"] ?? "none"); expected \(tensor.shape)")
            }
            guard let offsets = entry["data_offsets"] as? [Int], offsets.count == 2,
                offsets[0] >= 0, offsets[1] - offsets[0] == tensor.count * 4, offsets[1] <= payload
            else {
                throw fail("'\(tensor.name)' has data_offsets \(entry["data_offsets"] ?? "none"); expected \(tensor.count * 4) bytes within the \(payload) bytes of data")
            }
            spans.append((offsets[0], offsets[1], tensor.name))
            for i in 0..<tensor.count {
                let at = dataStart + offsets[0] + 4 * i
                let bits = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * $1) }
                let value = Float(bitPattern: bits)
                guard value.isFinite else { throw fail("'\(tensor.name)' holds a non-finite value (\(value)) at element \(i)") }
                parameters[tensor.offset + i] = value
            }
        }
        var covered = 0
        for span in spans.sorted(by: { $0.begin < $1.begin }) {
            guard span.begin == covered else { throw fail("tensor data does not tile the data section: '\(span.name)' starts at \(span.begin), expected \(covered)") }
            covered = span.end
        }
        guard covered == payload else { throw fail("\(payload - covered) bytes of data follow the last tensor") }

        guard let mean = metadata["normalization_mean"].flatMap(Float.init), mean.isFinite,
            let std = metadata["normalization_std"].flatMap(Float.init), std.isFinite, std > 0
        else { throw fail("metadata lacks a finite normalization_mean and a positive normalization_std") }
        self.model = Model(parameters: parameters, normalization: Normalization(mean: mean, standardDeviation: std))
        self.metadata = metadata
    }
}

/// Escapes a string as a JSON string literal.
func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

/// Writes `data` to a temporary file beside `url`, fsyncs it, and renames it over `url`.
func writeAtomically(_ data: Data, to url: URL) throws(CheckpointError) {
    let path = url.path
    let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())").path
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw .cannotWrite(path: path, reason: String(cString: strerror(errno))) }
    let written = data.withUnsafeBytes { raw -> Bool in
        var offset = 0
        while offset < raw.count {
            let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n <= 0 { return false }
            offset += n
        }
        return true
    }
    let reason = String(cString: strerror(errno))
    guard written, fsync(fd) == 0 else {
        close(fd)
        unlink(temporary)
        throw .cannotWrite(path: path, reason: reason)
    }
    close(fd)
    guard rename(temporary, path) == 0 else {
        let reason = String(cString: strerror(errno))
        unlink(temporary)
        throw .cannotWrite(path: path, reason: reason)
    }
}
