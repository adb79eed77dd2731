import Kernels
import TestSupport
import XCTest
@testable import LeNet

/// The whole network's hand-written backward pass against central differences of its loss.
final class LeNet5Tests: XCTestCase {
    /// A small batch of random images and labels in a workspace, and initialised parameters.
    private func setUp(count: Int) -> (Workspace, [Float]) {
        var generator = SplitMix64(seed: 11)
        let parameters = Initialization.pytorch.parameters(using: &generator)
        let workspace = Workspace(capacity: count)
        var random = TestRandom(seed: 12)
        let pixels = random.array(count * 32 * 32)
        for (i, v) in pixels.enumerated() { workspace.input[i] = v }
        for i in 0..<count { workspace.setLabel(UInt8(i * 3 % 10), at: i) }
        return (workspace, parameters)
    }

    /// Mean loss, and the analytic gradient of it.
    private func lossAndGradient(_ parameters: [Float], _ ws: Workspace, count: Int) -> (Double, [Float]) {
        ws.parameterGradients.update(repeating: 0, count: ParameterLayout.count)
        let loss = LeNet5.forward(parameters: parameters, workspace: ws, count: count, computeGradient: true, lossScale: Float(count))
        LeNet5.backward(parameters: parameters, workspace: ws, count: count)
        return (loss / Double(count), Array(UnsafeBufferPointer(start: ws.parameterGradients, count: ParameterLayout.count)))
    }

    /// Every element of a tensor of up to 200, else 100 drawn deterministically.
    private var sampledIndices: [Int] {
        var generator = SplitMix64(seed: 13)
        return ParameterLayout.tensors.flatMap { t in
            t.count <= 200 ? Array(t.offset..<t.offset + t.count) : (0..<100).map { _ in t.offset + generator.next(below: t.count) }
        }
    }

    /// The model's loss has thousands of kinks (ReLU, max-pool) and is computed in float32, so a
    /// difference that straddles a kink is meaningless: such points, where the forward and
    /// backward one-sided differences disagree, are skipped. The rest of each tensor's sampled
    /// gradient is compared as a vector, ||analytic - numerical|| / ||numerical||, which an
    /// off-by-one index pushes to 0.5-1.5 (see the test below) while float32 rounding leaves
    /// 0.01-4% on a correct one. Each layer's own check (LayerGradientTests) is per element.
    private func relativeErrors(_ analytic: [Float], _ parameters: [Float], _ ws: Workspace, count: Int) -> [(String, Double)] {
        let epsilon: Float = 1e-3
        let sampled = sampledIndices
        var probe = parameters
        func loss() -> Double { LeNet5.forward(parameters: probe, workspace: ws, count: count) / Double(count) }
        let center = loss()
        return ParameterLayout.tensors.map { tensor in
            var difference = 0.0, norm = 0.0, used = 0
            for i in sampled where i >= tensor.offset && i < tensor.offset + tensor.count {
                probe[i] = parameters[i] + epsilon
                let plus = loss()
                probe[i] = parameters[i] - epsilon
                let minus = loss()
                probe[i] = parameters[i]
                let forward = (plus - center) / Double(epsilon), backward = (center - minus) / Double(epsilon)
                if abs(forward - backward) > 1e-3 + 0.05 * abs(forward + backward) { continue }
                let numerical = (forward + backward) / 2
                difference += (Double(analytic[i]) - numerical) * (Double(analytic[i]) - numerical)
                norm += numerical * numerical
                used += 1
            }
            XCTAssertGreaterThan(used, 0, "\(tensor.name): every sample straddled a kink")
            return (tensor.name, (difference / max(norm, 1e-30)).squareRoot())
        }
    }

    func testParameterGradientsMatchFiniteDifferences() {
        let count = 4
        let (ws, parameters) = setUp(count: count)
        let (_, analytic) = lossAndGradient(parameters, ws, count: count)
        for (name, error) in relativeErrors(analytic, parameters, ws, count: count) {
            XCTAssertLessThan(error, 0.06, "\(name): relative error of the sampled gradient")
        }
    }

    /// The check above must be able to fail: a gradient read one element off (an off-by-one
    /// index) is rejected for every weight tensor.
    func testCheckRejectsAnOffByOneGradient() {
        let count = 4
        let (ws, parameters) = setUp(count: count)
        let (_, analytic) = lossAndGradient(parameters, ws, count: count)
        var shifted = analytic
        for tensor in ParameterLayout.tensors where !tensor.isBias {
            for i in tensor.offset..<tensor.offset + tensor.count - 1 { shifted[i] = analytic[i + 1] }
        }
        for (name, error) in relativeErrors(shifted, parameters, ws, count: count) where name.hasSuffix("weight") {
            XCTAssertGreaterThan(error, 0.3, "an off-by-one \(name) gradient went unnoticed")
        }
    }

    func testChunkedGradientEqualsWholeBatchGradient() {
        // Splitting a batch into chunks (and threads) only changes the summation order.
        let (ws, parameters) = setUp(count: 4)
        let (_, whole) = lossAndGradient(parameters, ws, count: 4)
        let halves = Workspace(capacity: 2)
        halves.parameterGradients.update(repeating: 0, count: ParameterLayout.count)
        for half in 0..<2 {
            halves.input.update(from: ws.input + half * 2 * 1024, count: 2 * 1024)
            for i in 0..<2 { halves.setLabel(ws.labels[half * 2 + i], at: i) }
            LeNet5.forward(parameters: parameters, workspace: halves, count: 2, computeGradient: true, lossScale: 4)
            LeNet5.backward(parameters: parameters, workspace: halves, count: 2)
        }
        let chunked = Array(UnsafeBufferPointer(start: halves.parameterGradients, count: ParameterLayout.count))
        for (a, b) in zip(whole, chunked) { XCTAssertEqual(a, b, accuracy: 1e-6 + 1e-4 * abs(a)) }
    }

    func testParameterLayoutMatchesPyTorchLeNet5() {
        XCTAssertEqual(ParameterLayout.count, 61_706)
        XCTAssertEqual(ParameterLayout.tensors.map(\.name), [
            "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "conv3.weight", "conv3.bias",
            "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
        ])
        XCTAssertEqual(ParameterLayout.tensor(named: "conv3.weight")?.shape, [120, 16, 5, 5])
        XCTAssertEqual(ParameterLayout.tensor(named: "fc2.bias")?.offset, 61_696)
    }

    func testInitialization() {
        var generator = SplitMix64(seed: 3)
        let uniform = Initialization.pytorch.parameters(using: &generator)
        for t in ParameterLayout.tensors {
            let bound = 1 / Float(t.fanIn).squareRoot()
            let values = uniform[t.offset..<t.offset + t.count]
            XCTAssertTrue(values.allSatisfy { abs($0) <= bound }, t.name)
            if t.count > 100 { XCTAssertGreaterThan(values.map(abs).max()!, 0.9 * bound, t.name) }
        }
        let normal = Initialization.normal.parameters(using: &generator)
        let conv3 = ParameterLayout.tensor(named: "conv3.weight")!
        let weights = normal[conv3.offset..<conv3.offset + conv3.count].map(Double.init)
        let mean = weights.reduce(0, +) / Double(weights.count)
        let std = (weights.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(weights.count)).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 0.002)
        XCTAssertEqual(std, 0.1, accuracy: 0.002)
        XCTAssertTrue(normal[ParameterLayout.tensor(named: "fc1.bias")!.offset] == 0.01)
    }
}
