import Hummingbird
import Logging
import NIOCore
import NIOEmbedded
@testable import LeNetServer

/// Sends requests straight to the server's router, as HummingbirdTesting's router mode does,
/// without HummingbirdTesting: its HTTP client brings a TLS library (BoringSSL) that took
/// minutes of the tests' first build, for routes that never open a socket.
struct RouterClient {
    /// A response with its whole body.
    struct Response {
        let status: HTTPResponse.Status
        let headers: HTTPFields
        let body: ByteBuffer
    }

    private let responder: RouterResponder<BasicRequestContext>
    private let logger = Logger(label: "RouterClient")

    init(_ router: Router<BasicRequestContext>) {
        responder = router.buildResponder()
    }

    /// The router's answer to one request, passed to `check`.
    @discardableResult
    /// - Parameter authority: the `Host` the request names.
    func execute<Value>(
        uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:], body: ByteBuffer? = nil, authority: String = "localhost:8080",
        _ check: (Response) async throws -> Value
    ) async throws -> Value {
        var headers = headers
        if let body { headers[.contentLength] = String(body.readableBytes) }
        let request = Request(
            head: HTTPRequest(method: method, scheme: "http", authority: authority, path: uri, headerFields: headers),
            body: RequestBody(buffer: body ?? ByteBuffer()))
        let context = BasicRequestContext(source: ApplicationRequestContextSource(channel: EmbeddedChannel(), logger: logger))
        let response = try await responder.respond(to: request, context: context)
        let writer = CollectingWriter()
        try await response.body.write(writer)
        return try await check(Response(status: response.status, headers: response.headers, body: await writer.collected()))
    }
}

/// Gathers a response body as the router streams it.
private actor CollectingWriter: ResponseBodyWriter {
    private var buffer = ByteBuffer()

    func write(_ part: ByteBuffer) async throws {
        var part = part
        buffer.writeBuffer(&part)
    }

    func finish(_ trailingHeaders: HTTPFields?) async throws {}

    func collected() -> ByteBuffer { buffer }
}
