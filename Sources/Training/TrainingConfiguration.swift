import Foundation
import LeNet

/// Which epoch's checkpoint the final test uses.
public enum ModelSelection: String, CaseIterable, Sendable, Codable {
    /// Highest accuracy on the held-out validation split (needs a validation split).
    case validation
    /// The last epoch.
    case last
    /// Highest test accuracy, as the original did. Optimistic: the reported test accuracy is then
    /// not an unbiased estimate.
    case test
}

/// How the weights follow their gradients.
public enum Optimizer: String, CaseIterable, Sendable, Codable {
    /// Stochastic gradient descent with (heavy-ball) momentum.
    case sgd
    /// SGD with Nesterov momentum.
    case nesterov
    /// Adam (Kingma and Ba), weight decay added to the gradient.
    case adam
    /// AdamW (Loshchilov and Hutter): weight decay applied to the weights directly.
    case adamw

    public var isAdam: Bool { self == .adam || self == .adamw }
    /// Adam's averaging rates and the term that keeps its division finite, as PyTorch's defaults.
    public static let beta1 = 0.9, beta2 = 0.999, epsilon: Float = 1e-8
}

/// Everything that determines a training run.
public struct TrainingConfiguration: Sendable, Equatable, Codable {
    // The defaults (the `fast` preset) reach 99.37-99.46% test accuracy (seeds 1-5) in about
    // 5 s on two Zen 5 cores (docs/results.md).
    public var epochs = 8
    public var batchSize = 64
    public var schedule = LearningRateSchedule.oneCycle(peak: 0.07)
    public var momentum: Float = 0.9
    public var weightDecay: Float = 5e-4
    public var initialization = Initialization.pytorch
    public var seed: UInt64 = 1
    /// Images held out from the end of the training file to select the best epoch; 0 allowed.
    public var validationSize = 5000
    /// Results are bit-identical for a given seed and thread count.
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// The thread counts a run may use (the command line's --threads, a resume state's).
    public static let threadRange = 1...256
    /// The fast kernels, or the plain loops of `PlainLeNet5` (the same numbers to rounding).
    public var kernels = KernelSet.fast
    /// The epochs and batch sizes a run may have: what `train`, the web form and a resume state
    /// are all held to (`problem`).
    public static let epochRange = 1...10_000
    public static let batchSizeRange = 1...60_000
    public var selection = ModelSelection.validation
    /// Train on only the first this many training images (after the validation split); nil for all.
    public var trainingImages: Int?
    /// How many of a training file's `available` images a run trains on: those before the
    /// validation split, at most `trainingImages` of them (0 when the split takes them all).
    public func trainingCount(available: Int) -> Int {
        max(0, min(available - validationSize, trainingImages ?? .max))
    }
    /// Distortions of the training images, drawn afresh each epoch; nil for none.
    public var augmentation: Augmentation?
    public var optimizer = Optimizer.sgd
    /// The share of each training target spread evenly over the ten classes (0: one-hot targets).
    public var labelSmoothing: Float = 0.1
    /// The least training loss the smoothed targets allow, their entropy (0 for one-hot ones):
    /// 0.50 for 0.1 over ten classes.
    public var lossFloor: Double {
        let (classes, smoothing) = (Double(LeNet5.classes), Double(labelSmoothing))
        // The target's share on the image's class, and on each of the others.
        let (label, other) = (1 - smoothing + smoothing / classes, smoothing / classes)
        return -label * log(label) - (other > 0 ? (classes - 1) * other * log(other) : 0)
    }

    public init() {}

    private enum CodingKeys: String, CodingKey {
        case epochs, batchSize, schedule, momentum, weightDecay, initialization, seed, validationSize, threads, selection
        case trainingImages, augmentation, optimizer, labelSmoothing, kernels
    }

    /// Decodes what `encode(to:)` wrote; a state saved before a field existed gets its default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epochs = try c.decode(Int.self, forKey: .epochs)
        batchSize = try c.decode(Int.self, forKey: .batchSize)
        schedule = try c.decode(LearningRateSchedule.self, forKey: .schedule)
        momentum = try c.decode(Float.self, forKey: .momentum)
        weightDecay = try c.decode(Float.self, forKey: .weightDecay)
        initialization = try c.decode(Initialization.self, forKey: .initialization)
        seed = try c.decode(UInt64.self, forKey: .seed)
        validationSize = try c.decode(Int.self, forKey: .validationSize)
        threads = try c.decode(Int.self, forKey: .threads)
        selection = try c.decode(ModelSelection.self, forKey: .selection)
        trainingImages = try c.decodeIfPresent(Int.self, forKey: .trainingImages)
        augmentation = try c.decodeIfPresent(Augmentation.self, forKey: .augmentation)
        optimizer = try c.decodeIfPresent(Optimizer.self, forKey: .optimizer) ?? .sgd
        labelSmoothing = try c.decodeIfPresent(Float.self, forKey: .labelSmoothing) ?? 0
        kernels = try c.decodeIfPresent(KernelSet.self, forKey: .kernels) ?? .fast
    }

    /// The original exercise's hyper-parameters: 20 epochs, batch 8, its learning-rate list,
    /// plain SGD, one-hot targets, weights N(0, 0.1) and biases 0.01.
    public static var original: TrainingConfiguration {
        var c = TrainingConfiguration()
        c.epochs = 20
        c.batchSize = 8
        c.schedule = .original
        c.momentum = 0
        c.weightDecay = 0
        c.labelSmoothing = 0
        c.initialization = .normal
        return c
    }

    /// The `quick` preset: the default recipe over 2 epochs of all 60,000 training images, the
    /// last epoch kept. 99.11-99.15% test accuracy for seeds 1-3 in about 1.7 s on two Zen 5
    /// cores (docs/results.md).
    public static var quick: TrainingConfiguration {
        var c = TrainingConfiguration()
        c.epochs = 2
        c.validationSize = 0
        c.selection = .last
        return c
    }

    /// The `best` preset: 30 epochs of all 60,000 training images under the `light` distortions,
    /// one-cycle rates peaking at 0.05, label smoothing 0.1, the last epoch kept (the schedule
    /// ends near zero). 99.52-99.62% test accuracy for seeds 1-3 (median 99.61%) in about 21 s
    /// on two Zen 5 cores (docs/results.md).
    public static var best: TrainingConfiguration {
        var c = TrainingConfiguration()
        c.epochs = 30
        c.schedule = .oneCycle(peak: 0.05)
        c.augmentation = .light
        c.labelSmoothing = 0.1
        c.validationSize = 0
        c.selection = .last
        return c
    }

    /// The configuration as checkpoint metadata; `init(metadata:)` reads it back exactly.
    public var metadata: [String: String] {
        [
            "epochs": "\(epochs)", "batch_size": "\(batchSize)", "schedule": schedule.token,
            "momentum": "\(momentum)", "weight_decay": "\(weightDecay)", "init": initialization.rawValue,
            "seed": "\(seed)", "validation_size": "\(validationSize)", "threads": "\(threads)",
            "selection": selection.rawValue, "train_images": trainingImages.map(String.init) ?? "all",
            "augmentation": augmentation?.token ?? "none", "optimizer": optimizer.rawValue,
            "label_smoothing": "\(labelSmoothing)", "kernels": kernels.rawValue,
        ]
    }

    /// Reads a configuration written by `metadata`.
    /// - Throws: the name of the first key that is missing or malformed.
    public init(metadata m: [String: String]) throws(ConfigurationError) {
        func value<T>(_ key: String, _ parse: (String) -> T?) throws(ConfigurationError) -> T {
            guard let text = m[key], let parsed = parse(text) else { throw ConfigurationError(key: key, value: m[key]) }
            return parsed
        }
        epochs = try value("epochs") { Int($0) }
        batchSize = try value("batch_size") { Int($0) }
        schedule = try value("schedule") { LearningRateSchedule(token: $0) }
        momentum = try value("momentum") { Float($0) }
        weightDecay = try value("weight_decay") { Float($0) }
        initialization = try value("init") { Initialization(rawValue: $0) }
        seed = try value("seed") { UInt64($0) }
        validationSize = try value("validation_size") { Int($0) }
        threads = try value("threads") { Int($0) }
        selection = try value("selection") { ModelSelection(rawValue: $0) }
        // Absent from checkpoints written before the option existed.
        trainingImages = m["train_images"].flatMap { Int($0) }
        // Absent from checkpoints written before there was a choice (these four); such a run
        // had one-hot targets.
        if m["optimizer"] != nil { optimizer = try value("optimizer") { Optimizer(rawValue: $0) } }
        labelSmoothing = 0
        if m["label_smoothing"] != nil {
            labelSmoothing = try value("label_smoothing") { Float($0).flatMap { (0..<1).contains($0) ? $0 : nil } }
        }
        if let text = m["augmentation"], text != "none" {
            augmentation = try value("augmentation") { try? Augmentation(parsing: $0) }
        }
        if m["kernels"] != nil { kernels = try value("kernels") { KernelSet(rawValue: $0) } }
    }
}

extension TrainingConfiguration {
    /// The first setting outside the ranges `lenet5 train` accepts, as (the option's field name,
    /// what is wrong); nil when every one is within. A configuration read from a resume state
    /// has been through no option parser, so its every number is checked here before use.
    public var problem: (field: String, message: String)? {
        func positive(_ rate: Float) -> Bool { rate > 0 && rate.isFinite }
        let rates: [Float] = switch schedule {
        case .constant(let rate): [rate]
        case .cosine(let base), .warmupCosine(let base, _): [base]
        case .list(let list): list
        case .oneCycle(let peak): [peak]
        }
        var warmupOK = true
        if case .warmupCosine(_, let warmup) = schedule { warmupOK = (1..<max(epochs, 2)).contains(warmup) }
        let checks: [(String, Bool, String)] = [
            ("epochs", Self.epochRange.contains(epochs), "must be between 1 and 10000, got \(epochs)"),
            ("batchSize", Self.batchSizeRange.contains(batchSize), "must be between 1 and 60000, got \(batchSize)"),
            ("learningRate", !rates.isEmpty && rates.allSatisfy(positive), "must be positive numbers, got \(rates)"),
            ("warmupEpochs", warmupOK, "must be at least 1 and fewer than the epochs (\(epochs))"),
            ("momentum", (0..<1).contains(momentum), "must be in [0, 1), got \(momentum)"),
            ("weightDecay", weightDecay >= 0 && weightDecay.isFinite, "must be a non-negative number, got \(weightDecay)"),
            ("validationSize", validationSize >= 0, "must be 0 or more, got \(validationSize)"),
            ("threads", Self.threadRange.contains(threads), "must be between 1 and 256, got \(threads)"),
            ("trainingImages", (trainingImages ?? 1) >= 1, "must be at least 1, got \(trainingImages ?? 0)"),
            ("augment", augmentation?.problem == nil, augmentation?.problem ?? ""),
            ("labelSmoothing", (0..<1).contains(labelSmoothing), "must be in [0, 1), got \(labelSmoothing)"),
            ("optimizer", optimizer != .nesterov || momentum > 0, "nesterov needs a momentum above 0"),
        ]
        return checks.first { !$0.1 }.map { ($0.0, $0.2) }
    }
}

/// A configuration key missing from, or malformed in, checkpoint metadata.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    public let key: String
    public let value: String?

    public var description: String {
        value.map { "metadata '\(key)' has the unreadable value '\($0)'" } ?? "metadata lacks '\(key)'"
    }
}
