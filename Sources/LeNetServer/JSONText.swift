import Foundation

/// JSON written byte by byte, as `encodeJSON` writes it (sorted keys, slashes unescaped, the
/// same numbers and escapes), for the answer the API sends most: `POST /api/predict`'s, whose
/// 784 input pixels took JSONEncoder about 200 µs (a third of the server's time under load).
/// ServerTests holds the two to the same bytes.
struct JSONText {
    private(set) var bytes: [UInt8] = []
    private static let hexDigits = Array("0123456789abcdef".utf8)

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// A string in quotes: `"` and `\` escaped, control characters as \b \t \n \f \r or \u00XX.
    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case 0x08: raw("\\b")
            case 0x09: raw("\\t")
            case 0x0A: raw("\\n")
            case 0x0C: raw("\\f")
            case 0x0D: raw("\\r")
            case 0..<0x20:
                raw("\\u00")
                bytes.append(Self.hexDigits[Int(byte >> 4)])
                bytes.append(Self.hexDigits[Int(byte & 0xF)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// A whole number in decimal.
    mutating func number(_ value: Int) {
        if value >= 0 && value < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(value))
        } else {
            bytes.append(contentsOf: String(value).utf8)
        }
    }

    /// A finite float as JSONEncoder writes it: its shortest decimal form, without a trailing ".0".
    /// - Precondition: `value` is finite (the API's probabilities are).
    mutating func number(_ value: Float) {
        precondition(value.isFinite)
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        bytes.append(contentsOf: text.utf8)
    }

    /// `[a,b,...]`, each element written by `element`.
    mutating func array<C: Collection>(_ elements: C, _ element: (inout JSONText, C.Element) -> Void) {
        bytes.append(UInt8(ascii: "["))
        var first = true
        for e in elements {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            element(&self, e)
        }
        bytes.append(UInt8(ascii: "]"))
    }
}

extension PredictionResponse {
    /// The answer as `encodeJSON` writes it; without activations, written by `JSONText`.
    var json: Data {
        guard activations == nil, probabilities.allSatisfy(\.isFinite), digitProbability?.isFinite ?? true else {
            return encodeJSON(self)
        }
        var j = JSONText(capacity: 4 * input.pixels.count + 512)
        j.raw("{\"classNames\":")
        j.array(classNames) { $0.string($1) }
        if let digitProbability {
            j.raw(",\"digitProbability\":")
            j.number(digitProbability)
        }
        j.raw(",\"input\":{\"height\":")
        j.number(input.height)
        j.raw(",\"pixels\":")
        j.array(input.pixels) { $0.number(Int($1)) }
        j.raw(",\"width\":")
        j.number(input.width)
        j.raw("},\"model\":")
        j.string(model)
        j.raw(",\"probabilities\":")
        j.array(probabilities) { $0.number($1) }
        j.raw(",\"ranked\":")
        j.array(ranked) { $0.number($1) }
        j.raw("}")
        return Data(j.bytes)
    }
}
