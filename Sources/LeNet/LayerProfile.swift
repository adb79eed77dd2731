/// Wall time spent in each step of the network's forward and backward pass, and the work each does.
public struct LayerProfile: Sendable {
    /// What is timed: a stage's own operation, the ReLU after it, or the loss.
    public enum Step: Hashable, Sendable {
        case layer(Stage.Name)
        case relu(Stage.Name)
        case loss

        static func layer(_ stage: Stage) -> Step { .layer(stage.name) }
        static func relu(_ stage: Stage) -> Step { .relu(stage.name) }
    }

    public enum Pass: Int, Sendable {
        case forward, backward
    }

    /// One row of the profile, derived from `LeNet5.stages`.
    public struct Row: Sendable {
        public let step: Step
        public let label: String
        /// Multiply-adds per image of the forward pass.
        public let forwardMACs: Int
        /// Multiply-adds per image of the backward pass: the weight gradient, plus the input
        /// gradient for every stage but the first (nothing needs the input's gradient).
        public let backwardMACs: Int
        /// A convolution's ReLU: its forward pass runs inside the convolution's.
        public let forwardIsFused: Bool
        /// A ReLU before a max-pool: its backward pass runs inside the pool's.
        public let backwardIsFused: Bool
    }

    /// The steps in forward order: each stage, then its ReLU; the softmax is the loss.
    public static let rows: [Row] = LeNet5.stages.enumerated().flatMap { index, stage -> [Row] in
        if stage.kind == .softmax {
            return [Row(step: .loss, label: stage.label, forwardMACs: 0, backwardMACs: 0, forwardIsFused: false, backwardIsFused: false)]
        }
        let macs = stage.forwardMACs
        var rows = [
            Row(step: .layer(stage), label: stage.label, forwardMACs: macs, backwardMACs: index == 0 ? macs : 2 * macs,
                forwardIsFused: false, backwardIsFused: false)
        ]
        if stage.relu {
            let nextIsPool = index + 1 < LeNet5.stages.count && LeNet5.stages[index + 1].kind.isMaxPool
            rows.append(
                Row(step: .relu(stage), label: "ReLU (\(stage.name))", forwardMACs: 0, backwardMACs: 0,
                    forwardIsFused: stage.kind.isConvolution, backwardIsFused: nextIsPool))
        }
        return rows
    }

    /// Nanoseconds by step and pass.
    private var nanoseconds: [Step: [UInt64]] = [:]

    public init() {}

    mutating func add(_ duration: UInt64, _ step: Step, _ pass: Pass) {
        nanoseconds[step, default: [0, 0]][pass.rawValue] += duration
    }

    public func seconds(_ step: Step, _ pass: Pass) -> Double {
        Double(nanoseconds[step]?[pass.rawValue] ?? 0) / 1e9
    }

    public var totalSeconds: Double { Double(nanoseconds.values.joined().reduce(0, +)) / 1e9 }
}

extension Stage.Kind {
    var isMaxPool: Bool {
        if case .maxPool = self { true } else { false }
    }

    var isConvolution: Bool {
        if case .convolution = self { true } else { false }
    }
}
