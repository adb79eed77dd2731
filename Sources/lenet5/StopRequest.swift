import Dispatch
import Foundation

/// Turns the first SIGINT or SIGTERM into a call of `onFirst` (a training session's `stop`, so it
/// saves its state after the current batch). A second signal ends the process at once
/// (checkpoints are written atomically, so nothing is left half-written).
///
/// `@unchecked Sendable`: `received` is only read and written under `lock`, and `sources` is
/// written once, before any signal handler can run.
final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var received: Int32?
    private var sources: [DispatchSourceSignal] = []
    private let onFirst: @Sendable () -> Void

    private init(onFirst: @escaping @Sendable () -> Void) {
        self.onFirst = onFirst
    }

    /// The first signal received, if any.
    var signal: Int32? {
        lock.withLock { received }
    }

    /// A request that listens for SIGINT and SIGTERM from now on.
    static func installed(onFirst: @escaping @Sendable () -> Void) -> StopRequest {
        let request = StopRequest(onFirst: onFirst)
        for number in [SIGINT, SIGTERM] {
            Foundation.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [request] in request.receive(number) }
            source.resume()
            request.sources.append(source)
        }
        return request
    }

    private func receive(_ number: Int32) {
        let first = lock.withLock {
            defer { received = received ?? number }
            return received == nil
        }
        if first {
            FileHandle.standardError.write(Data("\nfinishing the current batch and saving; press Ctrl-C again to quit at once\n".utf8))
            onFirst()
        } else {
            _exit(number == SIGTERM ? 143 : 130)
        }
    }
}
