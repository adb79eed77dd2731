import Datasets
import Foundation
import Hummingbird
import LeNet
import LeNetServer
import Logging
import NIOEmbedded
import Synchronization

/// Bytes as a request to `lenet5 serve`, answered in process by the server's own responder
/// (routes, error middleware, bundled model). The first byte chooses what the rest is:
/// 0 and 1: `POST /api/predict?<query>` with an image body or a JSON pixels body (the second
/// byte is the query's length); 2: the body of `POST /api/train`, decoded and checked as a run's
/// options (not started); 3: `GET <path>`. Every answer must be the API's: never a 500, an error
/// always `{"error": ...}` JSON, a prediction ten probabilities that sum to 1.
let responder: RouterResponder<BasicRequestContext> = blocking {
    let runs = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-request-\(getpid())")
    try? FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
    var settings = ServerSettings(data: IDXDataset.bundledMNIST)
    settings.runs = runs
    settings.threads = 1
    // `lenet5 serve`'s application, whose responder is its router's.
    return try! await buildApplication(settings).responder as! RouterResponder<BasicRequestContext>
}
/// One channel for every request's context (the routes never touch it; a channel per request
/// would leak, as an embedded channel's pipeline lives until it is closed).
let channel = EmbeddedChannel()
let logger = Logger(label: "fuzz")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = [UInt8](UnsafeRawBufferPointer(start: start, count: count))
    guard let mode = bytes.first else { return 0 }
    var rest = bytes.dropFirst()
    switch mode % 4 {
    case 0, 1:
        let queryLength = Int(rest.popFirst() ?? 0) % 64
        let query = String(decoding: rest.prefix(queryLength), as: UTF8.self)
        let body = rest.dropFirst(queryLength)
        let type = mode % 4 == 0 ? "image/png" : "application/json"
        let (status, json) = respond(.post, "/api/predict?" + query, type: type, body: body)
        if status == .ok {
            let probabilities = (json["probabilities"] as? [Double]) ?? []
            precondition(probabilities.count == 10 && abs(probabilities.reduce(0, +) - 1) < 1e-3, "\(json)")
        }
    case 2:
        if let options = try? APIRequest.trainingOptions(Data(rest)) { _ = try? options.configuration(threads: 2) }
    default:
        // Only GET: a POST of valid options would start a training.
        _ = respond(.get, String(decoding: rest, as: UTF8.self), type: nil, body: [])
    }
    return 0
}

/// Sends one request through the router; checks the answer is the API's.
func respond(_ method: HTTPRequest.Method, _ uri: String, type: String?, body: some Collection<UInt8>) -> (HTTPResponse.Status, [String: Any]) {
    var headers = HTTPFields()
    if let type { headers[.contentType] = type }
    let request = Request(
        head: HTTPRequest(method: method, scheme: "http", authority: "localhost", path: uri, headerFields: headers),
        body: .init(buffer: ByteBuffer(bytes: body)))
    let (head, bytes) = blocking {
        let context = BasicRequestContext(source: .init(channel: channel, logger: logger))
        let response = try! await responder.respond(to: request, context: context)
        let collected = Collected()
        // An event stream goes on until the server stops: this client leaves after its first event.
        let leaves = response.headers[.contentType] == "text/event-stream"
        do {
            try await response.body.write(Collector(into: collected, leavesAfterFirstWrite: leaves))
        } catch {
            precondition(leaves, "\(error) writing the body of \(uri)")
        }
        return (response.head, collected.bytes.withLock { $0 })
    }
    let data = Data(bytes)
    precondition(head.status != .internalServerError, "500 for \(method) \(uri): \(String(decoding: data, as: UTF8.self))")
    guard head.headerFields[.contentType]?.hasPrefix("application/json") == true else {
        precondition(head.status == .ok, "\(head.status) without JSON for \(uri)")
        return (head.status, [:])
    }
    let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    if head.status.code >= 400 { precondition(object?["error"] is String, "\(head.status) for \(uri): \(String(decoding: data, as: UTF8.self))") }
    return (head.status, object ?? [:])
}

/// A response body, gathered. (Bytes, not Data: LeakSanitizer cannot follow Data's storage
/// pointer, tagged inside an enum, and took one still held by a finishing task for a leak.)
final class Collected: Sendable {
    let bytes = Mutex<[UInt8]>([])
}

struct Collector: ResponseBodyWriter {
    struct Left: Error {}

    let into: Collected
    let leavesAfterFirstWrite: Bool

    func write(_ buffer: ByteBuffer) async throws {
        into.bytes.withLock { $0 += buffer.readableBytesView }
        if leavesAfterFirstWrite { throw Left() }
    }
    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

/// Runs `body` to completion from the synchronous fuzzing callback.
func blocking<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let result = Mutex<T?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let value = await body()
        result.withLock { $0 = value }
        done.signal()
    }
    done.wait()
    return result.withLock { $0.take()! }
}
