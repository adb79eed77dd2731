import Foundation
import LeNet

/// A training run as a person asks for it: a preset and the options given on top of it. The
/// command line and the web page both fill one of these, so both follow the same rules. Its
/// properties are the options, declared once: `Field` names them (and, as the coding keys, is
/// the web form's JSON), and the tool's flags are checked against them by its tests.
public struct TrainingOptions: Sendable, Equatable, Codable {
    /// The starting hyper-parameters, which the other options override.
    public enum Preset: String, Sendable, Codable, CaseIterable {
        /// Momentum SGD with one-cycle rates and label smoothing, 8 epochs.
        case fast
        /// The fast recipe over 2 epochs of all 60,000 training images: 99% in a few seconds.
        case quick
        /// The original exercise: 20 epochs, batch 8, its learning-rate list, plain SGD, N(0, 0.1) weights.
        case original
        /// The most accurate recipe for LeNet-5 within a few minutes: distorted training images, more epochs.
        case best
    }

    /// Names of the options: the properties below, the JSON keys, what errors name.
    public enum Field: String, Sendable, Codable, CaseIterable, CodingKey {
        case preset, epochs, batchSize, schedule, learningRate, momentum, weightDecay, initialization, seed
        case validationSize, selection, trainingImages, augment, optimizer, warmupEpochs, labelSmoothing
    }

    typealias CodingKeys = Field

    /// An option the rules refuse.
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public let field: Field
        /// What is wrong, without the option's name: "must be at least 1, got 0".
        public let message: String

        public var description: String { "\(field.rawValue) \(message)" }
    }

    /// The recipe the other options change (`fast` when not given).
    public var preset: Preset?
    public var epochs: Int?
    public var batchSize: Int?
    /// `original`, `constant`, `cosine`, `warmup-cosine`, `one-cycle`, or per-epoch rates such as `0.05,0.02`.
    public var schedule: String?
    public var learningRate: Float?
    public var momentum: Float?
    public var weightDecay: Float?
    public var initialization: Initialization?
    public var seed: UInt64?
    public var validationSize: Int?
    public var selection: ModelSelection?
    /// Train on only the first this many training images (after the validation split).
    public var trainingImages: Int?
    /// `none`, `standard`, `light`, or `name=value` pairs (see `Augmentation(parsing:)`).
    public var augment: String?
    public var optimizer: Optimizer?
    /// Epochs of linear warm-up before the cosine, for `warmup-cosine` (default 1).
    public var warmupEpochs: Int?
    public var labelSmoothing: Float?

    public init() {}

    /// Every option filled in as `configuration` has it, on top of `preset`: a recipe as the web
    /// form shows it. `configuration(threads:)` gives `configuration` back.
    public init(preset: Preset, filledFrom c: TrainingConfiguration) {
        self.preset = preset
        (epochs, batchSize, weightDecay, initialization, seed) = (c.epochs, c.batchSize, c.weightDecay, c.initialization, c.seed)
        (validationSize, selection, trainingImages, optimizer, labelSmoothing) =
            (c.validationSize, c.selection, c.trainingImages, c.optimizer, c.labelSmoothing)
        momentum = c.optimizer.isAdam ? nil : c.momentum
        augment = c.augmentation?.spec ?? "none"
        learningRate = c.schedule.base
        switch c.schedule {
        case LearningRateSchedule.original: schedule = "original"
        case .constant: schedule = "constant"
        case .cosine: schedule = "cosine"
        case .list(let rates): schedule = rates.map { "\($0)" }.joined(separator: ",")
        case .warmupCosine(_, let warmup): (schedule, warmupEpochs) = ("warmup-cosine", warmup)
        case .oneCycle: schedule = "one-cycle"
        }
    }

    /// The options that are given (not nil), in `Field` order: what a resumed run must not change.
    public var given: [Field] {
        // The encoding writes exactly the given options, under their fields' names.
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        guard let data = try? encoder.encode(self),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [] }
        return Field.allCases.filter { object[$0.rawValue] != nil }
    }

    /// The preset with every given option applied on top, on `threads` threads.
    /// - Throws: the first option the rules refuse.
    public func configuration(threads: Int) throws(Problem) -> TrainingConfiguration {
        func check(_ field: Field, _ ok: Bool, _ message: @autoclosure () -> String) throws(Problem) {
            if !ok { throw Problem(field: field, message: message()) }
        }
        if let epochs { try check(.epochs, TrainingConfiguration.epochRange.contains(epochs), "must be between 1 and 10000, got \(epochs)") }
        if let batchSize {
            try check(.batchSize, TrainingConfiguration.batchSizeRange.contains(batchSize), "must be between 1 and 60000, got \(batchSize)")
        }
        if let learningRate {
            try check(.learningRate, learningRate > 0 && learningRate.isFinite, "must be a positive number, got \(learningRate)")
        }
        if let momentum { try check(.momentum, (0..<1).contains(momentum), "must be in [0, 1), got \(momentum)") }
        if let weightDecay {
            try check(.weightDecay, weightDecay >= 0 && weightDecay.isFinite, "must be a non-negative number, got \(weightDecay)")
        }
        if let validationSize { try check(.validationSize, validationSize >= 0, "must be 0 or more, got \(validationSize)") }
        if let trainingImages { try check(.trainingImages, trainingImages >= 1, "must be at least 1, got \(trainingImages)") }
        if let labelSmoothing { try check(.labelSmoothing, (0..<1).contains(labelSmoothing), "must be in [0, 1), got \(labelSmoothing)") }

        let preset = preset ?? .fast
        var c = switch preset {
        case .fast: TrainingConfiguration()
        case .quick: TrainingConfiguration.quick
        case .original: TrainingConfiguration.original
        case .best: TrainingConfiguration.best
        }
        if let epochs { c.epochs = epochs }
        if let batchSize { c.batchSize = batchSize }
        if let momentum { c.momentum = momentum }
        if let weightDecay { c.weightDecay = weightDecay }
        if let initialization { c.initialization = initialization }
        if let seed { c.seed = seed }
        if let validationSize { c.validationSize = validationSize }
        c.trainingImages = trainingImages
        if let labelSmoothing { c.labelSmoothing = labelSmoothing }
        if let optimizer {
            c.optimizer = optimizer
            if optimizer.isAdam {
                try check(.momentum, momentum == nil, "is for sgd and nesterov; Adam's averaging rates are fixed at 0.9 and 0.999")
            }
            try check(.optimizer, optimizer != .nesterov || c.momentum > 0, "nesterov needs a momentum above 0")
        }
        if let augment {
            do {
                c.augmentation = augment == "none" ? nil : try Augmentation(parsing: augment)
            } catch {
                throw Problem(field: .augment, message: "must be none, standard, light or name=value pairs: \(error.message)")
            }
        }
        c.threads = threads
        // Adam's steps are sized by the rate alone: SGD's rates would be far too large.
        let rate = learningRate ?? (c.optimizer.isAdam ? 0.001 : nil)
        // Without a rate, a named schedule starts where the preset's does.
        let base = rate ?? c.schedule.base
        try check(.warmupEpochs, warmupEpochs == nil || schedule == "warmup-cosine", "is for the warmup-cosine schedule")
        switch schedule {
        case nil:
            // The preset's one cycle peaking at the rate given (the original's list becomes constant).
            if rate != nil {
                c.schedule = if case .oneCycle = c.schedule { .oneCycle(peak: base) } else { .constant(base) }
            }
        case "original":
            c.schedule = .original
        case "constant":
            c.schedule = .constant(base)
        case "cosine":
            c.schedule = .cosine(base: base)
        case "warmup-cosine":
            let warmup = warmupEpochs ?? 1
            try check(.warmupEpochs, (1..<c.epochs).contains(warmup), "must be at least 1 and fewer than the epochs (\(c.epochs)), got \(warmup)")
            c.schedule = .warmupCosine(base: base, warmupEpochs: warmup)
        case "one-cycle":
            c.schedule = .oneCycle(peak: base)
        case let list?:
            guard let rates = LearningRateSchedule(token: "list:" + list.filter { $0 != " " }) else {
                throw Problem(
                    field: .schedule,
                    message: "must be original, constant, cosine, warmup-cosine, one-cycle or a list of positive rates like 0.05,0.02; got '\(list)'")
            }
            c.schedule = rates
        }
        if let selection {
            c.selection = selection
        } else if c.validationSize == 0 {
            c.selection = .last
        }
        try check(.selection, !(c.selection == .validation && c.validationSize == 0), "validation needs a validation split above 0")
        // What a resume state is held to too; the checks above name the option as it was given.
        if let (field, message) = c.problem { throw Problem(field: Field(rawValue: field) ?? .preset, message: message) }
        return c
    }
}
