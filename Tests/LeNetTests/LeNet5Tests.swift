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

    /// The whole network against central differences, tensor by tensor (`GradientCheck.model`):
    /// each tensor's sampled gradient as a vector, kink-straddling points skipped.
    func testParameterGradientsMatchFiniteDifferences() {
        for r in GradientCheck.model() {
            XCTAssertLessThan(r.worst, GradientCheck.modelTolerance, "\(r.tensor): relative error of the sampled gradient")
        }
    }

    /// The check above must be able to fail: a gradient read one element off (an off-by-one
    /// index) is rejected for every weight tensor.
    func testCheckRejectsAnOffByOneGradient() {
        let results = GradientCheck.model { gradient in
            let analytic = gradient
            for tensor in ParameterLayout.tensors where !tensor.isBias {
                for i in tensor.offset..<tensor.offset + tensor.count - 1 { gradient[i] = analytic[i + 1] }
            }
        }
        for r in results where r.tensor.hasSuffix("weight") {
            XCTAssertGreaterThan(r.worst, 0.3, "an off-by-one \(r.tensor) gradient went unnoticed")
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
