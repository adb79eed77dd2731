import Foundation

/// A file that could not be written.
public struct FileWriteError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let reason: String

    public var description: String { "cannot write \(path): \(reason)" }
}

/// Writes `data` to a temporary file beside `url`, fsyncs it, and renames it over `url`, so a
/// crash leaves either the old file or the new one, never a half-written one.
public func writeAtomically(_ data: Data, to url: URL) throws(FileWriteError) {
    let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())").path
    func failure() -> FileWriteError { FileWriteError(path: url.path, reason: String(cString: strerror(errno))) }
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw failure() }
    let written = data.withUnsafeBytes { raw -> Bool in
        guard let base = raw.baseAddress else { return true }
        var offset = 0
        while offset < raw.count {
            let n = Foundation.write(fd, base + offset, raw.count - offset)
            if n <= 0 { return false }
            offset += n
        }
        return true
    }
    guard written, fsync(fd) == 0 else {
        let error = failure()
        close(fd)
        unlink(temporary)
        throw error
    }
    close(fd)
    guard rename(temporary, url.path) == 0 else {
        let error = failure()
        unlink(temporary)
        throw error
    }
}
