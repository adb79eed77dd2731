import Foundation

/// A float32 tensor as stored in a safetensors file.
public struct NamedTensor: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]

    public init(name: String, shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count)
        self.name = name
        self.shape = shape
        self.values = values
    }
}

/// The safetensors format (https://github.com/huggingface/safetensors), for float32 tensors:
/// an 8-byte little-endian header length, a JSON header mapping each tensor's name to its
/// `dtype`, `shape` and `data_offsets` (plus a `__metadata__` map of strings), then the raw
/// little-endian data, tensor after tensor.
public enum SafeTensors {
    /// A header larger than this is refused before it is parsed.
    static let maximumHeaderLength = 16 << 20

    /// The bytes of a safetensors file holding `tensors` in order, with `metadata`.
    public static func encode(_ tensors: [NamedTensor], metadata: [String: String]) -> Data {
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }
            entries.append("\"__metadata__\":{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        for tensor in tensors {
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            let end = offset + 4 * tensor.values.count
            entries.append("\(jsonString(tensor.name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        // Pad with spaces so the tensor data starts 8-byte aligned, as the reference writer does.
        while header.count % 8 != 0 { header.append(0x20) }
        var data = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: header)
        for tensor in tensors { data.append(contentsOf: tensor.values.littleEndianBytes) }
        return data
    }

    /// Parses a safetensors file of float32 tensors, checking the header length against the
    /// file, the JSON, every dtype, shape and offset, that the tensors tile the data section
    /// exactly, and that every value is finite.
    /// - Returns: the tensors in the order of their data, and the metadata.
    /// - Throws: what is wrong, for the caller to wrap with the file's name.
    public static func decode(_ data: Data) throws(SafeTensorsError) -> (tensors: [NamedTensor], metadata: [String: String]) {
        let bytes = [UInt8](data)
        guard bytes.count >= 8 else { throw .tooShort(bytes: bytes.count) }
        let headerLength = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard headerLength <= UInt64(min(bytes.count - 8, maximumHeaderLength)) else {
            throw .headerTooLong(length: headerLength, available: bytes.count - 8)
        }
        let dataStart = 8 + Int(headerLength)
        guard let json = try? JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart])),
            let header = json as? [String: Any]
        else { throw .headerNotJSON }

        var metadata: [String: String] = [:]
        if let raw = header["__metadata__"] {
            guard let map = raw as? [String: Any] else { throw .metadataNotObject }
            for (key, value) in map {
                guard let string = value as? String else { throw .metadataNotString(key: key) }
                metadata[key] = string
            }
        }
        let payload = bytes.count - dataStart
        var spans: [(begin: Int, end: Int, name: String, shape: [Int])] = []
        for (name, raw) in header where name != "__metadata__" {
            guard let entry = raw as? [String: Any] else { throw .entryNotObject(name: name) }
            guard entry["dtype"] as? String == "F32" else {
                throw .unsupportedDataType(name: name, found: entry["dtype"].map { "\($0)" } ?? "none")
            }
            guard let shape = integers(entry["shape"]), shape.allSatisfy({ $0 >= 0 && $0 <= payload }) else {
                throw .badShape(name: name)
            }
            // The product of the sizes and its 4 bytes each, checked: a shape read from a file may
            // multiply past Int.max.
            let (elements, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            let (bytesNeeded, tooMany) = elements.multipliedReportingOverflow(by: 4)
            // Both offsets within the data before they are subtracted: -2^63 would overflow.
            guard let offsets = integers(entry["data_offsets"]), offsets.count == 2, !overflow, !tooMany,
                (0...payload).contains(offsets[0]), (offsets[0]...payload).contains(offsets[1]),
                offsets[1] - offsets[0] == bytesNeeded
            else {
                throw .badOffsets(name: name, expectedBytes: overflow || tooMany ? nil : bytesNeeded, available: payload)
            }
            spans.append((offsets[0], offsets[1], name, shape))
        }
        spans.sort { $0.begin < $1.begin }
        var covered = 0
        var tensors: [NamedTensor] = []
        for span in spans {
            guard span.begin == covered else {
                throw .notTiled(name: span.name, start: span.begin, expected: covered)
            }
            covered = span.end
            var values = [Float](repeating: 0, count: (span.end - span.begin) / 4)
            for i in values.indices {
                let at = dataStart + span.begin + 4 * i
                let value = Float(bitPattern: (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * $1) })
                guard value.isFinite else { throw .nonFinite(name: span.name, element: i) }
                values[i] = value
            }
            tensors.append(NamedTensor(name: span.name, shape: span.shape, values: values))
        }
        guard covered == payload else { throw .trailingData(bytes: payload - covered) }
        return (tensors, metadata)
    }

    /// A JSON array of whole numbers, or nil.
    private static func integers(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var out: [Int] = []
        for element in array {
            guard let number = element as? NSNumber, let int = Int(exactly: number.doubleValue) else { return nil }
            out.append(int)
        }
        return out
    }
}

/// Why bytes are not a valid float32 safetensors file.
public enum SafeTensorsError: Error, Equatable, CustomStringConvertible {
    case tooShort(bytes: Int)
    case headerTooLong(length: UInt64, available: Int)
    case headerNotJSON
    case metadataNotObject
    case metadataNotString(key: String)
    case entryNotObject(name: String)
    case unsupportedDataType(name: String, found: String)
    case badShape(name: String)
    /// `expectedBytes` is nil when the shape's element count overflows.
    case badOffsets(name: String, expectedBytes: Int?, available: Int)
    case notTiled(name: String, start: Int, expected: Int)
    case nonFinite(name: String, element: Int)
    case trailingData(bytes: Int)

    public var description: String {
        switch self {
        case .tooShort(let n): "file is \(n) bytes, shorter than the 8-byte header length"
        case .headerTooLong(let length, let available): "header length \(length) exceeds the \(available) bytes after it"
        case .headerNotJSON: "header is not a JSON object"
        case .metadataNotObject: "__metadata__ is not an object"
        case .metadataNotString(let key): "metadata '\(key)' is not a string"
        case .entryNotObject(let name): "'\(name)' is not an object"
        case .unsupportedDataType(let name, let found): "'\(name)' has dtype \(found); expected F32"
        case .badShape(let name): "'\(name)' has no valid shape; expected a list of sizes"
        case .badOffsets(let name, let expected, let available):
            "'\(name)' has bad data_offsets; expected \(expected.map { "\($0) bytes" } ?? "a smaller shape") within the \(available) bytes of data"
        case .notTiled(let name, let start, let expected):
            "tensor data does not tile the data section: '\(name)' starts at \(start), expected \(expected)"
        case .nonFinite(let name, let element): "'\(name)' holds a non-finite value at element \(element)"
        case .trailingData(let n): "\(n) bytes of data follow the last tensor"
        }
    }
}

/// Escapes a string as a JSON string literal.
public func jsonString(_ s: String) -> String {
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

