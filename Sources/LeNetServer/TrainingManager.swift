import Datasets
import Foundation
import LeNet
import Training

/// Where the one training the server runs at a time stands, for a page that (re)opens.
public struct TrainingStatus: Sendable, Codable {
    /// `idle`, `running`, `paused`, `finished`, `stopped` or `failed`.
    public let state: String
    /// The run's folder name under `--runs`.
    public let run: String?
    /// What happened so far: the start, every epoch, the latest batch, pauses, the end.
    public let events: [TrainingEvent]
}

/// Starts, pauses, resumes and stops training sessions, one at a time, in folders under `runs`,
/// and remembers what the current (or last) one published so a page can reattach.
public actor TrainingManager {
    let runs: URL
    let dataDirectory: URL
    let threads: Int
    /// Called when a run has written its best checkpoint: a new model.
    let onBestCheckpoint: @Sendable () -> Void
    private var dataset: IDXDataset?
    private var session: TrainingSession?
    private var runName: String?
    private var history: [TrainingEvent] = []
    private var latestBatch: TrainingEvent?
    private var paused = false

    public init(runs: URL, dataDirectory: URL, threads: Int, onBestCheckpoint: @escaping @Sendable () -> Void = {}) {
        self.runs = runs
        self.dataDirectory = dataDirectory
        self.threads = threads
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
        (self.session, runName, history, latestBatch, paused) = (session, name, [], nil, false)
        session.start()
        Task { [weak self] in
            for await event in events { await self?.record(event, from: session) }
        }
        return name
    }

    private func newRunName() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let base = "web-" + formatter.string(from: Date())
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
        case .batch: latestBatch = event
        case .checkpoint(let written): if written.kind == .best { onBestCheckpoint() }
        case .paused: paused = true; history.append(event)
        case .resumed: paused = false; history.append(event)
        default: history.append(event)
        }
    }

    public func pause() throws(APIError) {
        try running().pause()
    }

    public func resume() throws(APIError) {
        try running().resume()
    }

    public func stop() throws(APIError) {
        try running().stop()
    }

    private func running() throws(APIError) -> TrainingSession {
        guard isRunning, let session else { throw APIError(status: .conflict, message: "no training is running") }
        return session
    }

    public func status() -> TrainingStatus {
        let state: String = switch session?.outcome {
        case nil where session == nil: "idle"
        case nil: paused ? "paused" : "running"
        case .finished?: "finished"
        case .stopped?: "stopped"
        case .failed?: "failed"
        }
        let events = history.filter { !$0.isFinal } + (latestBatch.map { [$0] } ?? []) + history.filter(\.isFinal)
        return TrainingStatus(state: state, run: runName, events: events)
    }

    /// The current run's events from now on, or nil when none is running.
    public func subscribe() -> AsyncStream<TrainingEvent>? {
        guard isRunning, let session else { return nil }
        return session.events(bufferingPolicy: .bufferingNewest(4096))
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
