import Datasets
import Foundation
import Hummingbird
import Imaging
import LeNet
import Logging
import NIOEmbedded
import NIOHTTP1
import TestSupport
import Training
import XCTest
@testable import LeNetServer

final class ServerTests: TemporaryDirectoryTestCase {
    /// Runs `body` with a client of the server's router, as `lenet5 serve` builds it; stops a
    /// training the body leaves running, as the server does when it shuts down.
    private func withClient<Value>(_ body: (RouterClient) async throws -> Value) async throws -> Value {
        let runs = folder.url("runs")
        let models = ModelStore(runs: runs, checkpoint: nil)
        let training = TrainingManager(runs: runs, dataDirectory: IDXDataset.bundledMNIST, threads: 2) { models.refresh() }
        let router = buildRouter(models: models, training: training, detector: try DigitDetector.pretrained())
        do {
            let value = try await body(RouterClient(router))
            await training.stopAndWait()
            return value
        } catch {
            await training.stopAndWait()
            throw error
        }
    }

    /// MNIST test image `index`, three times larger, dark ink on white, as PNG bytes.
    private static func picture(_ index: Int) throws -> (png: Data, label: Int) {
        let test = try IDXDataset(directory: IDXDataset.bundledMNIST).test
        var pixels = [UInt8](repeating: 255, count: 84 * 84)
        for y in 0..<84 { for x in 0..<84 { pixels[y * 84 + x] = 255 - test.pixels[index * 784 + (y / 3) * 28 + x / 3] } }
        return (try GrayImage(width: 84, height: 84, pixels: pixels).pngData(), Int(test.labels[index]))
    }

    /// The events of a Server-Sent Events text: each one's name (nil for unnamed) and JSON data.
    private static func serverSentEvents(_ text: String) throws -> [(name: String?, data: [String: Any])] {
        try text.components(separatedBy: "\n\n").filter { !$0.isEmpty && !$0.hasPrefix(":") }.map { block in
            let lines = block.split(separator: "\n")
            let name = lines.first { $0.hasPrefix("event: ") }.map { String($0.dropFirst(7)) }
            let data = try XCTUnwrap(lines.first { $0.hasPrefix("data: ") }, block).dropFirst(6)
            return (name, try XCTUnwrap(JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any], block))
        }
    }

    private static func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any], String(buffer: buffer))
    }

    /// `POST /api/predict`'s answer, written byte by byte, is what JSONEncoder writes: the same
    /// bytes for odd class names (quotes, backslashes, control characters, slashes, non-ASCII),
    /// probabilities across Float's range, with and without a digit probability.
    func testThePredictAnswerIsWrittenAsJSONEncoderWritesIt() {
        var random = TestRandom(seed: 11)
        let names = [ClassNames.digits, ["a\"b", "back\\slash", "new\nline", "tab\t", "\u{1}\u{1f}\u{7f}", "é/ü", "\u{2028}", "", " x ", "9"]]
        let specials: [Float] = [0, 1, 0.5, 1e-45, 1e-38, 3.4e38, -0.0, 16_777_216, 0.1, 1e-5]
        for trial in 0..<200 {
            let side = [28, 1, 5][trial % 3]
            let image = GrayImage(width: side, height: side + trial % 2, pixels: (0..<side * (side + trial % 2)).map { _ in UInt8(random.generator.next() % 256) })
            let probabilities = (0..<10).map { k in trial % 4 == 0 ? specials[k] : Float(random.generator.next() % 1_000_000) / 1e6 * pow(10, -Float(random.generator.next() % 30)) }
            let answer = PredictionResponse(
                model: trial % 2 == 0 ? "bundled" : "runs/x/best", classNames: names[trial % 2], probabilities: probabilities,
                ranked: (0..<10).shuffled(using: &random.generator), input: .init(image),
                digitProbability: trial % 3 == 0 ? nil : probabilities[trial % 10], activations: nil)
            XCTAssertEqual(String(decoding: answer.json, as: UTF8.self), String(decoding: encodeJSON(answer), as: UTF8.self), "trial \(trial)")
        }
    }

    func testPageAndAssetsAreServedByTheBinary() async throws {
        try await withClient { client in
            try await client.execute(uri: "/", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertEqual(response.headers[.contentType], "text/html; charset=utf-8")
                let html = String(buffer: response.body)
                for text in ["<canvas id=\"sketch\"", "/app.js", "/style.css", "id=\"train-form\""] { XCTAssertTrue(html.contains(text), text) }
                XCTAssertFalse(html.contains("http://") || html.contains("https://"), "nothing is fetched from elsewhere")
            }
            try await client.execute(uri: "/app.js", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                XCTAssertTrue(String(buffer: response.body).contains("pointerdown"))
            }
            try await client.execute(uri: "/style.css", method: .get) { response in
                XCTAssertTrue(String(buffer: response.body).contains("touch-action: none"))
            }
            for uri in ["/", "/api/models"] {
                try await client.execute(uri: uri, method: .head) { response in
                    XCTAssertEqual(response.status, .ok, "HEAD \(uri)")
                    XCTAssertEqual(response.body.readableBytes, 0, "HEAD \(uri) has no body")
                }
            }
            try await client.execute(uri: "/nothing", method: .get) { response in
                XCTAssertEqual(response.status, .notFound)
                XCTAssertNotNil(try Self.json(response.body)["error"])
            }
        }
    }

    /// A body the HTTP parser cannot read (a malformed chunk) is the client's error: 400, not 500.
    func testAMalformedBodyIsABadRequest() async throws {
        let context = BasicRequestContext(source: ApplicationRequestContextSource(channel: EmbeddedChannel(), logger: Logger(label: "test")))
        let request = Request(head: HTTPRequest(method: .post, scheme: "http", authority: "localhost", path: "/api/predict"), body: RequestBody(buffer: ByteBuffer()))
        let response = try await JSONErrorMiddleware<BasicRequestContext>().handle(request, context: context) { _, _ in
            throw HTTPParserError.invalidChunkSize
        }
        XCTAssertEqual(response.status, .badRequest)
    }

    /// A --checkpoint deleted or broken gives way to the next model instead of failing every
    /// prediction that names none; asked for by name, it is a 404 saying why.
    func testADeletedOrBrokenCheckpointGivesWayToTheNextModel() throws {
        let checkpoint = folder.url("model.safetensors")
        try Checkpoint(model: Model.random(seed: 3)).write(to: checkpoint)
        let store = ModelStore(runs: folder.url("runs"), checkpoint: checkpoint)
        XCTAssertEqual(try store.model(id: nil).id, "checkpoint")
        try FileManager.default.removeItem(at: checkpoint)
        XCTAssertEqual(try store.model(id: nil).id, "bundled")
        let broken = folder.url("broken.safetensors")
        try Data("not a checkpoint".utf8).write(to: broken)
        let other = ModelStore(runs: folder.url("runs"), checkpoint: broken)
        XCTAssertEqual(try other.model(id: nil).id, "bundled")
        XCTAssertThrowsError(try other.model(id: "checkpoint")) { error in
            XCTAssertEqual((error as? APIError)?.status, .notFound)
            XCTAssertTrue((error as? APIError)?.message.contains("cannot be loaded") == true, "\(error)")
        }
        // The list says which model is unavailable and why, and which answers instead.
        let listed = other.list()
        XCTAssertEqual(listed.map(\.id), ["checkpoint", "bundled"])
        XCTAssertEqual(listed.map(\.available), [false, true])
        XCTAssertEqual(listed.map(\.isDefault), [false, true])
        XCTAssertTrue(listed[0].problem?.hasPrefix("header length") == true, "\(listed[0])")
        XCTAssertFalse(listed[0].problem?.contains(folder.path) ?? true, "no server path")
    }

    func testPredictClassifiesPicturesAndServesTheLibrarysActivations() async throws {
        let (png, label) = try Self.picture(0)
        let bundled = try Checkpoint(contentsOf: XCTUnwrap(ModelStore.bundledCheckpoint))
        let expected = try Classifier(checkpoint: bundled).classify(imageData: png, name: "x", activations: true)
        try await withClient { client in
            try await client.execute(uri: "/api/models", method: .get) { response in
                let models = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [[String: Any]])
                XCTAssertEqual(models.map { $0["id"] as? String }, ["bundled"])
            }
            try await client.execute(
                uri: "/api/predict?activations=1", method: .post, headers: [.contentType: "image/png"], body: ByteBuffer(bytes: png)
            ) { response in
                XCTAssertEqual(response.status, .ok)
                let answer = try JSONDecoder().decode(PredictionResponse.self, from: Data(buffer: response.body))
                XCTAssertEqual(answer.ranked.first, label)
                XCTAssertEqual(answer.probabilities, expected.probabilities)
                XCTAssertEqual(answer.input.pixels, expected.input.pixels)
                XCTAssertEqual(answer.activations, expected.activations, "the served activations are the library's forward pass")
                XCTAssertEqual(answer.activations?.map(\.stage), ["input", "C1", "S2", "C3", "S4", "C5", "F6", "F7", "output"])
            }
            // The prepared 28x28 pixels, as JSON.
            let pixels = "{\"pixels\": [" + expected.input.pixels.map(String.init).joined(separator: ",") + "]}"
            try await client.execute(
                uri: "/api/predict?model=bundled", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: pixels)
            ) { response in
                let answer = try JSONDecoder().decode(PredictionResponse.self, from: Data(buffer: response.body))
                XCTAssertEqual(answer.probabilities, expected.probabilities)
                XCTAssertNil(answer.activations)
            }
            // The picture itself, as the page sends its pad: pixels and their size, prepared as
            // the PNG was, to the same answer.
            let picture = try GrayImage(decoding: png, name: "x")
            let drawn = "{\"width\": 84, \"height\": 84, \"pixels\": [" + picture.pixels.map(String.init).joined(separator: ",") + "]}"
            try await client.execute(
                uri: "/api/predict", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: drawn)
            ) { response in
                let answer = try JSONDecoder().decode(PredictionResponse.self, from: Data(buffer: response.body))
                XCTAssertEqual(answer.probabilities, expected.probabilities)
                XCTAssertEqual(answer.input.pixels, expected.input.pixels)
            }
            // The backward pass the page draws: the library's, for the same prepared image.
            try await client.execute(
                uri: "/api/gradients?target=1", method: .post, headers: [.contentType: "image/png"], body: ByteBuffer(bytes: png)
            ) { response in
                XCTAssertEqual(response.status, .ok)
                let answer = try JSONDecoder().decode(GradientResponse.self, from: Data(buffer: response.body))
                XCTAssertEqual(answer.input.pixels, expected.input.pixels)
                XCTAssertEqual(answer.backward, Classifier(checkpoint: bundled).backpropagate(prepared: expected.input, target: 1))
            }
            try await client.execute(uri: "/api/filters?model=bundled", method: .get) { response in
                let filters = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [[String: Any]])
                XCTAssertEqual(filters.map { $0["stage"] as? String }, ["C1", "C3"])
                XCTAssertEqual((filters[1]["weights"] as? [Any])?.count, 16 * 6 * 25)
            }
        }
    }

    func testBadRequestsGetTheirOwnStatusAndNoPath() async throws {
        let (png, _) = try Self.picture(1)
        let blank = try GrayImage(width: 40, height: 40, pixels: [UInt8](repeating: 255, count: 1600)).pngData()
        let cases: [(String, HTTPRequest.Method, HTTPFields, ByteBuffer, HTTPResponse.Status, String)] = [
            ("/api/predict", .post, [.contentType: "image/png"], ByteBuffer(string: "not an image"), .unsupportedMediaType, "not a PNG"),
            ("/api/predict", .post, [.contentType: "image/png"], ByteBuffer(bytes: png.prefix(png.count / 2)), .badRequest, "cannot be decoded"),
            ("/api/predict", .post, [.contentType: "image/png"], ByteBuffer(bytes: blank), .unprocessableContent, "blank"),
            ("/api/predict", .post, [:], ByteBuffer(repeating: 0x89, count: (1 << 20) + 1), .contentTooLarge, "1 MB"),
            ("/api/predict", .post, [.contentType: "application/json"], ByteBuffer(string: "{\"pixels\": [1, 2]}"), .badRequest, "784 pixel values"),
            ("/api/predict", .post, [.contentType: "application/json"], ByteBuffer(string: "[[["), .badRequest, "pixels"),
            ("/api/predict", .post, [.contentType: "application/json"], ByteBuffer(string: "{\"pixels\": [" + Array(repeating: "0", count: 784).joined(separator: ",") + "]}"),
             .unprocessableContent, "blank"),
            ("/api/predict", .post, [.contentType: "application/json"], ByteBuffer(string: "{\"width\": 2, \"height\": 2, \"pixels\": [1, 2]}"),
             .badRequest, "expected 4 pixel values"),
            ("/api/predict", .post, [.contentType: "application/json"], ByteBuffer(string: "{\"width\": 2, \"pixels\": [1, 2]}"),
             .badRequest, "width and height go together"),
            ("/api/predict", .post, [.contentType: "application/json"],
             ByteBuffer(string: "{\"width\": 9223372036854775807, \"height\": 9223372036854775807, \"pixels\": [1]}"), .badRequest,
             "width and height must be from 1 to 1024"),
            ("/api/predict", .post, [.contentType: "application/json"],
             ByteBuffer(string: "{\"width\": 3, \"height\": 1, \"pixels\": [255, 255, 255]}"), .unprocessableContent, "blank"),
            ("/api/predict?model=runs/none", .post, [.contentType: "image/png"], ByteBuffer(bytes: png), .notFound, "no model 'runs/none'"),
            ("/api/predict", .get, [:], ByteBuffer(), .methodNotAllowed, "use POST"),
            ("/api/models", .delete, [:], ByteBuffer(), .methodNotAllowed, "use GET"),
            ("/api/train", .post, [.contentType: "application/json"], ByteBuffer(string: "{\"epochs\": 0}"), .badRequest, "between 1 and 10000"),
            ("/api/train", .post, [.contentType: "application/json"], ByteBuffer(string: "{\"batchSize\": \"big\"}"), .badRequest, "batchSize"),
            ("/api/train", .post, [.contentType: "application/json"], ByteBuffer(string: "{\"schedule\": \"fast\"}"), .badRequest, "schedule"),
            ("/api/train", .post, [.contentType: "application/json"], ByteBuffer(string: "{\"epoch\": 1, \"learning_rate\": 0.001}"), .badRequest,
             "'epoch' is not a training option; the options are preset, epochs, batchSize"),
            ("/api/train", .post, [.contentType: "application/json"], ByteBuffer(string: "{\"seed\": -1}"), .badRequest,
             "'seed' cannot be -1: expected a whole number from 0"),
            ("/api/train", .post, [.contentType: "application/json"], ByteBuffer(string: "{\"batchSize\": 1.5}"), .badRequest,
             "'batchSize' cannot be 1.5: expected a whole number"),
            ("/api/train", .post, [.contentType: "application/json"], ByteBuffer(string: "{\"learningRate\": 1e39}"), .badRequest,
             "'learningRate' cannot be 1e+39: expected a number a 32-bit float holds"),
            ("/api/train/pause", .post, [:], ByteBuffer(), .conflict, "no training is running"),
            ("/api/train/stop", .post, [:], ByteBuffer(), .conflict, "no training is running"),
        ]
        let root = folder.path
        try await withClient { client in
            for (uri, method, headers, body, status, text) in cases {
                try await client.execute(uri: uri, method: method, headers: headers, body: body) { response in
                    XCTAssertEqual(response.status, status, "\(method) \(uri)")
                    let answer = String(buffer: response.body)
                    XCTAssertTrue(answer.contains(text), "\(method) \(uri): \(answer)")
                    XCTAssertFalse(answer.contains(root) || answer.contains("/tmp") || answer.contains(".swift"), answer)
                    XCTAssertEqual(response.headers[.contentType], "application/json; charset=utf-8")
                    if status == .methodNotAllowed { XCTAssertNotNil(response.headers[.allow]) }
                }
            }
            try await client.execute(
                uri: "/api/train", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: "{\"epochs\": 0}")
            ) { response in
                XCTAssertEqual(try Self.json(response.body)["field"] as? String, "epochs")
            }
        }
    }

    /// Another web site cannot drive the server: a POST from a foreign origin, a text/plain or
    /// form body, and a Host the server does not answer to (DNS rebinding) are refused before
    /// any route runs; the page's own requests pass, JSON of any letter case included.
    func testOtherSitesAreShutOut() async throws {
        let options = ByteBuffer(string: "{\"epochs\": 1, \"trainingImages\": 200, \"validationSize\": 100}")
        try await withClient { client in
            let refused: [(String, HTTPFields, String, HTTPResponse.Status, String)] = [
                ("/api/train", [.contentType: "application/json", .origin: "https://attacker.example"], "localhost:8080", .forbidden, "another site"),
                ("/api/train/stop", [.origin: "http://localhost:9999"], "localhost:8080", .forbidden, "another site"),
                ("/api/train", [.contentType: "text/plain"], "localhost:8080", .unsupportedMediaType, "send JSON"),
                ("/api/train", [.contentType: "application/x-www-form-urlencoded"], "localhost:8080", .unsupportedMediaType, "send JSON"),
                ("/api/train", [.contentType: "multipart/form-data; boundary=x"], "localhost:8080", .unsupportedMediaType, "send JSON"),
                ("/api/train", [.contentType: "application/json"], "attacker.example:8080", .misdirectedRequest, "does not answer to the host"),
                ("/api/models", [:], "attacker.example", .misdirectedRequest, "does not answer to the host"),
            ]
            for (uri, headers, authority, status, text) in refused {
                let method: HTTPRequest.Method = uri == "/api/models" ? .get : .post
                try await client.execute(uri: uri, method: method, headers: headers, body: options, authority: authority) { response in
                    XCTAssertEqual(response.status, status, "\(headers) \(authority)")
                    XCTAssertTrue(String(buffer: response.body).contains(text), String(buffer: response.body))
                }
            }
            try await client.execute(uri: "/api/train", method: .get) { response in
                XCTAssertEqual(try Self.json(response.body)["state"] as? String, "idle", "nothing refused above started a run")
            }
            // The page's own requests: its origin, JSON in any letter case, the addresses it is served on.
            let (png, _) = try Self.picture(2)
            let pixels = try Classifier.pretrained().classify(imageData: png, name: "x").input.pixels
            let body = ByteBuffer(string: "{\"pixels\": [" + pixels.map(String.init).joined(separator: ",") + "]}")
            for (type, authority) in [("Application/JSON; charset=UTF-8", "127.0.0.1:8080"), ("application/json", "[::1]:8080")] {
                try await client.execute(
                    uri: "/api/predict", method: .post, headers: [.contentType: type, .origin: "http://\(authority)"], body: body, authority: authority
                ) { response in
                    XCTAssertEqual(response.status, .ok, "\(type) \(authority): \(String(buffer: response.body))")
                }
            }
        }
    }

    /// A run that fails on the file system says why without saying where the server keeps its
    /// files: paths are relative to the runs folder.
    func testAFailedRunNamesNoServerPath() async throws {
        try Data("a file where the runs folder should be".utf8).write(to: folder.url("runs"))
        try await withClient { client in
            try await client.execute(
                uri: "/api/train", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: "{\"epochs\": 1}")
            ) { response in
                XCTAssertEqual(response.status, .accepted, String(buffer: response.body))
            }
            var status: [String: Any] = [:]
            for _ in 0..<200 {
                status = try await client.execute(uri: "/api/train", method: .get) { try Self.json($0.body) }
                // The state turns at once; the failed event a moment later, when the server records it.
                if (status["events"] as? [[String: Any]])?.contains(where: { $0["type"] as? String == "failed" }) == true { break }
                try await Task.sleep(for: .milliseconds(25))
            }
            XCTAssertEqual(status["state"] as? String, "failed")
            let text = String(decoding: try JSONSerialization.data(withJSONObject: status), as: UTF8.self)
            XCTAssertTrue(text.contains("the runs folder"), text)
            XCTAssertFalse(text.contains(folder.path), text)
        }
    }

    /// A run started through the API trains in a folder under --runs with the same files as
    /// `lenet5 train`, refuses a second start while it runs, streams its events, and its best
    /// checkpoint becomes a model.
    func testTrainingThroughTheAPI() async throws {
        let runs = folder.url("runs")
        try await withClient { client in
            let options = "{\"epochs\": 1, \"trainingImages\": 2000, \"validationSize\": 500, \"batchSize\": 50}"
            let run = try await client.execute(
                uri: "/api/train", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: options)
            ) { response in
                XCTAssertEqual(response.status, .accepted, String(buffer: response.body))
                return try XCTUnwrap(try Self.json(response.body)["run"] as? String)
            }
            try await client.execute(
                uri: "/api/train", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: options)
            ) { response in
                XCTAssertEqual(response.status, .conflict)
            }
            try await client.execute(uri: "/api/train/events?until=end", method: .get) { response in
                XCTAssertEqual(response.headers[.contentType], "text/event-stream")
                let text = String(buffer: response.body)
                XCTAssertFalse(text.contains(runs.path), "events name runs, not where they live")
                let events = try Self.serverSentEvents(text)
                XCTAssertEqual(events.first?.name, "state", "a page learns the state first")
                XCTAssertEqual(events.first?.data["run"] as? String, run)
                let types = events.filter { $0.name == nil }.map { $0.data["type"] as? String }
                XCTAssertEqual(types.first, "started")
                XCTAssertEqual(types.filter { $0 == "started" }.count, 1, "started once")
                XCTAssertTrue(types.contains("batch") && types.contains("epoch"), "\(types)")
                XCTAssertEqual(types.last, "finished")
                XCTAssertEqual(events.last { $0.name == "state" }?.data["state"] as? String, "finished")
                XCTAssertTrue(text.hasSuffix("event: end\ndata: {}\n\n"))
            }
            try await client.execute(uri: "/api/train", method: .get) { response in
                let status = try Self.json(response.body)
                XCTAssertEqual(status["state"] as? String, "finished")
                XCTAssertEqual(status["run"] as? String, run)
            }
            let files = try FileManager.default.contentsOfDirectory(atPath: runs.appendingPathComponent(run).path).sorted()
            XCTAssertEqual(files, [".lock",
                "best.safetensors", "confusion-matrix.png", "confusion-matrix.svg", "epoch-01.safetensors", "metrics.csv",
                "misclassified.png", "resume.safetensors", "training-curves.png", "training-curves.svg",
            ])
            // The new model is listed once the server has seen the run's best checkpoint: its
            // own record of the events, a moment after this stream's (or the list's rescan).
            func models() async throws -> [String?] {
                try await client.execute(uri: "/api/models", method: .get) { response in
                    try XCTUnwrap(JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [[String: Any]]).map { $0["id"] as? String }
                }
            }
            for _ in 0..<100 {
                if try await models().count >= 2 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let listed = try await models()
            XCTAssertEqual(listed, ["bundled", "runs/\(run)"], "a finished run does not become every visitor's default")
        }
    }

    /// "Correct it": a digit the bundled model misreads, taught to a private copy, which then
    /// answers as a model and is saved as a run; the bundled model is untouched.
    func testACorrectedCopyReadsTheDrawingAndIsSavedAsARun() async throws {
        let drawing = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/images/unusual/1-continental.png")
        let png = try Data(contentsOf: drawing)
        try await withClient { client in
            func answer(_ model: String) async throws -> Int? {
                try await client.execute(uri: "/api/predict?model=\(model)", method: .post, headers: [.contentType: "image/png"], body: ByteBuffer(data: png)) {
                    try JSONDecoder().decode(PredictionResponse.self, from: Data(buffer: $0.body)).ranked.first
                }
            }
            let misread = try await answer("bundled")
            XCTAssertNotEqual(misread, 1)
            let copy = try await client.execute(
                uri: "/api/correct?model=bundled&label=1", method: .post, headers: [.contentType: "image/png"], body: ByteBuffer(data: png)
            ) { response in
                XCTAssertEqual(response.status, .ok, String(buffer: response.body))
                let result = try Self.json(response.body)
                XCTAssertEqual(result["readsRight"] as? Bool, true)
                XCTAssertLessThanOrEqual(abs((result["testAccuracy"] as? Double ?? 0) - (result["testAccuracyBefore"] as? Double ?? 0)), 0.1)
                return try XCTUnwrap(result["copy"] as? String)
            }
            let corrected = try await answer(copy)
            XCTAssertEqual(corrected, 1)
            let unchanged = try await answer("bundled")
            XCTAssertEqual(unchanged, misread, "the bundled model is untouched")
            let saved = try await client.execute(uri: "/api/correct/save?copy=\(copy)", method: .post) { response in
                XCTAssertEqual(response.status, .created)
                return try XCTUnwrap(try Self.json(response.body)["model"] as? String)
            }
            let listed = try await client.execute(uri: "/api/models", method: .get) { response in
                try XCTUnwrap(JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [[String: Any]]).compactMap { $0["id"] as? String }
            }
            XCTAssertTrue(listed.contains(saved), "\(listed)")
            let fromDisk = try await answer(saved)
            XCTAssertEqual(fromDisk, 1)
        }
    }

    /// A page attached before a run starts sees it start; one that attaches after it ended (a
    /// reload) gets the same history: the start once, every epoch, the sampled losses (thinned
    /// past the limit, the last kept), the end, and the state.
    func testPagesAttachedEarlyOrLateSeeTheWholeRun() async throws {
        let training = TrainingManager(runs: folder.url("runs"), dataDirectory: IDXDataset.bundledMNIST, threads: 2, batchesKept: 4)
        let (before, early) = await training.attach()
        XCTAssertEqual(before.state, "idle")
        XCTAssertTrue(before.events.isEmpty)
        let options = try JSONDecoder().decode(TrainingOptions.self, from: Data(#"{"epochs": 6, "trainingImages": 600, "batchSize": 50}"#.utf8))
        let run = try await training.start(options)
        var events: [TrainingEvent] = []
        var states: [String] = []
        for await update in early {
            switch update {
            case .event(let event): events.append(event)
            case .state(let state):
                states.append(state.state)
                XCTAssertEqual(state.run, run)
            }
            if events.last?.isFinal == true { break }
        }
        XCTAssertEqual(states, ["running", "finished"])
        let late = await training.attach().status
        XCTAssertEqual(late.state, "finished")
        XCTAssertEqual(late.run, run)
        func kind(_ event: TrainingEvent) -> String { String(String(describing: event).prefix { $0 != "(" }) }
        let kinds = late.events.map(kind)
        XCTAssertEqual(kinds.filter { $0 == "started" }.count, 1)
        XCTAssertEqual(kinds.filter { $0 == "epoch" }.count, 6)
        XCTAssertEqual(kinds.last, "finished")
        let batches = late.events.compactMap { if case .batch(let progress) = $0 { progress } else { nil } }
        XCTAssertTrue((2...4).contains(batches.count), "thinned to the limit: \(batches.count)")
        XCTAssertEqual(batches.last.map { [$0.epoch, $0.batch] }, [6, 12], "the last batch is kept")
        XCTAssertEqual(events.filter { kind($0) != "batch" }, late.events.filter { kind($0) != "batch" }, "the early page saw the history")
    }

    /// Pause, resume and stop reach a running training from the API; the sample grid's images
    /// are the test set's first.
    /// The training form's recipes: each preset with every option filled in, which, decoded as
    /// a form's options, is that preset's configuration exactly; and the images each trains on.
    func testPresetsAreTheRecipesTheyName() async throws {
        try await withClient { client in
            try await client.execute(uri: "/api/train/presets", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                let recipes = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [[String: Any]] ?? []
                XCTAssertEqual(recipes.compactMap { $0["name"] as? String }, ["fast", "quick", "original", "best"])
                for recipe in recipes {
                    let options = try XCTUnwrap(recipe["options"] as? [String: Any])
                    let decoded = try APIRequest.trainingOptions(JSONSerialization.data(withJSONObject: options))
                    var preset = TrainingOptions()
                    preset.preset = decoded.preset
                    XCTAssertEqual(try decoded.configuration(threads: 2), try preset.configuration(threads: 2), "\(recipe)")
                    XCTAssertEqual(recipe["trainingImages"] as? Int, options["validationSize"] as? Int == 0 ? 60_000 : 55_000)
                }
                let fast = try XCTUnwrap(recipes.first?["options"] as? [String: Any])
                XCTAssertEqual(fast["schedule"] as? String, "one-cycle")
                XCTAssertEqual(fast["epochs"] as? Int, 8)
                XCTAssertEqual(recipes[2]["options"].flatMap { ($0 as? [String: Any])?["schedule"] as? String }, "original")
            }
        }
    }

    func testPauseResumeStopAndTheTestSample() async throws {
        try await withClient { client in
            func state() async throws -> String {
                try await client.execute(uri: "/api/train", method: .get) { try Self.json($0.body)["state"] as? String ?? "" }
            }
            func wait(for wanted: String) async throws {
                for _ in 0..<200 {
                    if try await state() == wanted { break }
                    try await Task.sleep(for: .milliseconds(25))
                }
                let now = try await state()
                XCTAssertEqual(now, wanted)
            }
            let options = "{\"epochs\": 20, \"trainingImages\": 3000, \"batchSize\": 10}"
            try await client.execute(
                uri: "/api/train", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: options)
            ) { response in
                XCTAssertEqual(response.status, .accepted)
            }
            // Each action answers with the state it reached, as the events will tell it.
            for (action, reached) in [("pause", "paused"), ("resume", "running"), ("pause", "paused"), ("resume", "running")] {
                try await client.execute(uri: "/api/train/\(action)", method: .post) { response in
                    XCTAssertEqual(response.status, .ok)
                    XCTAssertEqual(try Self.json(response.body)["state"] as? String, reached, action)
                }
                try await wait(for: reached)
            }
            try await client.execute(uri: "/api/train/stop", method: .post) { response in
                let state = try Self.json(response.body)
                XCTAssertEqual(state["state"] as? String, "stopped")
                let run = try XCTUnwrap(state["run"] as? String)
                XCTAssertEqual(state["resumeCommand"] as? String, "swift run -c release lenet5 train --resume runs/\(run)/resume.safetensors")
            }
            try await wait(for: "stopped")
            try await client.execute(uri: "/api/train", method: .get) { response in
                let events = try XCTUnwrap(Self.json(response.body)["events"] as? [[String: Any]])
                XCTAssertEqual(events.compactMap { $0["type"] as? String }.filter { $0 != "batch" && $0 != "epoch" && $0 != "checkpoint" },
                               ["started", "paused", "resumed", "paused", "resumed", "stopped"])
            }
            try await client.execute(uri: "/api/test-sample", method: .get) { response in
                let sample = try Self.json(response.body)
                let test = try IDXDataset(directory: IDXDataset.bundledMNIST).test
                XCTAssertEqual(sample["labels"] as? [Int], test.labels.prefix(40).map(Int.init))
                XCTAssertEqual((sample["images"] as? [[Int]])?.first, test.pixels.prefix(784).map(Int.init))
            }
        }
    }
}
