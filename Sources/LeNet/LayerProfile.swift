/// Wall time spent in each layer's forward and backward pass, and the work each does.
public struct LayerProfile: Sendable {
    /// LeNet-5's layers in forward order.
    public enum Layer: Int, CaseIterable, Sendable {
        case conv1, relu1, pool1, conv2, relu2, pool2, conv3, relu3, fc1, relu4, fc2, loss

        public var label: String {
            switch self {
            case .conv1: "C1 conv 5x5 1->6"
            case .relu1: "ReLU (C1)"
            case .pool1: "S2 max-pool"
            case .conv2: "C3 conv 5x5 6->16"
            case .relu2: "ReLU (C3)"
            case .pool2: "S4 max-pool"
            case .conv3: "C5 conv 5x5 16->120"
            case .relu3: "ReLU (C5)"
            case .fc1: "F6 fc 120->84"
            case .relu4: "ReLU (F6)"
            case .fc2: "F7 fc 84->10"
            case .loss: "softmax + cross-entropy"
            }
        }

        /// Multiply-adds per image of the forward pass.
        public var forwardMACs: Int {
            switch self {
            case .conv1: 6 * 28 * 28 * 25
            case .conv2: 16 * 10 * 10 * 150
            case .conv3: 120 * 400
            case .fc1: 84 * 120
            case .fc2: 10 * 84
            default: 0
            }
        }

        /// The ReLUs before a max-pool: their backward pass runs inside the pool's.
        public var backwardIsFused: Bool { self == .relu1 || self == .relu2 }

        /// Multiply-adds per image of the backward pass: the weight gradient, plus the input
        /// gradient for every layer but C1.
        public var backwardMACs: Int { self == .conv1 ? forwardMACs : 2 * forwardMACs }
    }

    public enum Pass: Int, Sendable {
        case forward, backward
    }

    /// Nanoseconds by [layer][pass].
    public private(set) var nanoseconds = [[UInt64]](repeating: [0, 0], count: Layer.allCases.count)

    public init() {}

    mutating func add(_ duration: UInt64, _ layer: Layer, _ pass: Pass) {
        nanoseconds[layer.rawValue][pass.rawValue] += duration
    }

    public func seconds(_ layer: Layer, _ pass: Pass) -> Double {
        Double(nanoseconds[layer.rawValue][pass.rawValue]) / 1e9
    }

    public var totalSeconds: Double { Double(nanoseconds.joined().reduce(0, +)) / 1e9 }
}
