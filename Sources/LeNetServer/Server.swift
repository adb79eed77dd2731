import Datasets
import Foundation
import Hummingbird
import LeNet
import NIOHTTP1
import ServiceLifecycle

/// Where and with what the server runs.
public struct ServerSettings: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Host names besides `localhost`, `127.0.0.1`, `[::1]` and `host` that requests may name
    /// (a name this machine is reached by); any other is refused, against DNS rebinding.
    public var allowedHosts: [String] = []
    /// Folder of training runs: browsed for models, and where the page's runs go.
    public var runs = URL(fileURLWithPath: "runs")
    /// A checkpoint to offer first, if any.
    public var checkpoint: URL?
    /// The digit detector's checkpoint (`lenet5 detector`); nil for the bundled one.
    public var detector: URL?
    /// The four IDX files training uses.
    public var data: URL
    public var threads = ProcessInfo.processInfo.activeProcessorCount

    public init(data: URL) {
        self.data = data
    }
}

/// An error as the API answers it: a status and `{"error": message, "field": name}`.
public struct APIError: Error, Equatable, Sendable {
    public let status: HTTPResponse.Status
    public let message: String
    /// The training option a 400 is about, for the page to show beside it.
    public var field: String?

    public init(status: HTTPResponse.Status, message: String, field: String? = nil) {
        self.status = status
        self.message = message
        self.field = field
    }

    var response: Response {
        var body: [String: String] = ["error": message]
        if let field { body["field"] = field }
        return jsonResponse(body, status: status)
    }
}

/// The application: routes on top of the library, nothing else.
/// - Parameters:
///   - settings: where and with what it serves.
///   - onServerRunning: called once the server listens.
/// - Throws: when the digit detector cannot be read.
public func buildApplication(
    _ settings: ServerSettings, onServerRunning: @escaping @Sendable () async -> Void = {}
) throws(CheckpointError) -> some ApplicationProtocol {
    let detector = if let url = settings.detector { DigitDetector(checkpoint: try Checkpoint(contentsOf: url)) } else { try DigitDetector.pretrained() }
    let models = ModelStore(runs: settings.runs, checkpoint: settings.checkpoint)
    let training = TrainingManager(
        runs: settings.runs, dataDirectory: settings.data, threads: settings.threads, shownRuns: settings.runs.relativePath,
        shownData: settings.data == IDXDataset.bundledMNIST ? nil : settings.data.relativePath
    ) { models.refresh() }
    return Application(
        router: buildRouter(models: models, training: training, detector: detector, hosts: [settings.host] + settings.allowedHosts),
        // A connection with no request for 30 s is closed: idle sockets do not pile up.
        server: .http1(configuration: .init(idleTimeout: .seconds(30))),
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "swift-lenet"),
        services: [TrainingShutdown(training: training)],
        onServerRunning: { _ in await onServerRunning() })
}

/// On shutdown (Ctrl-C, SIGTERM), stops a running training after its current batch, so its
/// resume.safetensors holds everything up to there, as `lenet5 train` does on Ctrl-C.
struct TrainingShutdown: Service {
    let training: TrainingManager

    func run() async throws {
        try? await gracefulShutdown()
        await training.stopAndWait()
    }
}

/// `value` as the API's JSON: sorted keys, slashes as they are, a non-finite number as a string.
func encodeJSON(_ value: some Encodable) -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    // Encoding the API's own Codable values cannot fail.
    return (try? encoder.encode(value)) ?? Data("{}".utf8)
}

/// Encodes `value` as a JSON response.
func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
    jsonResponse(data: encodeJSON(value), status: status)
}

/// A JSON response of bytes already encoded.
func jsonResponse(data: Data, status: HTTPResponse.Status = .ok) -> Response {
    Response(
        status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
        body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// Turns every error into the API's JSON form; nothing else (a stack trace, a path) reaches
/// the client.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response
        } catch let error as HTTPError {
            let message = error.status == .contentTooLarge ? "the body is larger than the 1 MB limit" : error.body ?? error.status.reasonPhrase
            return APIError(status: error.status, message: message).response
        } catch is HTTPParserError {
            // A body the HTTP parser cannot read (a malformed chunk): the client's error.
            return APIError(status: .badRequest, message: "the request's body is malformed").response
        } catch let error as any HTTPResponseError {
            let message = error.status == .contentTooLarge ? "the body is larger than the 1 MB limit" : error.status.reasonPhrase
            return APIError(status: error.status, message: message).response
        } catch {
            return APIError(status: .internalServerError, message: "internal error").response
        }
    }
}
