import Foundation

/// A file that could not be read whole.
public enum FileReadError: Error, Equatable, CustomStringConvertible {
    case notFound(path: String)
    /// A directory, FIFO, socket or device: reading it could block or mean nothing.
    case notRegularFile(path: String)
    case tooLarge(path: String, bytes: Int, limit: Int)
    /// The `errno` of the call that failed.
    case failed(path: String, code: Int32)

    public var description: String {
        switch self {
        case .notFound(let path): "cannot read \(path): no such file"
        case .notRegularFile(let path): "cannot read \(path): not a regular file"
        case .tooLarge(let path, let bytes, let limit): "\(path) is too large: \(bytes) bytes, more than the \(limit)-byte limit"
        case .failed(let path, let code): "cannot read \(path): \(String(cString: strerror(code)))"
        }
    }
}

/// The bytes of the regular file at `path`, refused unread when larger than `maximumBytes`.
public func readFile(atPath path: String, maximumBytes: Int) throws(FileReadError) -> Data {
    // O_NONBLOCK so that opening a FIFO does not wait for a writer; fstat then refuses it.
    let fd = open(path, O_RDONLY | O_NONBLOCK)
    guard fd >= 0 else { throw errno == ENOENT ? .notFound(path: path) : .failed(path: path, code: errno) }
    defer { close(fd) }
    var status = stat()
    guard fstat(fd, &status) == 0 else { throw .failed(path: path, code: errno) }
    guard status.st_mode & S_IFMT == S_IFREG else { throw .notRegularFile(path: path) }
    let size = Int(status.st_size)
    guard size <= maximumBytes else { throw .tooLarge(path: path, bytes: size, limit: maximumBytes) }
    var data = Data(count: size)
    var filled = 0
    let failure: Int32? = data.withUnsafeMutableBytes { raw in
        while filled < size {
            let n = read(fd, raw.baseAddress! + filled, size - filled)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return errno }
            if n == 0 { break }
            filled += n
        }
        return nil
    }
    if let failure { throw .failed(path: path, code: failure) }
    return data.prefix(filled)
}
