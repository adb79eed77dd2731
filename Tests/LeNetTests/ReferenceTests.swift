import Foundation
import Kernels
import Formats
import Training
import XCTest
@testable import LeNet

/// PyTorch as the referee (as llm.c tests itself): the same network, weights and batch in
/// PyTorch 2.13 (scripts/make_reference.py wrote the fixture) must give the same logits, loss,
/// gradients and first 10 SGD-with-momentum losses as the hand-written passes here.
final class ReferenceTests: XCTestCase {
    /// Each tensor (logits, gradients, parameters and momentum after SGD steps) within this
    /// fraction of its largest value; measured: at most 8.9e-7 (docs/correctness.md).
    static let tensorTolerance: Float = 2e-6
    /// Each mean loss within this, absolute (the losses are about 2); measured: at most 3.8e-7 (docs/correctness.md).
    static let lossTolerance = 1e-6
    /// Adam after 10 steps: it divides each gradient by its own running magnitude, so a weight
    /// whose gradient is near zero moves by about the learning rate whatever the gradient's
    /// rounding, and the last bits of the gradients show in the weights. Measured on the machine
    /// of docs/correctness.md's figures: weights within 2.7e-4 of each tensor's largest, moments within
    /// 4.5e-5 (the largest over Nesterov, Adam and AdamW, AVX-512 build). A missing bias
    /// correction, or one without its square root, fails every tensor and loss here (checked by
    /// breaking each).
    static let adamWeightTolerance: Float = 1e-3
    static let adamMomentTolerance: Float = 1e-4

    /// Read once: the fixture is 7.7 MB.
    static let shared = Result { try Fixture() }

    struct Fixture {
        let tensors: [String: NamedTensor]

        init() throws {
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("Fixtures/reference.safetensors")
            let file = try SafeTensors.decode(try Data(contentsOf: url))
            tensors = Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, $0) })
        }

        func values(_ name: String) throws -> [Float] {
            try XCTUnwrap(tensors[name], "fixture lacks \(name)").values
        }

        /// A flat buffer in `ParameterLayout` order from the tensors `prefix + name`.
        func flat(prefix: String) throws -> [Float] {
            try ParameterLayout.tensors.flatMap { t in
                let tensor = try XCTUnwrap(tensors[prefix + t.name], "fixture lacks \(prefix + t.name)")
                XCTAssertEqual(tensor.shape, t.shape, t.name)
                return tensor.values
            }
        }
    }

    /// max |a - b| / max(|b|) over a tensor: error relative to the tensor's scale.
    private func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        let scale = b.map(abs).max() ?? 0
        return zip(a, b).map { abs($0 - $1) }.max().map { $0 / max(scale, 1e-12) } ?? 0
    }

    private func loadBatch(_ fixture: Fixture) throws -> (Workspace, Int) {
        let input = try fixture.values("input")
        let labels = try fixture.values("labels")
        let n = labels.count
        let ws = Workspace(capacity: n)
        ws.input.update(from: input, count: input.count)  // (N, 1, 32, 32) is (1, N, 32, 32)
        for (i, label) in labels.enumerated() { ws.setLabel(UInt8(label), at: i) }
        return (ws, n)
    }

    func testLogitsLossAndGradientsMatchPyTorch() throws {
        let fixture = try Self.shared.get()
        let parameters = try fixture.flat(prefix: "")
        let (ws, n) = try loadBatch(fixture)
        for (smoothing, prefix) in [(Float(0), ""), (0.1, "smoothing")] {
            ws.parameterGradients.update(repeating: 0, count: ParameterLayout.count)
            let loss = LeNet5.forward(
                parameters: parameters, workspace: ws, count: n, computeGradient: true, lossScale: Float(n), labelSmoothing: smoothing)
            LeNet5.backward(parameters: parameters, workspace: ws, count: n)

            // PyTorch's logits are (N, 10); ours are (10, N).
            let torchLogits = try fixture.values("logits")
            let logits = (0..<n).flatMap { i in (0..<10).map { k in ws.logits[k * n + i] } }
            XCTAssertLessThan(relativeError(logits, torchLogits), Self.tensorTolerance, "logits")
            let torchLoss = try fixture.values(prefix.isEmpty ? "loss" : "\(prefix)_loss")[0]
            XCTAssertEqual(loss / Double(n), Double(torchLoss), accuracy: Self.lossTolerance, "loss, label smoothing \(smoothing)")

            let torchGradients = try fixture.flat(prefix: prefix.isEmpty ? "grad." : "\(prefix).grad.")
            for t in ParameterLayout.tensors {
                let range = t.offset..<t.offset + t.count
                let ours = Array(UnsafeBufferPointer(start: ws.parameterGradients + t.offset, count: t.count))
                XCTAssertLessThan(
                    relativeError(ours, Array(torchGradients[range])), Self.tensorTolerance, "gradient of \(t.name), label smoothing \(smoothing)")
            }
        }
        XCTAssertGreaterThan(abs(try fixture.values("smoothing_loss")[0] - fixture.values("loss")[0]), 1e-3, "smoothing changes the loss")
    }

    /// The plain network (`PlainLeNet5`, plain loops in Double) against PyTorch too, at the same
    /// bounds: the fast kernels and the plain ones are each held to an independent referee.
    func testPlainNetworkMatchesPyTorch() throws {
        let fixture = try Self.shared.get()
        let network = PlainLeNet5(parameters: try fixture.flat(prefix: ""))
        let labels = try fixture.values("labels").map { UInt8($0) }
        let n = labels.count
        let activations = network.forward(try fixture.values("input"), count: n)
        let logits = (0..<n).flatMap { i in (0..<10).map { k in activations.logits[k * n + i] } }
        XCTAssertLessThan(relativeError(logits, try fixture.values("logits")), Self.tensorTolerance, "logits")
        for (smoothing, prefix) in [(Float(0), ""), (0.1, "smoothing")] {
            let (loss, gradient) = network.backward(activations, labels: labels, labelSmoothing: smoothing, lossScale: Float(n))
            let torchLoss = try fixture.values(prefix.isEmpty ? "loss" : "\(prefix)_loss")[0]
            XCTAssertEqual(loss / Double(n), Double(torchLoss), accuracy: Self.lossTolerance, "loss, label smoothing \(smoothing)")
            let torchGradients = try fixture.flat(prefix: prefix.isEmpty ? "grad." : "\(prefix).grad.")
            for t in ParameterLayout.tensors {
                let range = t.offset..<t.offset + t.count
                XCTAssertLessThan(
                    relativeError(Array(gradient[range]), Array(torchGradients[range])), Self.tensorTolerance,
                    "gradient of \(t.name), label smoothing \(smoothing)")
            }
        }
    }

    /// Ten steps of momentum SGD, with one-hot targets and with label smoothing 0.1.
    func testFirstTenSGDStepsMatchPyTorch() throws {
        let fixture = try Self.shared.get()
        let (ws, n) = try loadBatch(fixture)
        for (smoothing, key) in [(Float(0), "sgd_losses"), (0.1, "smoothing_losses")] {
            var parameters = try fixture.flat(prefix: "")
            var velocity = [Float](repeating: 0, count: ParameterLayout.count)
            let expected = try fixture.values(key)
            for (step, torchLoss) in expected.enumerated() {
                ws.parameterGradients.update(repeating: 0, count: ParameterLayout.count)
                let loss = LeNet5.forward(
                    parameters: parameters, workspace: ws, count: n, computeGradient: true, lossScale: Float(n), labelSmoothing: smoothing) / Double(n)
                XCTAssertEqual(loss, Double(torchLoss), accuracy: Self.lossTolerance, "\(key): loss before step \(step + 1)")
                LeNet5.backward(parameters: parameters, workspace: ws, count: n)
                sgdStep(
                    parameters: &parameters, gradients: ws.parameterGradients, velocity: &velocity,
                    count: ParameterLayout.count, learningRate: 0.05, momentum: 0.9, weightDecay: 0)
            }
            XCTAssertLessThan(try XCTUnwrap(expected.last), try XCTUnwrap(expected.first) - 0.1, "the fixture's losses should fall")
        }
    }

    /// The per-step schedules against torch.optim.lr_scheduler's OneCycleLR and a LinearLR
    /// warm-up followed by CosineAnnealingLR: 10 epochs of 7 steps, every step's rate.
    func testOneCycleAndWarmupCosineRatesMatchPyTorch() throws {
        let fixture = try Self.shared.get()
        for (schedule, key) in [(LearningRateSchedule.oneCycle(peak: 0.05), "one_cycle"), (.warmupCosine(base: 0.05, warmupEpochs: 2), "warmup_cosine")] {
            let torch = try fixture.values("schedule.\(key)")
            XCTAssertEqual(torch.count, 70)
            for (step, rate) in torch.enumerated() {
                XCTAssertEqual(schedule.rate(step: step, stepsPerEpoch: 7, epochs: 10), rate, accuracy: rate * 1e-6, "\(key), step \(step)")
            }
        }
    }

    /// The default optimiser against PyTorch's torch.optim.SGD: momentum 0.9, weight decay 5e-4
    /// (on biases too, as PyTorch applies it), and a learning rate that changes every step (the
    /// cosine schedule over 10 steps). After every step, every parameter and momentum buffer.
    func testTenStepsWithWeightDecayAndACosineRateMatchPyTorch() throws {
        let fixture = try Self.shared.get()
        var parameters = try fixture.flat(prefix: "")
        var velocity = [Float](repeating: 0, count: ParameterLayout.count)
        let (ws, n) = try loadBatch(fixture)
        let losses = try fixture.values("decay_losses"), rates = try fixture.values("decay_rates")
        for step in 0..<10 {
            let rate = LearningRateSchedule.cosine(base: 0.05).rate(epoch: step, of: 10)
            XCTAssertEqual(rate, rates[step], accuracy: 1e-8, "the schedule's rate at step \(step + 1)")
            ws.parameterGradients.update(repeating: 0, count: ParameterLayout.count)
            let loss = LeNet5.forward(parameters: parameters, workspace: ws, count: n, computeGradient: true, lossScale: Float(n)) / Double(n)
            XCTAssertEqual(loss, Double(losses[step]), accuracy: Self.lossTolerance, "loss before step \(step + 1)")
            LeNet5.backward(parameters: parameters, workspace: ws, count: n)
            sgdStep(
                parameters: &parameters, gradients: ws.parameterGradients, velocity: &velocity,
                count: ParameterLayout.count, learningRate: rate, momentum: 0.9, weightDecay: 5e-4)
            let torchParameters = try fixture.flat(prefix: "decay.\(step + 1).")
            let torchMomentum = try fixture.flat(prefix: "decay.\(step + 1).momentum.")
            for t in ParameterLayout.tensors {
                let range = t.offset..<t.offset + t.count
                XCTAssertLessThan(
                    relativeError(Array(parameters[range]), Array(torchParameters[range])), Self.tensorTolerance, "\(t.name) after step \(step + 1)")
                XCTAssertLessThan(
                    relativeError(Array(velocity[range]), Array(torchMomentum[range])), Self.tensorTolerance, "momentum of \(t.name) after step \(step + 1)")
            }
        }
    }
    /// SGD with Nesterov momentum, Adam and AdamW against torch.optim's, 10 steps each with a
    /// cosine rate: the loss before every step, then every parameter and optimiser buffer.
    /// (AdamW's weight decay is PyTorch's default, 0.01: at 0.05 the sixth step takes some unit
    /// across a ReLU's or a pool's kink, and weights 3e-6 apart end 1.5e-5 apart in the loss,
    /// in PyTorch against itself as here.)
    func testNesterovAdamAndAdamWMatchPyTorch() throws {
        let fixture = try Self.shared.get()
        let (ws, n) = try loadBatch(fixture)
        for (optimizer, base, weightDecay) in [(Optimizer.nesterov, Float(0.05), Float(5e-4)), (.adam, 1e-3, 5e-4), (.adamw, 1e-3, 0.01)] {
            var parameters = try fixture.flat(prefix: "")
            var first = [Float](repeating: 0, count: ParameterLayout.count), second = first
            let losses = try fixture.values("\(optimizer.rawValue)_losses")
            for step in 0..<10 {
                let rate = LearningRateSchedule.cosine(base: base).rate(epoch: step, of: 10)
                ws.parameterGradients.update(repeating: 0, count: ParameterLayout.count)
                let loss = LeNet5.forward(parameters: parameters, workspace: ws, count: n, computeGradient: true, lossScale: Float(n)) / Double(n)
                XCTAssertEqual(loss, Double(losses[step]), accuracy: Self.lossTolerance, "\(optimizer): loss before step \(step + 1)")
                LeNet5.backward(parameters: parameters, workspace: ws, count: n)
                if optimizer == .nesterov {
                    sgdStep(
                        parameters: &parameters, gradients: ws.parameterGradients, velocity: &first, count: ParameterLayout.count,
                        learningRate: rate, momentum: 0.9, weightDecay: weightDecay, nesterov: true)
                } else {
                    adamStep(
                        parameters: &parameters, gradients: ws.parameterGradients, firstMoment: &first, secondMoment: &second,
                        count: ParameterLayout.count, learningRate: rate, beta1: Optimizer.beta1, beta2: Optimizer.beta2,
                        epsilon: Optimizer.epsilon, weightDecay: weightDecay, decoupled: optimizer == .adamw, step: step + 1)
                }
            }
            let buffers = optimizer == .nesterov ? [("momentum_buffer", first)] : [("exp_avg", first), ("exp_avg_sq", second)]
            let torchParameters = try fixture.flat(prefix: "\(optimizer.rawValue).")
            for t in ParameterLayout.tensors {
                let range = t.offset..<t.offset + t.count
                let (weightTolerance, bufferTolerance) = optimizer == .nesterov
                    ? (Self.tensorTolerance, Self.tensorTolerance) : (Self.adamWeightTolerance, Self.adamMomentTolerance)
                XCTAssertLessThan(
                    relativeError(Array(parameters[range]), Array(torchParameters[range])), weightTolerance, "\(optimizer): \(t.name)")
                for (name, values) in buffers {
                    let torch = try fixture.flat(prefix: "\(optimizer.rawValue).\(name).")
                    XCTAssertLessThan(relativeError(Array(values[range]), Array(torch[range])), bufferTolerance, "\(optimizer): \(name) of \(t.name)")
                }
            }
        }
    }
}
