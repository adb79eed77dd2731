import Dispatch
import Foundation

/// Turns SIGINT and SIGTERM into a request that training polls after every batch, so it can
/// save its state and stop cleanly. A second signal ends the process at once (checkpoints are
/// written atomically, so nothing is left half-written).
final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var received: Int32?
    private var sources: [DispatchSourceSignal] = []

    /// The first signal received, if any.
    var signal: Int32? {
        lock.withLock { received }
    }

    /// A request that listens for SIGINT and SIGTERM from now on.
    static func installed() -> StopRequest {
        let request = StopRequest()
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
        } else {
            _exit(number == SIGTERM ? 143 : 130)
        }
    }
}
