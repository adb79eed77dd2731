import Foundation

/// The learning rate of each epoch.
public enum LearningRateSchedule: Sendable, Equatable, CustomStringConvertible {
    /// The same rate every epoch.
    case constant(Float)
    /// Half a cosine from `base` at the first epoch down towards 0 at the end.
    case cosine(base: Float)
    /// One rate per epoch; epochs past the end keep the last rate.
    case list([Float])

    /// The original exercise's 20 rates: 0.05 x2, 0.02 x3, 0.01 x3, 0.005 x4, 0.001 x4, 0.0005 x4.
    /// (Computed, not a stored global: LeakSanitizer cannot see an array inside a global enum
    /// payload, whose pointer carries the case in its spare bits, and reports it as leaked.)
    public static var original: LearningRateSchedule {
        .list(
            [Float](repeating: 0.05, count: 2) + [Float](repeating: 0.02, count: 3) + [Float](repeating: 0.01, count: 3)
                + [Float](repeating: 0.005, count: 4) + [Float](repeating: 0.001, count: 4)
                + [Float](repeating: 0.0005, count: 4))
    }

    /// The rate for `epoch` (0-based) of a run of `epochs`.
    public func rate(epoch: Int, of epochs: Int) -> Float {
        switch self {
        case .constant(let rate):
            return rate
        case .cosine(let base):
            return base * Float(0.5 * (1 + cos(Double.pi * Double(epoch) / Double(max(epochs, 1)))))
        case .list(let rates):
            return rates[min(epoch, rates.count - 1)]
        }
    }

    /// A compact, exact text form: `constant:0.05`, `cosine:0.05` or `list:0.05,0.02`.
    public var token: String {
        switch self {
        case .constant(let rate): "constant:\(rate)"
        case .cosine(let base): "cosine:\(base)"
        case .list(let rates): "list:" + rates.map { "\($0)" }.joined(separator: ",")
        }
    }

    /// Parses `token`; nil unless every rate is positive and finite.
    public init?(token: String) {
        let parts = token.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        let rates = parts[1].split(separator: ",", omittingEmptySubsequences: false).compactMap { Float($0) }
        guard !rates.isEmpty, rates.allSatisfy({ $0 > 0 && $0.isFinite }),
            rates.count == parts[1].split(separator: ",", omittingEmptySubsequences: false).count
        else { return nil }
        switch parts[0] {
        case "constant" where rates.count == 1: self = .constant(rates[0])
        case "cosine" where rates.count == 1: self = .cosine(base: rates[0])
        case "list": self = .list(rates)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .constant(let rate): "constant \(rate)"
        case .cosine(let base): "cosine from \(base)"
        case .list(let rates) where self == .original: "original (\(rates.count) epochs, 0.05 to 0.0005)"
        case .list(let rates): "list " + rates.map { "\($0)" }.joined(separator: ",")
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
