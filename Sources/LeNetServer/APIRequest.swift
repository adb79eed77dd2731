import Foundation
import Imaging
import LeNet
import Training

/// The API's JSON request bodies, decoded and checked as its routes do (public for FuzzTesting).
public enum APIRequest {
    /// 784 (a side squared) pixel values 0-255, white on black, as `{"pixels": [...]}`.
    public static func pixels(_ data: Data) throws(APIError) -> GrayImage {
        struct Body: Decodable { let pixels: [Int] }
        let side = LeNet5.imageSide
        guard let body = try? JSONDecoder().decode(Body.self, from: data) else {
            throw APIError(status: .badRequest, message: "expected {\"pixels\": [\(side * side) numbers 0-255]}")
        }
        guard body.pixels.count == side * side, body.pixels.allSatisfy({ (0...255).contains($0) }) else {
            throw APIError(status: .badRequest, message: "expected \(side * side) pixel values 0-255, got \(body.pixels.count)")
        }
        // As a blank picture is (ImageError.blank): nothing to classify, not a confident guess.
        guard body.pixels.contains(where: { $0 > 0 }) else {
            throw APIError(status: .unprocessableContent, message: "the image is blank: draw a digit")
        }
        return GrayImage(width: side, height: side, pixels: body.pixels.map { UInt8($0) })
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
