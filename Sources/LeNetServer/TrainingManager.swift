import Datasets
import Foundation
import LeNet
import Training

/// Where the one training the server runs at a time stands: what a page's buttons and messages
/// are made from.
public struct RunState: Sendable, Codable, Equatable {
    /// `idle`, `running`, `paused`, `finished`, `stopped` or `failed`.
    public let state: String
    /// The run's folder name under `--runs`.
    public let run: String?
    /// After a stop: the command that continues the run, run where the server was started
    /// (its `--runs` and `--data` as they were given).
    public let resumeCommand: String?
}

/// A run's state and its history so far: the start, every epoch, losses sampled at most ten
/// times a second (thinned as a long run goes on), pauses, the end.
public struct TrainingStatus: Sendable, Codable {
    public let state: String
    public let run: String?
    public let resumeCommand: String?
    public let events: [TrainingEvent]
}

/// What a page's event stream carries: the run's state whenever it changes, and its events.
public enum TrainingUpdate: Sendable, Equatable {
    case state(RunState)
    case event(TrainingEvent)
}

/// Starts, pauses, resumes and stops training sessions, one at a time, in folders under `runs`;
/// keeps the current (or last) run's history, and hands it, then everything that happens, to
/// every page attached, across runs: a page that reloads or opens late sees the whole run, and
/// one opened before a run starts sees it start.
public actor TrainingManager {
    let runs: URL
    let dataDirectory: URL
    let threads: Int
    /// How the user names the runs folder and the data (`--runs`, `--data` as given; no data
    /// for the bundled MNIST), for the resume command.
    let shownRuns: String
    let shownData: String?
    /// Called when a run has written its best checkpoint: a new model.
    let onBestCheckpoint: @Sendable () -> Void
    private var dataset: IDXDataset?
    private var session: TrainingSession?
    private var runName: String?
    private var history: [TrainingEvent] = []
    private var paused = false
    private var listeners: [UUID: AsyncStream<TrainingUpdate>.Continuation] = [:]
    /// Batch events are kept (and sent) at most this often, the epoch's last always.
    private var batchInterval = Duration.milliseconds(100)
    private var lastBatch = ContinuousClock.now - .seconds(1)
    /// More batch events than this in the history and every other one goes, the interval doubling.
    let batchesKept: Int

    public init(
        runs: URL, dataDirectory: URL, threads: Int, shownRuns: String = "runs", shownData: String? = nil, batchesKept: Int = 2048,
        onBestCheckpoint: @escaping @Sendable () -> Void = {}
    ) {
        self.runs = runs
        self.batchesKept = batchesKept
        self.dataDirectory = dataDirectory
        self.threads = threads
        self.shownRuns = shownRuns
        self.shownData = shownData
        self.onBestCheckpoint = onBestCheckpoint
    }

    /// The data set training uses, read once.
    func data() throws(APIError) -> IDXDataset {
        if let dataset { return dataset }
        do {
            let loaded = try IDXDataset(directory: dataDirectory)
            dataset = loaded
            return loaded
        } catch {
            throw APIError(status: .internalServerError, message: "the training data cannot be read")
        }
    }

    private var isRunning: Bool { session != nil && session?.outcome == nil }

    /// Starts a run with `options` in a new folder under `runs`.
    /// - Returns: the run's name.
    /// - Throws: 409 while another run trains, 400 naming the field the rules refuse.
    public func start(_ options: TrainingOptions) throws(APIError) -> String {
        guard !isRunning else { throw APIError(status: .conflict, message: "a training is already running; stop it first") }
        let configuration: TrainingConfiguration
        do {
            configuration = try options.configuration(threads: threads)
        } catch {
            throw APIError(status: .badRequest, message: error.message, field: error.field.rawValue)
        }
        let trainer: Trainer
        do {
            trainer = try Trainer(configuration: configuration, dataset: try data())
        } catch let error as APIError {
            throw error
        } catch let error as TrainingError {
            let field: TrainingOptions.Field? = switch error {
            case .validationTooLarge: .validationSize
            case .selectionNeedsValidation: .selection
            default: nil
            }
            throw APIError(status: .badRequest, message: error.description, field: field?.rawValue)
        } catch {
            throw APIError(status: .internalServerError, message: "training cannot start")
        }
        let name = newRunName()
        // Relative to the runs folder, so the events name the run and not where it lives.
        let session = TrainingSession(trainer: trainer, directory: URL(fileURLWithPath: name, relativeTo: URL(fileURLWithPath: runs.path, isDirectory: true)))
        let events = session.events()
        (self.session, runName, history, paused) = (session, name, [], false)
        (batchInterval, lastBatch) = (.milliseconds(100), .now - .seconds(1))
        session.start()
        Task { [weak self] in
            for await event in events { await self?.record(event, from: session) }
        }
        return name
    }

    /// A folder name under `runs` not yet taken: `prefix`, the date and time, and a number if needed.
    func newRunName(prefix: String = "web") -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let base = prefix + "-" + formatter.string(from: Date())
        var name = base
        var n = 2
        while FileManager.default.fileExists(atPath: runs.appendingPathComponent(name).path) {
            name = "\(base)-\(n)"
            n += 1
        }
        return name
    }

    private func record(_ event: TrainingEvent, from source: TrainingSession) {
        guard source === session else { return }
        switch event {
        case .batch(let progress):
            guard progress.batch == progress.batches || .now - lastBatch >= batchInterval else { return }
            lastBatch = .now
        case .checkpoint(let written):
            if written.kind == .best { onBestCheckpoint() }
        case .paused: paused = true
        case .resumed: paused = false
        default: break
        }
        history.append(event)
        thinBatches()
        // The state first: a page's buttons are right by the time its message says why.
        switch event {
        case .started, .paused, .resumed, .finished, .stopped, .failed: broadcast(.state(state))
        case .batch, .epoch, .checkpoint: break
        }
        broadcast(.event(event))
    }

    /// Halves the batch events kept once there are too many (an hour's run), keeping the latest.
    private func thinBatches() {
        let batches = history.indices.filter { if case .batch = history[$0] { true } else { false } }
        guard batches.count > batchesKept else { return }
        let dropped = Set(batches.dropLast().enumerated().filter { $0.offset % 2 == 1 }.map(\.element))
        history = history.enumerated().filter { !dropped.contains($0.offset) }.map(\.element)
        batchInterval *= 2
    }

    private func broadcast(_ update: TrainingUpdate) {
        for listener in listeners.values { listener.yield(update) }
    }

    /// Pauses the running training after its current batch, and returns once it has paused.
    public func pause() async throws(APIError) -> RunState {
        try running().pause()
        return await settle { $0.state != "running" }
    }

    /// Resumes a paused training, and returns once it trains again.
    public func resume() async throws(APIError) -> RunState {
        try running().resume()
        return await settle { $0.state != "paused" }
    }

    /// Stops the training after its current batch, and returns once its state is saved.
    public func stop() async throws(APIError) -> RunState {
        try running().stop()
        return await settle { $0.state != "running" && $0.state != "paused" }
    }

    /// The state once `done` holds of it, or after 30 s (an epoch's evaluation and checkpoints
    /// come between two batches), whichever comes first.
    private func settle(until done: (RunState) -> Bool) async -> RunState {
        let deadline = ContinuousClock.now + .seconds(30)
        while !done(state) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        return state
    }

    private func running() throws(APIError) -> TrainingSession {
        guard isRunning, let session else { throw APIError(status: .conflict, message: "no training is running") }
        return session
    }

    /// The state as the events recorded so far tell it.
    public var state: RunState {
        let last = history.last { $0.isFinal || { if case .started = $0 { true } else { false } }($0) }
        let (state, resumeCommand): (String, String?) = switch last {
        case nil where session == nil: ("idle", nil)
        case .finished?: ("finished", nil)
        case .stopped(let stop)?:
            ("stopped", RunFolder.resumeCommand(resumeFile: shownRuns + "/" + stop.resumeCheckpoint, dataDirectory: shownData))
        case .failed?: ("failed", nil)
        default: (paused ? "paused" : "running", nil)
        }
        return RunState(state: state, run: runName, resumeCommand: resumeCommand)
    }

    public func status() -> TrainingStatus {
        let now = state
        return TrainingStatus(state: now.state, run: now.run, resumeCommand: now.resumeCommand, events: history)
    }

    /// The current state and history, then every update from now on, until the stream is
    /// dropped: taken together, so nothing falls between the two.
    public func attach() -> (status: TrainingStatus, updates: AsyncStream<TrainingUpdate>) {
        let (stream, continuation) = AsyncStream.makeStream(of: TrainingUpdate.self, bufferingPolicy: .bufferingNewest(4096))
        let id = UUID()
        listeners[id] = continuation
        // Strongly: the manager lives as long as the server, and the closure goes with the
        // stream. (A weak reference's side table, which the object's count encodes rather
        // than points to, is reported as leaked by LeakSanitizer: FuzzRequest found that.)
        continuation.onTermination = { _ in
            Task { await self.detach(id) }
        }
        return (status(), stream)
    }

    private func detach(_ id: UUID) {
        listeners.removeValue(forKey: id)
    }

    /// Asks a running session to stop and waits (up to `timeout`) for it to save its state.
    public func stopAndWait(timeout: Duration = .seconds(30)) async {
        guard isRunning, let session else { return }
        session.stop()
        let deadline = ContinuousClock.now + timeout
        while session.outcome == nil && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}
