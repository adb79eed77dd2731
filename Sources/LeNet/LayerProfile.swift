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

    /// Which way through the network.
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
        /// The stage whose forward pass runs this step's too: a convolution's ReLU, the
        /// convolution; a max-pool after a convolution that pools as it convolves
        /// (`LeNet5.stagesPoolingInForward`), that convolution.
        public let forwardRunsIn: Stage.Name?
        /// The stage whose backward pass runs this step's too: a ReLU before a max-pool, the
        /// pool; the ReLU and the pool after a convolution that reads the pool's gradient
        /// (`LeNet5.stagesReadingPoolGradient`), that convolution.
        public let backwardRunsIn: Stage.Name?
    }

    /// The steps in forward order: each stage, then its ReLU; the softmax is the loss.
    public static let rows: [Row] = {
        let stages = LeNet5.stages
        let readers = Set(LeNet5.stagesReadingPoolGradient.map(\.name))
        let poolers = Set(LeNet5.stagesPoolingInForward.map(\.name))
        return stages.enumerated().flatMap { index, stage -> [Row] in
            if stage.kind == .softmax {
                return [Row(step: .loss, label: stage.label, forwardMACs: 0, backwardMACs: 0, forwardRunsIn: nil, backwardRunsIn: nil)]
            }
            let macs = stage.forwardMACs
            // A pool may run its forward or backward pass in the convolution before it.
            let convolution = index > 0 && stage.kind.isMaxPool ? stages[index - 1].name : nil
            var rows = [
                Row(step: .layer(stage), label: stage.label, forwardMACs: macs, backwardMACs: index == 0 ? macs : 2 * macs,
                    forwardRunsIn: convolution.map(poolers.contains) == true ? convolution : nil,
                    backwardRunsIn: convolution.map(readers.contains) == true ? convolution : nil)
            ]
            if stage.relu {
                let pool = index + 1 < stages.count && stages[index + 1].kind.isMaxPool ? stages[index + 1].name : nil
                rows.append(
                    Row(step: .relu(stage), label: "ReLU (\(stage.name))", forwardMACs: 0, backwardMACs: 0,
                        forwardRunsIn: stage.kind.isConvolution ? stage.name : nil,
                        backwardRunsIn: readers.contains(stage.name) ? stage.name : pool))
            }
            return rows
        }
    }()

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
