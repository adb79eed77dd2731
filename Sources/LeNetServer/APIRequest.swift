import Foundation
import Imaging
import LeNet
import Training

/// The API's JSON request bodies, decoded and checked as its routes do (public for FuzzTesting).
public enum APIRequest {
    /// Pixels sent as JSON: 784 values (a side squared) of an image prepared as MNIST's were,
    /// white on black, as `{"pixels": [...]}`; or a picture of any size up to 1024 on a side,
    /// `{"width": w, "height": h, "pixels": [...]}`, dark ink on light or light on dark, prepared
    /// as an image file is (the page's pad, reduced: no PNG to encode on the way).
    public enum Pixels: Equatable {
        case prepared(GrayImage)
        case picture(GrayImage)
    }

    /// The largest side of a picture sent as JSON pixels.
    public static let pictureSideLimit = 1024

    /// A pixels body as JSON: what `pixels` reads.
    struct PixelsBody: Decodable, Equatable {
        let width: Int?
        let height: Int?
        let pixels: [Int]
    }

    /// The pixels of a JSON body, checked: counts, values 0-255, sides, and not blank.
    public static func pixels(_ data: Data) throws(APIError) -> Pixels {
        let side = LeNet5.imageSide
        let limit = pictureSideLimit
        let expected = "expected {\"pixels\": [\(side * side) numbers 0-255]} or {\"width\": w, \"height\": h, \"pixels\": [w x h numbers 0-255]}"
        guard let body = plainPixelsBody(data) ?? (try? JSONDecoder().decode(PixelsBody.self, from: data)) else {
            throw APIError(status: .badRequest, message: expected)
        }
        let width: Int, height: Int
        switch (body.width, body.height) {
        case (nil, nil): (width, height) = (side, side)
        case (let w?, let h?):
            guard (1...limit).contains(w), (1...limit).contains(h) else {
                throw APIError(status: .badRequest, message: "width and height must be from 1 to \(limit), got \(w)x\(h)")
            }
            (width, height) = (w, h)
        default: throw APIError(status: .badRequest, message: "width and height go together; \(expected)")
        }
        guard body.pixels.count == width * height, body.pixels.allSatisfy({ (0...255).contains($0) }) else {
            throw APIError(status: .badRequest, message: "expected \(width * height) pixel values 0-255, got \(body.pixels.count)")
        }
        let image = GrayImage(width: width, height: height, pixels: body.pixels.map { UInt8($0) })
        guard body.width != nil else {
            // As a blank picture is (ImageError.blank): nothing to classify, not a confident guess.
            guard body.pixels.contains(where: { $0 > 0 }) else {
                throw APIError(status: .unprocessableContent, message: "the image is blank: draw a digit")
            }
            return .prepared(image)
        }
        return .picture(image)
    }

    /// The body read byte by byte when it is the plain form the page and most clients send: an
    /// object of `"pixels"` (an array of whole numbers of at most 4 digits) and optionally
    /// `"width"` and `"height"` (whole numbers of at most 9 digits), each once, with JSON's
    /// whitespace; nil for anything else, which JSONDecoder then reads (or refuses). Decoding 784
    /// numbers took JSONDecoder about 175 µs; this reads them in a few. APIRequestTests holds the
    /// two to the same result on every body this accepts.
    static func plainPixelsBody(_ data: Data) -> PixelsBody? {
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> PixelsBody? in
            let bytes = raw.bindMemory(to: UInt8.self)
            var i = 0
            func skipSpace() {
                // A switch, not an array literal's `contains`: this runs for every number.
                loop: while i < bytes.count {
                    switch bytes[i] {
                    case 0x20, 0x09, 0x0A, 0x0D: i += 1
                    default: break loop
                    }
                }
            }
            func take(_ byte: UInt8) -> Bool {
                skipSpace()
                guard i < bytes.count, bytes[i] == byte else { return false }
                i += 1
                return true
            }
            /// A whole number of 1 to `digits` digits, no sign, no leading zero but 0 itself.
            func number(digits: Int) -> Int? {
                skipSpace()
                let start = i
                var value = 0
                while i < bytes.count, (0x30...0x39).contains(bytes[i]), i - start < digits {
                    value = value * 10 + Int(bytes[i] - 0x30)
                    i += 1
                }
                let length = i - start
                guard length > 0, !(length > 1 && bytes[start] == 0x30) else { return nil }
                // More digits, a fraction or an exponent: not the plain form.
                if i < bytes.count {
                    switch bytes[i] {
                    case 0x30...0x39, 0x2E, 0x65, 0x45: return nil
                    default: break
                    }
                }
                return value
            }
            func key() -> String? {
                guard take(UInt8(ascii: "\"")) else { return nil }
                let start = i
                while i < bytes.count, bytes[i] != UInt8(ascii: "\""), bytes[i] != UInt8(ascii: "\\") { i += 1 }
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return nil }
                defer { i += 1 }
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
            }
            var width: Int?, height: Int?, pixels: [Int]?
            guard take(UInt8(ascii: "{")) else { return nil }
            repeat {
                guard let name = key(), take(UInt8(ascii: ":")) else { return nil }
                switch name {
                case "width" where width == nil:
                    guard let value = number(digits: 9) else { return nil }
                    width = value
                case "height" where height == nil:
                    guard let value = number(digits: 9) else { return nil }
                    height = value
                case "pixels" where pixels == nil:
                    guard take(UInt8(ascii: "[")) else { return nil }
                    var values: [Int] = []
                    values.reserveCapacity(bytes.count / 2)
                    if !take(UInt8(ascii: "]")) {
                        repeat {
                            guard let value = number(digits: 4) else { return nil }
                            values.append(value)
                        } while take(UInt8(ascii: ","))
                        guard take(UInt8(ascii: "]")) else { return nil }
                    }
                    pixels = values
                default: return nil
                }
            } while take(UInt8(ascii: ","))
            guard take(UInt8(ascii: "}")), let pixels else { return nil }
            skipSpace()
            guard i == bytes.count else { return nil }
            return PixelsBody(width: width, height: height, pixels: pixels)
        }
    }

    /// A JSON object of training options (`TrainingOptions`' keys, any other refused, naming
    /// it); their values are checked when a run starts from them (`TrainingOptions.configuration`).
    public static func trainingOptions(_ data: Data) throws(APIError) -> TrainingOptions {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw APIError(status: .badRequest, message: "the body is not a JSON object of training options")
        }
        if let unknown = object.keys.sorted().first(where: { TrainingOptions.Field(rawValue: $0) == nil }) {
            let known = TrainingOptions.Field.allCases.map(\.rawValue).joined(separator: ", ")
            throw APIError(status: .badRequest, message: "'\(unknown)' is not a training option; the options are \(known)", field: unknown)
        }
        // Each option on its own, so the one whose value its type cannot hold (a seed of -1, a
        // batch size of 1.5, a rate of 1e39) is named: Foundation's decoder reports no key for those.
        for key in object.keys.sorted() {
            guard let value = object[key], let alone = try? JSONSerialization.data(withJSONObject: [key: value]) else { continue }
            if (try? JSONDecoder().decode(TrainingOptions.self, from: alone)) == nil {
                throw APIError(status: .badRequest, message: "'\(key)' cannot be \(value): \(expectation(key))", field: key)
            }
        }
        do {
            return try JSONDecoder().decode(TrainingOptions.self, from: data)
        } catch {
            throw APIError(status: .badRequest, message: "the body is not a JSON object of training options: \(describe(error))")
        }
    }

    /// What a training option's JSON value must be.
    private static func expectation(_ key: String) -> String {
        switch TrainingOptions.Field(rawValue: key) {
        case .epochs?, .batchSize?, .validationSize?, .trainingImages?, .warmupEpochs?: "expected a whole number"
        case .seed?: "expected a whole number from 0 to 18446744073709551615"
        case .learningRate?, .momentum?, .weightDecay?, .labelSmoothing?: "expected a number a 32-bit float holds"
        case .preset?: "expected one of " + TrainingOptions.Preset.allCases.map(\.rawValue).joined(separator: ", ")
        case .optimizer?: "expected one of " + Optimizer.allCases.map(\.rawValue).joined(separator: ", ")
        case .initialization?: "expected one of " + Initialization.allCases.map(\.rawValue).joined(separator: ", ")
        case .selection?: "expected one of " + ModelSelection.allCases.map(\.rawValue).joined(separator: ", ")
        case .schedule?, .augment?, nil: "expected text"
        }
    }

    /// A decoding error in a sentence, without Swift's type names.
    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context), DecodingError.dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? "it is not valid JSON" : "'\(path)' has a value of the wrong kind"
        case DecodingError.keyNotFound(let key, _):
            return "'\(key.stringValue)' is missing"
        default:
            return "it is not valid JSON"
        }
    }
}
