import Foundation

/// A file that could not be written: every writer of the package throws this one type.
public struct FileWriteError: Error, Equatable, CustomStringConvertible {
    public let path: String
    /// The `errno` of the call that failed (ENOSPC for a full disk, ENOTDIR, EACCES, ...), or 0
    /// when no call failed and `explanation` says what is wrong.
    public let code: Int32
    public let explanation: String?

    public init(path: String, code: Int32) {
        self.path = path
        self.code = code
        explanation = nil
    }

    /// A write refused before any call was made.
    public init(path: String, explanation: String) {
        self.path = path
        code = 0
        self.explanation = explanation
    }

    /// The failure of the call that just failed, `errno` read before anything else runs: working
    /// out a URL's path may itself make calls that change it (a read-only folder was reported as
    /// "No such file or directory").
    public static func ofLastCall(path: @autoclosure () -> String) -> FileWriteError {
        let code = errno
        return FileWriteError(path: path(), code: code)
    }

    public var reason: String { explanation ?? String(cString: strerror(code)) }
    public var description: String { "cannot write \(path): \(reason)" }
}

/// Writes `data` to a temporary file beside `url`, fsyncs it, renames it over `url` and fsyncs
/// the folder, so a crash leaves either the old file or the new one, never a half-written one. This is the one
/// way the package's files reach the disk.
///
/// A symbolic link at `url` is written through: the file it points to is replaced (atomically,
/// beside it) and the link stays. A folder, device, FIFO or socket there is refused: replacing it
/// with a file would remove it (as root, `/dev/null` itself), and writing into it would not be
/// an atomic write of a file.
public func writeAtomically(_ data: Data, to url: URL) throws(FileWriteError) {
    let url = try destination(of: url)
    // Unique per process and call, so two writers of the same file never share a temporary.
    let temporary = url.deletingLastPathComponent()
        .appendingPathComponent(".\(url.lastPathComponent)\(temporaryMarker)\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    func failure() -> FileWriteError { .ofLastCall(path: url.path) }
    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    guard fd >= 0 else { throw failure() }
    let written = data.withUnsafeBytes { raw -> Bool in
        guard let base = raw.baseAddress else { return true }
        var offset = 0
        while offset < raw.count {
            let n = Foundation.write(fd, base + offset, raw.count - offset)
            if n < 0 && errno == EINTR { continue }
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
    // The rename itself reaches the disk with the folder's entry (after a power cut, too).
    let folder = open(url.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY)
    if folder >= 0 {
        fsync(folder)
        close(folder)
    }
}

/// Where a write to `url` lands: `url` when it is a regular file or nothing yet, the file at the
/// end of its links when it is a symbolic link (followed as the kernel follows them, at most 40).
/// - Throws: for a folder, device, FIFO or socket there, naming `url`.
func destination(of url: URL) throws(FileWriteError) -> URL {
    var path = url.path
    for _ in 0...40 {
        var status = stat()
        guard lstat(path, &status) == 0 else {
            if errno == ENOENT { return URL(fileURLWithPath: path) }
            throw .ofLastCall(path: url.path)
        }
        switch status.st_mode & S_IFMT {
        case S_IFREG:
            return URL(fileURLWithPath: path)
        case S_IFLNK:
            var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(path, &target, Int(PATH_MAX))
            guard length > 0 else { throw .ofLastCall(path: url.path) }
            let link = String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            path = link.hasPrefix("/") ? link : (path as NSString).deletingLastPathComponent + "/" + link
        case S_IFDIR:
            throw FileWriteError(path: url.path, explanation: "it is a folder; give a file's path")
        default:
            throw FileWriteError(path: url.path, explanation: "it is a device, FIFO or socket, not a file; give a file's path")
        }
    }
    throw FileWriteError(path: url.path, code: ELOOP)
}

/// What names a temporary file of `writeAtomically`: `.<name>.tmp-<pid>-<random>`.
private let temporaryMarker = ".tmp-"

/// Deletes the temporary files that writers killed mid-write (kill -9, a power cut) left in
/// `directory`: those whose process no longer runs. A live writer's are kept.
public func removeAbandonedTemporaries(in directory: URL) {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    for name in names where name.hasPrefix(".") {
        guard let marker = name.range(of: temporaryMarker, options: .backwards),
            let pid = Int32(name[marker.upperBound...].prefix { $0 != "-" })
        else { continue }
        if kill(pid, 0) != 0 && errno == ESRCH { unlink(directory.appendingPathComponent(name).path) }
    }
}

/// Creates the directory at `url` and any missing parents, as `mkdir -p` does.
public func createDirectories(at url: URL) throws(FileWriteError) {
    var path = ""
    for component in url.standardizedFileURL.pathComponents {
        path = path.isEmpty ? component : (path as NSString).appendingPathComponent(component)
        if mkdir(path, 0o755) == 0 || errno == EEXIST {
            var status = stat()
            guard stat(path, &status) == 0 else { throw FileWriteError(path: path, code: errno) }
            guard status.st_mode & S_IFMT == S_IFDIR else { throw FileWriteError(path: path, code: ENOTDIR) }
            continue
        }
        throw FileWriteError(path: path, code: errno)
    }
}
