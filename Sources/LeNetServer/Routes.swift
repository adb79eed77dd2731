import Datasets
import Foundation
import Hummingbird
import Imaging
import LeNet
import ServiceLifecycle
import Training

/// The largest request body accepted: an image to classify, or training options.
let maximumBodyBytes = 1 << 20

/// What `POST /api/predict` answers.
struct PredictionResponse: Codable {
    struct Image: Codable {
        let width: Int
        let height: Int
        let pixels: [UInt8]

        init(_ image: GrayImage) {
            (width, height, pixels) = (image.width, image.height, image.pixels)
        }
    }

    let model: String
    let classNames: [String]
    let probabilities: [Float]
    /// Class indices, most likely first.
    let ranked: [Int]
    /// The image the network saw, white on black.
    let input: Image
    /// How likely that image is a digit at all, by `DigitDetector` (the model answers with a
    /// digit whatever it is given); below `DigitDetector.threshold` the page says it is not sure.
    /// Nil for a model of other classes (Fashion-MNIST's).
    let digitProbability: Float?
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

/// Every stage's parameters and the input's normalisation: what the page needs to show a unit's
/// arithmetic with the real numbers.
struct ModelWeights: Codable {
    struct Normalization: Codable {
        let mean: Float
        let standardDeviation: Float
    }

    struct StageWeights: Codable {
        let stage: String
        /// (outputs, inputs, kernel, kernel) for a convolution, (outputs, inputs) for a linear layer.
        let weightShape: [Int]
        let weights: [Float]
        let biases: [Float]
    }

    let normalization: Normalization
    let stages: [StageWeights]
}

/// The first test images, for the page's grid of live guesses.
struct TestSample: Codable {
    let side: Int
    let labels: [Int]
    let classNames: [String]
    /// One row-major image per label.
    let images: [[UInt8]]
}

/// A preset's recipe as the training form shows it: every option filled in, and how many
/// training images it takes from the server's data.
struct PresetRecipe: Codable {
    let name: TrainingOptions.Preset
    let options: TrainingOptions
    let trainingImages: Int
}

/// The server's routes, a controller for each part of the API; every path answers the methods
/// it does not take with 405 and the ones it does.
/// - Parameter hosts: the host names the server answers to besides `localhost`, `127.0.0.1` and
///   `[::1]` (`SameOriginMiddleware`).
func buildRouter(models: ModelStore, training: TrainingManager, detector: DigitDetector, hosts: [String] = []) -> Router<BasicRequestContext> {
    // HEAD answers as GET does, without the body, as clients expect.
    let router = Router(options: .autoGenerateHeadEndpoints)
    router.add(middleware: JSONErrorMiddleware())
    router.add(middleware: SameOriginMiddleware(hosts: hosts))
    let endpoints = allEndpoints(models: models, training: training, detector: detector)
    router.add(middleware: MethodNotAllowedMiddleware(endpoints))
    for part in endpoints { router.addRoutes(part.routes) }
    return router
}

/// Every controller's routes: what the OpenAPI document describes (its test compares the two).
func allEndpoints(models: ModelStore, training: TrainingManager, detector: DigitDetector) -> [Endpoints] {
    [AssetController().endpoints, ModelController(models: models, detector: detector).endpoints,
     CorrectionController(models: models, training: training).endpoints, TrainingController(training: training).endpoints]
}

/// A controller's routes, and the methods each of its paths answers.
struct Endpoints {
    let routes = RouteCollection(context: BasicRequestContext.self)
    private(set) var methods: [String: [HTTPRequest.Method]] = [:]

    typealias Handler = @Sendable (Request, BasicRequestContext) async throws -> Response

    mutating func on(_ path: String, _ method: HTTPRequest.Method, use handler: @escaping Handler) {
        routes.on(RouterPath(path), method: method, use: handler)
        methods[path, default: []].append(method)
    }
}

/// 405, naming the methods that are allowed, for any other method (a WebDAV verb, QUERY, one
/// made up) on a path the server has; HEAD goes with GET.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    let methods: [String: [HTTPRequest.Method]]

    init(_ parts: [Endpoints]) {
        methods = Dictionary(parts.flatMap(\.methods), uniquingKeysWith: +)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let accepted = methods[request.uri.path],
              !accepted.contains(request.method) && !(request.method == .head && accepted.contains(.get))
        else { return try await next(request, context) }
        let allow = accepted.map(\.rawValue).joined(separator: ", ")
        var response = APIError(status: .methodNotAllowed, message: "\(request.method.rawValue) is not allowed here; use \(allow)").response
        response.headers[.allow] = allow
        return response
    }
}

/// The page, its script, its style sheet and the API's OpenAPI document.
struct AssetController {
    let assets = Assets()

    var endpoints: Endpoints {
        var endpoints = Endpoints()
        for (path, asset) in assets.files {
            endpoints.on(path, .get) { _, _ in asset.response }
        }
        return endpoints
    }
}

/// The models to pick from, their kernels, and classification.
struct ModelController {
    let models: ModelStore
    let detector: DigitDetector

    var endpoints: Endpoints {
        var endpoints = Endpoints()
        endpoints.on("/api/models", .get, use: list)
        endpoints.on("/api/filters", .get, use: filters)
        endpoints.on("/api/weights", .get, use: weights)
        endpoints.on("/api/predict", .post, use: predict)
        endpoints.on("/api/gradients", .post, use: gradients)
        return endpoints
    }

    @Sendable func list(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        jsonResponse(models.list())
    }

    /// The kernels of the convolutions whose outputs are maps, for drawing.
    @Sendable func filters(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let model = try models.model(id: request.uri.queryParameters.get("model")).classifier.model
        return jsonResponse(LeNet5.spatialConvolutions.map { stage in
            StageFilters(
                stage: stage.name, inputs: stage.input.channels, outputs: stage.output.channels,
                kernel: stage.convolution.kernel, weights: model.weight(of: stage))
        })
    }

    /// Every stage's weights and biases, and the normalisation of the input.
    @Sendable func weights(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let model = try models.model(id: request.uri.queryParameters.get("model")).classifier.model
        let stages = LeNet5.stages.compactMap { stage -> ModelWeights.StageWeights? in
            guard let weight = stage.weight, let bias = stage.bias else { return nil }
            return ModelWeights.StageWeights(
                stage: stage.name, weightShape: weight.shape, weights: model.weight(of: stage),
                biases: Array(model.parameters[bias.offset..<bias.offset + bias.count]))
        }
        return jsonResponse(ModelWeights(
            normalization: .init(mean: model.normalization.mean, standardDeviation: model.normalization.standardDeviation), stages: stages))
    }

    /// A picture (PNG, JPEG, PGM) or `{"pixels": [...]}` classified by the chosen model.
    @Sendable func predict(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let parameters = request.uri.queryParameters
        let (modelID, classifier) = try models.model(id: parameters.get("model"))
        let activations = ["1", "true", "yes"].contains(parameters.get("activations") ?? "")
        let classification = try await classify(request, with: classifier, activations: activations)
        let answer = PredictionResponse(
            model: modelID, classNames: classifier.classNames,
            probabilities: classification.probabilities, ranked: classification.ranked,
            input: .init(classification.input),
            digitProbability: classifier.classNames == ClassNames.digits ? detector.digitProbability(classification.input) : nil,
            activations: classification.activations)
        return jsonResponse(data: answer.json)
    }

    /// The backward pass for a picture (as `predict` takes it) against `target` (default: the
    /// model's answer): the gradient of the loss at every stage, the pixels and the kernels.
    @Sendable func gradients(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let parameters = request.uri.queryParameters
        let (modelID, classifier) = try models.model(id: parameters.get("model"))
        var target: Int?
        if let given = parameters.get("target") {
            guard let value = Int(given), (0..<LeNet5.classes).contains(value) else {
                throw APIError(status: .badRequest, message: "target must be a class from 0 to \(LeNet5.classes - 1), got '\(given)'", field: "target")
            }
            target = value
        }
        let classification = try await classify(request, with: classifier, activations: false)
        let backward = classifier.backpropagate(prepared: classification.input, target: target ?? classification.ranked[0])
        return jsonResponse(GradientResponse(model: modelID, classNames: classifier.classNames, input: .init(classification.input), backward: backward))
    }
}

/// The picture or pixels of `request`'s body, classified: an image file (PNG, JPEG, PGM), or JSON
/// pixels, prepared or not (`APIRequest.pixels`).
func classify(_ request: Request, with classifier: Classifier, activations: Bool) async throws -> Classification {
    var request = request
    let body = try await request.collectBody(upTo: maximumBodyBytes)
    let pixels = request.headers[.contentType]?.lowercased().hasPrefix("application/json") == true ? try APIRequest.pixels(Data(buffer: body)) : nil
    do throws(ImageError) {
        switch pixels {
        case nil: return try classifier.classify(imageData: Data(buffer: body), name: "the image", activations: activations)
        case .prepared(let image)?: return classifier.classify(prepared: image, activations: activations)
        case .picture(let image)?: return try classifier.classify(picture: image, name: "the picture", activations: activations)
        }
    } catch {
        throw APIError(image: error)
    }
}

/// What `POST /api/gradients` answers: the prepared image and its backward pass.
struct GradientResponse: Codable {
    let model: String
    let classNames: [String]
    let input: PredictionResponse.Image
    let backward: Backpropagation
}

/// "Correct it": a drawing the model misread, taught to a private copy of it, which can be
/// saved as a run.
struct CorrectionController {
    let models: ModelStore
    let training: TrainingManager

    var endpoints: Endpoints {
        var endpoints = Endpoints()
        endpoints.on("/api/correct", .post, use: correct)
        endpoints.on("/api/correct/save", .post, use: save)
        return endpoints
    }

    /// The drawing of the body (as `predict` takes it) corrected to `label`, in `copy` or in a
    /// new copy of `model`.
    @Sendable func correct(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let parameters = request.uri.queryParameters
        guard let given = parameters.get("label"), let label = Int(given), (0..<LeNet5.classes).contains(label) else {
            throw APIError(status: .badRequest, message: "label must be a class from 0 to \(LeNet5.classes - 1)", field: "label")
        }
        let copy = parameters.get("copy")
        let (base, classifier) = try models.model(id: copy ?? parameters.get("model"))
        guard classifier.classNames == ClassNames.digits else {
            throw APIError(status: .badRequest, message: "only a model of MNIST's digits can be corrected here", field: "model")
        }
        let prepared = try await classify(request, with: classifier, activations: false).input
        let data = try await training.data()
        let corrections = models.corrections
        let result = try await Task.detached { () throws(APIError) -> Corrections.Result in
            try corrections.correct(prepared, as: label, copy: copy, base: base, classifier: classifier, data: data)
        }.value
        return jsonResponse(result)
    }

    /// Writes the copy as a run under --runs (its `best.safetensors`), so it joins the models.
    @Sendable func save(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        guard let id = request.uri.queryParameters.get("copy"), let checkpoint = models.corrections.checkpoint(id) else {
            throw APIError(status: .notFound, message: "no such copy to save", field: "copy")
        }
        // A folder of its own: made without intermediates, so two saves in the same second
        // cannot share one (the second takes the next name).
        var made: (name: String, folder: RunFolder)?
        for _ in 0..<5 {
            let name = await training.newRunName(prefix: "corrected")
            let folder = RunFolder(models.runs.appendingPathComponent(name))
            if (try? FileManager.default.createDirectory(at: models.runs, withIntermediateDirectories: true)) != nil,
               (try? FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: false)) != nil {
                made = (name, folder)
                break
            }
        }
        guard let (name, folder) = made else {
            throw APIError(status: .internalServerError, message: "the runs folder cannot take a new run")
        }
        do {
            try checkpoint.write(to: folder.best)
        } catch {
            throw APIError(status: .internalServerError, message: "the copy cannot be written to the runs folder")
        }
        models.refresh()
        return jsonResponse(["run": name, "model": "runs/" + name], status: .created)
    }
}

/// Training from the page: start, pause, resume, stop, its status and its events as they come,
/// and the test images whose guesses the page shows.
struct TrainingController {
    let training: TrainingManager

    var endpoints: Endpoints {
        var endpoints = Endpoints()
        endpoints.on("/api/test-sample", .get, use: testSample)
        endpoints.on("/api/train", .get) { _, _ in jsonResponse(await training.status()) }
        endpoints.on("/api/train", .post, use: start)
        endpoints.on("/api/train/pause", .post) { _, _ in jsonResponse(try await training.pause()) }
        endpoints.on("/api/train/resume", .post) { _, _ in jsonResponse(try await training.resume()) }
        endpoints.on("/api/train/stop", .post) { _, _ in jsonResponse(try await training.stop()) }
        endpoints.on("/api/train/events", .get, use: events)
        endpoints.on("/api/train/presets", .get, use: presets)
        return endpoints
    }

    @Sendable func presets(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let images = try await training.data().train.count
        let recipes = try TrainingOptions.Preset.allCases.map { preset in
            var options = TrainingOptions()
            options.preset = preset
            let c = try options.configuration(threads: 1)
            return PresetRecipe(
                name: preset, options: TrainingOptions(preset: preset, filledFrom: c),
                trainingImages: c.trainingCount(available: images))
        }
        return jsonResponse(recipes)
    }

    @Sendable func testSample(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let test = try await training.data().test
        let count = min(TrainingSession.testSampleSize, test.count)
        let size = test.width * test.height
        return jsonResponse(TestSample(
            side: test.width, labels: test.labels.prefix(count).map(Int.init), classNames: ClassNames.recognized(test: test),
            images: (0..<count).map { Array(test.pixels[$0 * size..<($0 + 1) * size]) }))
    }

    @Sendable func start(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: maximumBodyBytes)
        let run = try await training.start(try APIRequest.trainingOptions(Data(buffer: body)))
        return jsonResponse(["run": run], status: .accepted)
    }

    /// Server-Sent Events for a page: the state (`event: state`), the current or last run's
    /// history, then every event and change of state as they come (batches at most ten times a
    /// second, and each epoch's last: a page cannot show more), across runs, until the server
    /// shuts down. With `?until=end` the stream ends after the run's final event instead (at
    /// once if none is running): a script's way to follow one run. A comment every second while
    /// nothing else is sent (a paused run) finds a client that has left, so its connection is
    /// closed instead of waiting for events that may never come.
    @Sendable func events(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let untilEnd = request.uri.queryParameters.get("until") == "end"
        let (status, updates) = await training.attach()
        let body = ResponseBody { writer in
            try await writer.write(serverSentEvent(RunState(state: status.state, run: status.run, resumeCommand: status.resumeCommand), name: "state"))
            for event in status.events { try await writer.write(serverSentEvent(event)) }
            if !untilEnd || ["running", "paused"].contains(status.state) {
                // The updates and the heartbeats (nil) in one stream, written by one loop.
                let (merged, continuation) = AsyncStream.makeStream(of: TrainingUpdate?.self)
                let forward = Task {
                    for await update in updates { continuation.yield(update) }
                    continuation.finish()
                }
                let heartbeat = Task {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        continuation.yield(nil)
                    }
                }
                defer {
                    forward.cancel()
                    heartbeat.cancel()
                    continuation.finish()
                }
                stream: for await item in merged.cancelOnGracefulShutdown() {
                    switch item {
                    case nil: try await writer.write(ByteBuffer(string: ": still here\n\n"))
                    case .state(let state)?: try await writer.write(serverSentEvent(state, name: "state"))
                    case .event(let event)?:
                        try await writer.write(serverSentEvent(event))
                        if untilEnd && event.isFinal { break stream }
                    }
                }
            }
            try await writer.write(ByteBuffer(string: "event: end\ndata: {}\n\n"))
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
    }
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

/// One Server-Sent Event: `event: <name>` unless unnamed, `data: <json>` and a blank line.
func serverSentEvent(_ value: some Encodable, name: String? = nil) -> ByteBuffer {
    ByteBuffer(string: (name.map { "event: \($0)\n" } ?? "") + "data: " + String(decoding: encodeJSON(value), as: UTF8.self) + "\n\n")
}

/// The page, its script and style sheet, and the API's OpenAPI document, read once from the
/// package's resources.
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
            ("/api/openapi.json", "openapi.json", "application/json; charset=utf-8"),
        ]
        files = names.map { path, resource, type in
            let file = resource.split(separator: ".").map(String.init)
            let url = Bundle.module.url(forResource: file[0], withExtension: file[1], subdirectory: "Resources")
            let data = url.flatMap { try? Data(contentsOf: $0) } ?? Data("missing \(resource)".utf8)
            return (path, File(bytes: ByteBuffer(bytes: data), type: type))
        }
    }
}
