import Foundation
import LeNet

/// The learning rate of each step. The first three change only from one epoch to the next; the
/// last two change every step.
public enum LearningRateSchedule: Sendable, Equatable, CustomStringConvertible {
    /// The same rate every epoch.
    case constant(Float)
    /// Half a cosine from `base` at the first epoch down towards 0 at the end.
    case cosine(base: Float)
    /// One rate per epoch; epochs past the end keep the last rate.
    case list([Float])
    /// A linear warm-up over the first `warmupEpochs` epochs' W steps (step s at base (s + 1) / W),
    /// then half a cosine from `base` down towards 0 at the last step: PyTorch's `SequentialLR`
    /// of `LinearLR(start_factor=1/W, total_iters=W-1)` and `CosineAnnealingLR(T_max=T-W)`.
    case warmupCosine(base: Float, warmupEpochs: Int)
    /// Smith's one cycle, as PyTorch's `OneCycleLR` with its defaults: up from peak / 25 to `peak`
    /// along half a cosine over the first 30% of the steps, then down to peak / 250,000 (the
    /// momentum is not cycled: `cycle_momentum=False`).
    case oneCycle(peak: Float)

    /// The original exercise's 20 rates: 0.05 x2, 0.02 x3, 0.01 x3, 0.005 x4, 0.001 x4, 0.0005 x4.
    /// (Computed, not a stored global: LeakSanitizer cannot see an array inside a global enum
    /// payload, whose pointer carries the case in its spare bits, and reports it as leaked.)
    public static var original: LearningRateSchedule {
        .list(
            [Float](repeating: 0.05, count: 2) + [Float](repeating: 0.02, count: 3) + [Float](repeating: 0.01, count: 3)
                + [Float](repeating: 0.005, count: 4) + [Float](repeating: 0.001, count: 4)
                + [Float](repeating: 0.0005, count: 4))
    }

    /// The rate of step `step` (0-based, counted from the start of the run) when every epoch
    /// has `stepsPerEpoch` steps and the run `epochs` epochs.
    public func rate(step: Int, stepsPerEpoch: Int, epochs: Int) -> Float {
        let epoch = step / max(stepsPerEpoch, 1)
        let total = max(stepsPerEpoch * epochs, 1)
        func halfCosine(_ progress: Double) -> Double { 0.5 * (1 + cos(Double.pi * progress)) }
        switch self {
        case .constant(let rate):
            return rate
        case .cosine(let base):
            return base * Float(halfCosine(Double(epoch) / Double(max(epochs, 1))))
        case .list(let rates):
            return rates[min(epoch, rates.count - 1)]
        case .warmupCosine(let base, let warmupEpochs):
            let warmup = min(warmupEpochs * stepsPerEpoch, total - 1)
            if step < warmup { return Float(Double(base) * Double(step + 1) / Double(warmup)) }
            return Float(Double(base) * halfCosine(Double(step - warmup) / Double(total - warmup)))
        case .oneCycle(let peak):
            // OneCycleLR's phases end at steps 0.3 T - 1 and T - 1, the second starting where
            // the first ends.
            let start = Double(peak) / 25, end = start / 10_000
            let rise = 0.3 * Double(total) - 1, last = Double(total - 1)
            func anneal(_ from: Double, _ to: Double, _ progress: Double) -> Float {
                Float(to + (from - to) * halfCosine(min(max(progress, 0), 1)))
            }
            if Double(step) <= rise { return anneal(start, Double(peak), rise > 0 ? Double(step) / rise : 1) }
            return anneal(Double(peak), end, last > rise ? (Double(step) - rise) / (last - rise) : 1)
        }
    }

    /// The rate of epoch `epoch` (0-based) of `epochs` when each epoch is one step.
    public func rate(epoch: Int, of epochs: Int) -> Float {
        rate(step: epoch, stepsPerEpoch: 1, epochs: epochs)
    }

    /// The rate a person names for it: the first epoch's for the first three, the one the
    /// warm-up reaches, the peak of the cycle.
    public var base: Float {
        switch self {
        case .constant(let rate): rate
        case .cosine(let base), .warmupCosine(let base, _): base
        case .list(let rates): rates[0]
        case .oneCycle(let peak): peak
        }
    }

    /// A compact, exact text form: `constant:0.05`, `cosine:0.05`, `list:0.05,0.02`,
    /// `warmup-cosine:0.05,2` (base, warm-up epochs) or `one-cycle:0.05`.
    public var token: String {
        switch self {
        case .constant(let rate): "constant:\(rate)"
        case .cosine(let base): "cosine:\(base)"
        case .list(let rates): "list:" + rates.map { "\($0)" }.joined(separator: ",")
        case .warmupCosine(let base, let warmupEpochs): "warmup-cosine:\(base),\(warmupEpochs)"
        case .oneCycle(let peak): "one-cycle:\(peak)"
        }
    }

    /// Parses `token`; nil unless every number is positive and finite (and the warm-up's epochs
    /// a whole number).
    public init?(token: String) {
        let parts = token.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        let fields = parts[1].split(separator: ",", omittingEmptySubsequences: false)
        let rates = fields.compactMap { Float($0) }
        guard !rates.isEmpty, rates.allSatisfy({ $0 > 0 && $0.isFinite }), rates.count == fields.count else { return nil }
        switch parts[0] {
        case "constant" where rates.count == 1: self = .constant(rates[0])
        case "cosine" where rates.count == 1: self = .cosine(base: rates[0])
        case "list": self = .list(rates)
        case "warmup-cosine" where rates.count == 2:
            guard let epochs = Int(fields[1]) else { return nil }
            self = .warmupCosine(base: rates[0], warmupEpochs: epochs)
        case "one-cycle" where rates.count == 1: self = .oneCycle(peak: rates[0])
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .constant(let rate): "constant \(rate)"
        case .cosine(let base): "cosine from \(base)"
        case .list(let rates) where self == .original: "original (\(rates.count) epochs, 0.05 to 0.0005)"
        case .list(let rates): "list " + rates.map { "\($0)" }.joined(separator: ",")
        case .warmupCosine(let base, let warmupEpochs):
            "\(warmupEpochs)-epoch warm-up to \(base), then cosine"
        case .oneCycle(let peak): "one cycle, peak \(peak)"
        }
    }
}

extension LearningRateSchedule: Codable {
    /// Encoded as its `token`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let token = try container.decode(String.self)
        guard let schedule = LearningRateSchedule(token: token) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(token)' is not a learning-rate schedule")
        }
        self = schedule
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(token)
    }
}
