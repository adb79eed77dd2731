import Dispatch
import Foundation

/// Turns the first SIGINT or SIGTERM into a call of the current target (a training session's
/// `stop`, so it saves its state after the current batch). A second signal ends the process at
/// once (checkpoints are written atomically, so nothing is left half-written). Installed once
/// per process: installing the signal handling again would leave the signals ignored.
///
/// `@unchecked Sendable`: `received` and `target` are only read and written under `lock`, and
/// `sources` is written once, before any signal handler can run.
final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var received: Int32?
    private var target: (@Sendable () -> Void)?
    private var sources: [DispatchSourceSignal] = []

    private init() {}

    /// The first signal received, if any.
    var signal: Int32? {
        lock.withLock { received }
    }

    /// What the first signal stops from now on (the run that is starting); stopped at once if
    /// the signal came already.
    func stops(_ action: @escaping @Sendable () -> Void) {
        let late = lock.withLock {
            target = action
            return received != nil
        }
        if late { action() }
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
        let (first, action) = lock.withLock {
            defer { received = received ?? number }
            return (received == nil, target)
        }
        if first {
            FileHandle.standardError.write(Data("\nfinishing the current batch and saving; press Ctrl-C again to quit at once\n".utf8))
            action?()
        } else {
            _exit(number == SIGTERM ? 143 : 130)
        }
    }
}
