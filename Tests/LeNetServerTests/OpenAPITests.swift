import Datasets
import Foundation
import Hummingbird
import Imaging
import LeNet
import TestSupport
import XCTest
@testable import LeNetServer

/// The OpenAPI document served at /api/openapi.json stays true: it names every route the
/// router has (and no other), and the answers the server gives (successes and errors) are what
/// its schemas say. schemathesis, in CI, then throws generated requests at the live server.
final class OpenAPITests: TemporaryDirectoryTestCase {
    private var document: [String: Any] = [:]

    override func setUpWithError() throws {
        try super.setUpWithError()
        let served = Assets().files.first { $0.path == "/api/openapi.json" }?.file.bytes
        document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(buffer: XCTUnwrap(served))) as? [String: Any])
    }

    func testEveryRouteIsDocumentedAndNothingElse() throws {
        XCTAssertEqual(document["openapi"] as? String, "3.1.0")
        let paths = try XCTUnwrap(document["paths"] as? [String: [String: Any]])
        let documented = Set(paths.flatMap { path, operations in operations.keys.map { "\($0.uppercased()) \(path)" } })
        let runs = folder.url("runs")
        let endpoints = allEndpoints(
            models: ModelStore(runs: runs, checkpoint: nil), training: TrainingManager(runs: runs, dataDirectory: runs, threads: 1),
            detector: try DigitDetector.pretrained())
        let routed = Set(endpoints.flatMap(\.methods).filter { $0.key.hasPrefix("/api/") }.flatMap { path, methods in methods.map { "\($0.rawValue) \(path)" } })
        XCTAssertEqual(documented, routed)
    }

    /// Real answers, checked against the schemas of their path, method and status.
    func testAnswersConformToTheirSchemas() async throws {
        let runs = folder.url("runs")
        let models = ModelStore(runs: runs, checkpoint: nil)
        let training = TrainingManager(runs: runs, dataDirectory: IDXDataset.bundledMNIST, threads: 2) { models.refresh() }
        let client = RouterClient(buildRouter(models: models, training: training, detector: try DigitDetector.pretrained()))
        let test = try IDXDataset(directory: IDXDataset.bundledMNIST).test
        let png = try GrayImage(width: 28, height: 28, pixels: Array(test.pixels.prefix(784))).pngData()
        let json: HTTPFields = [.contentType: "application/json"]
        let requests: [(HTTPRequest.Method, String, HTTPFields, ByteBuffer)] = [
            (.get, "/api/openapi.json", [:], ByteBuffer()),
            (.get, "/api/models", [:], ByteBuffer()),
            (.get, "/api/filters", [:], ByteBuffer()),
            (.get, "/api/filters?model=nothing", [:], ByteBuffer()),
            (.get, "/api/weights", [:], ByteBuffer()),
            (.post, "/api/predict?activations=1", [.contentType: "image/png"], ByteBuffer(bytes: png)),
            (.post, "/api/predict", [.contentType: "image/png"], ByteBuffer(string: "no image")),
            (.post, "/api/predict", json, ByteBuffer(string: "{\"pixels\": [1]}")),
            (.post, "/api/predict", [.contentType: "text/plain"], ByteBuffer(string: "{}")),
            (.post, "/api/gradients?target=1", [.contentType: "image/png"], ByteBuffer(bytes: png)),
            (.post, "/api/gradients?target=10", [.contentType: "image/png"], ByteBuffer(bytes: png)),
            (.post, "/api/correct?label=7", [.contentType: "image/png"], ByteBuffer(bytes: png)),
            (.post, "/api/correct?label=x", [.contentType: "image/png"], ByteBuffer(bytes: png)),
            (.post, "/api/correct/save?copy=copy-none", [:], ByteBuffer()),
            (.get, "/api/test-sample", [:], ByteBuffer()),
            (.get, "/api/train/presets", [:], ByteBuffer()),
            (.get, "/api/train", [:], ByteBuffer()),
            (.post, "/api/train", json, ByteBuffer(string: "{\"epochs\": 0}")),
            (.post, "/api/train/pause", [:], ByteBuffer()),
            (.post, "/api/train", json, ByteBuffer(string: "{\"epochs\": 1, \"trainingImages\": 500, \"validationSize\": 100}")),
            (.post, "/api/train", json, ByteBuffer(string: "{\"epochs\": 1}")),
            (.post, "/api/train/stop", [:], ByteBuffer()),
            (.get, "/api/train", [:], ByteBuffer()),
        ]
        var statuses: [Int] = []
        for (method, uri, headers, body) in requests {
            try await client.execute(uri: uri, method: method, headers: headers, body: body) { response in
                statuses.append(response.status.code)
                let path = String(uri.prefix { $0 != "?" })
                let schema = try XCTUnwrap(responseSchema(path: path, method: method, status: response.status.code), "\(method) \(uri) \(response.status)")
                let value = try JSONSerialization.jsonObject(with: Data(buffer: response.body), options: .fragmentsAllowed)
                XCTAssertEqual(conformance(value, to: schema), [], "\(method) \(uri) \(response.status)")
            }
        }
        XCTAssertEqual(statuses, [200, 200, 200, 404, 200, 200, 415, 400, 415, 200, 400, 200, 400, 404, 200, 200, 200, 400, 409, 202, 409, 200, 200])
        await training.stopAndWait()
    }

    /// The documented JSON schema of an answer, or nil when the document has none.
    private func responseSchema(path: String, method: HTTPRequest.Method, status: Int) -> [String: Any]? {
        let operation = ((document["paths"] as? [String: Any])?[path] as? [String: Any])?[method.rawValue.lowercased()] as? [String: Any]
        let response = (operation?["responses"] as? [String: Any])?[String(status)] as? [String: Any]
        return ((response?["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"] as? [String: Any]
    }

    /// What is wrong with `value` by `schema` (the parts of JSON Schema the document uses),
    /// each at its JSON path; empty when it conforms.
    private func conformance(_ value: Any, to schema: [String: Any], at path: String = "$") -> [String] {
        if let reference = schema["$ref"] as? String {
            let name = String(reference.split(separator: "/").last ?? "")
            let schemas = (document["components"] as? [String: Any])?["schemas"] as? [String: Any]
            guard let target = schemas?[name] as? [String: Any] else { return ["\(path): no schema \(reference)"] }
            return conformance(value, to: target, at: path)
        }
        if let choices = schema["oneOf"] as? [[String: Any]] {
            let matching = choices.filter { conformance(value, to: $0, at: path).isEmpty }.count
            return matching == 1 ? [] : ["\(path): matches \(matching) of oneOf's schemas"]
        }
        if let allowed = schema["enum"] as? [String] {
            return allowed.contains(value as? String ?? "") ? [] : ["\(path): \(value) is not one of \(allowed)"]
        }
        var problems: [String] = []
        switch schema["type"] as? String {
        case "object"?:
            guard let object = value as? [String: Any] else { return ["\(path): not an object"] }
            let properties = schema["properties"] as? [String: [String: Any]] ?? [:]
            for key in schema["required"] as? [String] ?? [] where object[key] == nil { problems.append("\(path): no \(key)") }
            for (key, member) in object {
                if let property = properties[key] {
                    problems += conformance(member, to: property, at: "\(path).\(key)")
                } else if schema["additionalProperties"] as? Bool == false {
                    problems.append("\(path): \(key) is not documented")
                }
            }
        case "array"?:
            guard let array = value as? [Any] else { return ["\(path): not an array"] }
            if let least = schema["minItems"] as? Int, array.count < least { problems.append("\(path): \(array.count) items") }
            if let most = schema["maxItems"] as? Int, array.count > most { problems.append("\(path): \(array.count) items") }
            if let items = schema["items"] as? [String: Any] {
                for (k, item) in array.enumerated() { problems += conformance(item, to: items, at: "\(path)[\(k)]") }
            }
        case "string"?:
            if !(value is String) { problems.append("\(path): not a string") }
        case "boolean"?:
            if !isBoolean(value) { problems.append("\(path): not a boolean") }
        case let kind? where kind == "integer" || kind == "number":
            guard let number = value as? NSNumber, !isBoolean(value) else { return ["\(path): not a number"] }
            if kind == "integer" && number.doubleValue.rounded() != number.doubleValue { problems.append("\(path): \(number) is not whole") }
            if let least = schema["minimum"] as? Double, number.doubleValue < least { problems.append("\(path): \(number) < \(least)") }
            if let most = schema["maximum"] as? Double, number.doubleValue > most { problems.append("\(path): \(number) > \(most)") }
        default:
            break
        }
        return problems
    }

    /// JSONSerialization's true and false: NSNumbers of a char.
    private func isBoolean(_ value: Any) -> Bool {
        (value as? NSNumber).map { String(cString: $0.objCType) == "c" } ?? false
    }
}
