import Datasets
import Foundation
import LeNet
import Training

/// A model the page can pick: its id in URLs, and what the picker shows.
public struct ModelInfo: Sendable, Codable, Equatable {
    /// `checkpoint`, `bundled`, or `runs/<run folder>`.
    public let id: String
    public let name: String
    /// Whether its file loads; when not, `problem` says why, and it has no class names.
    public let available: Bool
    public let problem: String?
    /// The model a request that names none is answered with: the first available.
    public let isDefault: Bool
    public let classNames: [String]
    public let epoch: Int?
    public let testAccuracy: Double?

    enum CodingKeys: String, CodingKey {
        case id, name, available, problem, isDefault = "default", classNames, epoch, testAccuracy
    }
}

/// The checkpoints the server can classify with: the bundled one, the one given with
/// `--checkpoint`, and the `best.safetensors` of every run under `--runs`; and the copies
/// visitors are correcting. The list is found
/// again when `refresh` says a run finished, or when it is older than `rescanInterval` (a run
/// copied in by hand); classifiers are loaded once per file version.
///
/// `@unchecked Sendable`: `loaded` and `scanned` are only touched under `lock`; everything else
/// is immutable.
public final class ModelStore: @unchecked Sendable {
    public let runs: URL
    let checkpoint: URL?
    let bundled: URL?

    /// The visitors' corrected copies (`copy-...` ids), in memory.
    let corrections = Corrections()
    private let lock = NSLock()
    private var loaded: [String: (modified: Date, checkpoint: Checkpoint, classifier: Classifier)] = [:]
    private var scanned: (at: ContinuousClock.Instant, files: [(id: String, url: URL)])?
    /// How long a listing of the runs folder stands.
    static let rescanInterval = Duration.seconds(2)

    public init(runs: URL, checkpoint: URL?, bundled: URL? = ModelStore.bundledCheckpoint) {
        self.runs = runs
        self.checkpoint = checkpoint
        self.bundled = bundled
    }

    /// The library's pretrained checkpoint (`Checkpoint.pretrained`).
    public static var bundledCheckpoint: URL? { Checkpoint.pretrained }

    /// Lists the models again at the next request (a run has written its best checkpoint).
    public func refresh() {
        lock.withLock { scanned = nil }
    }

    /// The ids and files of every model in the order a default is chosen: the `--checkpoint`,
    /// the bundled one, then runs newest first (a run finishing does not change every
    /// visitor's default).
    func files() -> [(id: String, url: URL)] {
        lock.withLock {
            if let scanned, .now - scanned.at < Self.rescanInterval { return scanned.files }
            let found = scan()
            scanned = (.now, found)
            return found
        }
    }

    private func scan() -> [(id: String, url: URL)] {
        var found: [(String, URL)] = []
        if let checkpoint { found.append(("checkpoint", checkpoint)) }
        if let bundled { found.append(("bundled", bundled)) }
        found += RunFolder.bestCheckpoints(in: runs).map { ("runs/" + $0.deletingLastPathComponent().lastPathComponent, $0) }
        return found
    }

    /// Every model, for the picker; one whose file no longer loads says why.
    public func list() -> [ModelInfo] {
        var defaultFound = false
        return files().map { id, url in
            let name = switch id {
            case "bundled": "bundled (trained on MNIST)"
            case "checkpoint": url.lastPathComponent
            default: String(id.dropFirst("runs/".count))
            }
            let checkpoint: Checkpoint
            do throws(CheckpointError) {
                checkpoint = try load(id: id, url: url).checkpoint
            } catch {
                return ModelInfo(
                    id: id, name: name, available: false, problem: error.problem, isDefault: false, classNames: [], epoch: nil,
                    testAccuracy: nil)
            }
            defer { defaultFound = true }
            return ModelInfo(
                id: id, name: name, available: true, problem: nil, isDefault: !defaultFound,
                classNames: ClassNames.decode(checkpoint.metadata["class_names"]) ?? ClassNames.digits,
                epoch: checkpoint.metadata["epoch"].flatMap { Int($0) },
                testAccuracy: checkpoint.metadata["test_accuracy"].flatMap { Double($0) })
        }
    }

    /// Model `id`, or the default model when `id` is nil (the first that loads: a --checkpoint
    /// deleted or broken since gives way to the next): its id and its classifier, from one
    /// listing, so an answer names the model that gave it.
    /// - Throws: `APIError` 404 for an unknown id or one whose file no longer loads.
    public func model(id: String?) throws(APIError) -> (id: String, classifier: Classifier) {
        if let id, id.hasPrefix("copy-") {
            guard let copy = corrections.classifier(id) else { throw APIError(status: .notFound, message: "no model '\(id)': a corrected copy lives until the server stops, or newer copies push it out") }
            return (id, copy)
        }
        let all = files()
        guard let id else {
            for (id, url) in all {
                if let loaded = try? load(id: id, url: url) { return (id, loaded.classifier) }
            }
            throw APIError(status: .notFound, message: "no model is available")
        }
        guard let url = all.first(where: { $0.id == id })?.url else { throw APIError(status: .notFound, message: "no model '\(id)'") }
        do {
            return (id, try load(id: id, url: url).classifier)
        } catch {
            throw APIError(status: .notFound, message: "model '\(id)' cannot be loaded: \(error.problem)")
        }
    }

    private func load(id: String, url: URL) throws(CheckpointError) -> (checkpoint: Checkpoint, classifier: Classifier) {
        let date = (try? url.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate) ?? .distantPast
        if let cached = lock.withLock({ loaded[id] }), cached.modified == date {
            return (cached.checkpoint, cached.classifier)
        }
        let checkpoint = try Checkpoint(contentsOf: url)
        let classifier = Classifier(checkpoint: checkpoint)
        lock.withLock { loaded[id] = (date, checkpoint, classifier) }
        return (checkpoint, classifier)
    }
}

extension CheckpointError {
    /// What is wrong, without the file's path (which a response must not reveal).
    var problem: String {
        switch self {
        case .cannotRead: "the file cannot be read"
        case .cannotWrite: "the file cannot be written"
        case .malformed(_, let problem): problem.description
        }
    }
}
