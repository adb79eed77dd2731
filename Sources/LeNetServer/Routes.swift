import Datasets
import Foundation
import Hummingbird
import Imaging
import LeNet

/// The largest request body accepted: an image to classify, or training options.
let maximumBodyBytes = 1 << 20

/// What `POST /api/predict` answers.
struct PredictionResponse: Codable {
    struct Image: Codable {
        let width: Int
        let height: Int
        let pixels: [UInt8]
    }

    let model: String
    let classNames: [String]
    let probabilities: [Float]
    /// Class indices, most likely first.
    let ranked: [Int]
    /// The image the network saw, white on black.
    let input: Image
    let activations: [Activation]?
}

/// A convolution stage's kernels, for drawing: weights (outputs, inputs, kernel, kernel).
struct StageFilters: Codable {
    let stage: String
    let inputs: Int
    let outputs: Int
    let kernel: Int
    let weights: [Float]
}

/// The first test images, for the page's grid of live guesses.
struct TestSample: Codable {
    let side: Int
    let labels: [Int]
    let classNames: [String]
    /// One row-major image per label.
    let images: [[UInt8]]
}

/// The API's routes: each decodes its input, calls the library and encodes the answer.
func buildRouter(models: ModelStore, training: TrainingManager) -> Router<BasicRequestContext> {
    let router = Router()
    router.add(middleware: JSONErrorMiddleware())
    let assets = Assets()

    var allowed: [String: [HTTPRequest.Method]] = [:]
    func route(_ path: String, _ method: HTTPRequest.Method, _ handler: @escaping @Sendable (Request, BasicRequestContext) async throws -> Response) {
        router.on(RouterPath(path), method: method, use: handler)
        allowed[path, default: []].append(method)
    }

    for (path, asset) in assets.files {
        route(path, .get) { _, _ in asset.response }
    }

    route("/api/models", .get) { _, _ in jsonResponse(models.list()) }

    route("/api/filters", .get) { request, _ in
        let model = request.uri.queryParameters.get("model")
        let classifier = try models.classifier(id: model)
        let filters = LeNet5.stages.compactMap { stage -> StageFilters? in
            guard case .convolution(let k) = stage.kind, stage.name != "C5" else { return nil }
            let weights = (0..<stage.output.channels).flatMap { f in
                (0..<stage.input.channels).flatMap { c in classifier.model.kernel(of: stage, output: f, input: c) }
            }
            return StageFilters(stage: stage.name, inputs: stage.input.channels, outputs: stage.output.channels, kernel: k, weights: weights)
        }
        return jsonResponse(filters)
    }

    route("/api/predict", .post) { request, _ in
        let parameters = request.uri.queryParameters
        let modelID = parameters.get("model")
        let classifier = try models.classifier(id: modelID)
        let activations = ["1", "true", "yes"].contains(parameters.get("activations") ?? "")
        var request = request
        let body = try await request.collectBody(upTo: maximumBodyBytes)
        let classification: Classification
        if request.headers[.contentType]?.hasPrefix("application/json") == true {
            let pixels = try APIRequest.pixels(Data(buffer: body))
            classification = classifier.classify(prepared: pixels, activations: activations)
        } else {
            do {
                classification = try classifier.classify(imageData: Data(buffer: body), name: "the image", activations: activations)
            } catch let error as ImageError {
                throw APIError(image: error)
            }
        }
        let side = classification.input.width
        return jsonResponse(PredictionResponse(
            model: modelID ?? models.files().first?.id ?? "", classNames: classifier.classNames,
            probabilities: classification.probabilities, ranked: classification.ranked,
            input: .init(width: side, height: classification.input.height, pixels: classification.input.pixels),
            activations: classification.activations))
    }

    route("/api/test-sample", .get) { _, _ in
        let test = try await training.data().test
        let count = min(TrainingSession.testSampleSize, test.count)
        let size = test.width * test.height
        return jsonResponse(TestSample(
            side: test.width, labels: test.labels.prefix(count).map(Int.init), classNames: ClassNames.recognized(test: test),
            images: (0..<count).map { Array(test.pixels[$0 * size..<($0 + 1) * size]) }))
    }

    route("/api/train", .get) { _, _ in jsonResponse(await training.status()) }

    route("/api/train", .post) { request, _ in
        var request = request
        let body = try await request.collectBody(upTo: maximumBodyBytes)
        let run = try await training.start(try APIRequest.trainingOptions(Data(buffer: body)))
        return jsonResponse(["run": run], status: .accepted)
    }

    route("/api/train/pause", .post) { _, _ in try await training.pause(); return jsonResponse(await training.status()) }
    route("/api/train/resume", .post) { _, _ in try await training.resume(); return jsonResponse(await training.status()) }
    route("/api/train/stop", .post) { _, _ in try await training.stop(); return jsonResponse(await training.status()) }

    route("/api/train/events", .get) { _, _ in
        let status = await training.status()
        let live = await training.subscribe()
        let body = ResponseBody { writer in
            for event in status.events { try await writer.write(serverSentEvent(event)) }
            if let live {
                // Batches at most ten times a second (and each epoch's last): a page cannot show more.
                var lastBatch = ContinuousClock.now - .seconds(1)
                for await event in live {
                    if case .batch(let progress) = event {
                        guard progress.batch == progress.batches || ContinuousClock.now - lastBatch >= .milliseconds(100) else { continue }
                        lastBatch = .now
                    }
                    try await writer.write(serverSentEvent(event))
                }
            }
            try await writer.write(ByteBuffer(string: "event: end\ndata: {}\n\n"))
            try await writer.finish(nil)
        }
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
    }

    // Every other method on a known path: 405 with the methods that are allowed.
    let methods: [HTTPRequest.Method] = [.get, .post, .put, .delete, .patch, .head, .options]
    for (path, accepted) in allowed {
        let allow = accepted.map(\.rawValue).joined(separator: ", ")
        for method in methods where !accepted.contains(method) && !(method == .head && accepted.contains(.get)) {
            router.on(RouterPath(path), method: method) { _, _ in
                var response = APIError(status: .methodNotAllowed, message: "\(method.rawValue) is not allowed here; use \(allow)").response
                response.headers[.allow] = allow
                return response
            }
        }
    }
    return router
}

extension APIError {
    /// An image that cannot be classified, with the status that fits what is wrong with it.
    init(image error: ImageError) {
        switch error {
        case .notAnImage: self.init(status: .unsupportedMediaType, message: "the body is not a PNG, JPEG or PGM image")
        case .tooLarge(_, let width, let height, let limit):
            self.init(status: .contentTooLarge, message: "the image is \(width)x\(height) pixels, more than the \(limit)-pixel limit")
        case .corrupt(_, let reason): self.init(status: .badRequest, message: "the image cannot be decoded: \(reason)")
        case .blank: self.init(status: .unprocessableContent, message: "the image is blank: draw a digit")
        case .cannotRead: self.init(status: .badRequest, message: "the image cannot be read")
        }
    }
}

/// One Server-Sent Event: `data: <json>` and a blank line.
func serverSentEvent(_ event: TrainingEvent) -> ByteBuffer {
    ByteBuffer(string: "data: " + String(decoding: encodeJSON(event), as: UTF8.self) + "\n\n")
}

/// The page, its script and style sheet, read once from the package's resources.
struct Assets {
    struct File {
        let bytes: ByteBuffer
        let type: String

        var response: Response {
            Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"], body: .init(byteBuffer: bytes))
        }
    }

    let files: [(path: String, file: File)]

    init() {
        let names: [(path: String, resource: String, type: String)] = [
            ("/", "index.html", "text/html; charset=utf-8"),
            ("/app.js", "app.js", "text/javascript; charset=utf-8"),
            ("/style.css", "style.css", "text/css; charset=utf-8"),
        ]
        files = names.map { path, resource, type in
            let file = resource.split(separator: ".").map(String.init)
            let url = Bundle.module.url(forResource: file[0], withExtension: file[1], subdirectory: "Resources")
            let data = url.flatMap { try? Data(contentsOf: $0) } ?? Data("missing \(resource)".utf8)
            return (path, File(bytes: ByteBuffer(bytes: data), type: type))
        }
    }
}
