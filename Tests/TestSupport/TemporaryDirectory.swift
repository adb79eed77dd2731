import Foundation

/// A fresh, empty folder under the system's temporary directory, for one test.
public struct TemporaryDirectory {
    public let url: URL

    /// Creates the folder; `prefix` names it after the test that uses it.
    public init(_ prefix: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// A path inside the folder.
    public func url(_ name: String) -> URL { url.appendingPathComponent(name) }

    public var path: String { url.path }

    /// Deletes the folder and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}
