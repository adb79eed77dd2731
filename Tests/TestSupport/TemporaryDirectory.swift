import Foundation
import XCTest

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

/// A test case that gets a fresh temporary folder for each test, removed after it.
open class TemporaryDirectoryTestCase: XCTestCase {
    /// This test's folder.
    public private(set) var folder: TemporaryDirectory!
    public var directory: URL { folder.url }

    open override func setUpWithError() throws {
        try super.setUpWithError()
        folder = try TemporaryDirectory(String(describing: type(of: self)))
    }

    open override func tearDown() {
        folder.remove()
        super.tearDown()
    }
}
