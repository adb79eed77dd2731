import Hummingbird

/// Keeps other web sites out. A page on another origin can make a browser send simple requests
/// here without asking (a `text/plain` or form POST, no preflight), and a domain of its own that
/// resolves to 127.0.0.1 (DNS rebinding) reaches the server as if it were this page. So:
/// - the `Host` a request names must be one this server answers to: `localhost`, `127.0.0.1`,
///   `[::1]`, the `--host` it listens on, or a name `--allow-host` adds (421 otherwise);
/// - a request that changes anything (every method but GET, HEAD and OPTIONS) with an `Origin`
///   must come from this server's own origin (403 otherwise); browsers send `Origin` with every
///   cross-origin POST;
/// - those with a body must say it is JSON (`application/json`, any case, parameters allowed)
///   or an image, which a form cannot (415 otherwise).
struct SameOriginMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Host names without their port, lowercased.
    let hosts: Set<String>

    init(hosts: [String]) {
        self.hosts = Set((["localhost", "127.0.0.1", "[::1]", "::1"] + hosts).map { $0.lowercased() })
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let authority = request.head.authority ?? ""
        guard hosts.contains(Self.hostName(of: authority)) else {
            throw APIError(status: .misdirectedRequest, message: "this server does not answer to the host '\(authority)'")
        }
        if ![.get, .head, .options].contains(request.method) {
            if let origin = request.headers[.origin], Self.authority(ofOrigin: origin)?.lowercased() != authority.lowercased() {
                throw APIError(status: .forbidden, message: "requests from another site (\(origin)) may not change anything here")
            }
            if let type = request.headers[.contentType], !Self.isAccepted(type) {
                throw APIError(status: .unsupportedMediaType, message: "send JSON (application/json) or an image, not \(type)")
            }
        }
        return try await next(request, context)
    }

    /// `host` of `host:port`, `[::1]` of `[::1]:port`, lowercased.
    static func hostName(of authority: String) -> String {
        let lower = authority.lowercased()
        if lower.hasPrefix("["), let end = lower.firstIndex(of: "]") { return String(lower[...end]) }
        return String(lower.split(separator: ":", maxSplits: 1).first ?? "")
    }

    /// `host:port` of an origin such as `http://127.0.0.1:8080`, or nil for `null` and the like.
    static func authority(ofOrigin origin: String) -> String? {
        guard let scheme = origin.range(of: "://") else { return nil }
        let rest = origin[scheme.upperBound...]
        return rest.isEmpty ? nil : String(rest.prefix { $0 != "/" })
    }

    /// JSON (what the page sends its options and pixels as) or an image (what it uploads); never
    /// one of the types a cross-site form or a `text/plain` fetch can send without a preflight.
    static func isAccepted(_ contentType: String) -> Bool {
        let type = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        return type == "application/json" || type.hasPrefix("image/") || type == "application/octet-stream"
    }
}
