import Foundation
import Imaging
import Kernels

/// What the hand-written backward pass computes for one image and a chosen target class: the
/// gradient of the cross-entropy loss for that target with respect to every stage's output, to
/// the input pixels, and with respect to the C1 and C3 kernels. The page's backward view.
public struct Backpropagation: Sendable, Codable, Equatable {
    /// The class the loss is measured against.
    public let target: Int
    /// -log p(target).
    public let loss: Float
    public let probabilities: [Float]
    /// dLoss/d(pixel), for each pixel of the 28x28 prepared image on its 0-255 scale: where more
    /// ink would raise the loss (positive) or lower it (negative).
    public let input: [Float]
    /// Each stage's output gradient, in forward order (as `Classification.activations` holds the
    /// outputs). Where a ReLU follows the stage, the gradient is the one that passes it: zero
    /// where the unit is off. F7's is dLoss/d(logits) = p - one-hot(target).
    public let stages: [Activation]
    /// dLoss/d(weight) of C1 and C3, (outputs, inputs, 5, 5): what one SGD step on this image
    /// would subtract, times the learning rate.
    public let kernels: [Activation]
}

extension Classifier {
    /// The backward pass for `image` (prepared, `LeNet5.imageSide` square) against class `target`:
    /// `LeNet5.forward` and `LeNet5.backward` on a batch of one, the very calls training makes
    /// (`Runner.gradient`), then the pools' backward passes and C1's input gradient, which
    /// training never needs, by the same kernels (`maxPoolBackward`,
    /// `pooledConvolutionInputGradient`).
    /// - Precondition: the image has that size; `target` is a class.
    public func backpropagate(prepared image: GrayImage, target: Int) -> Backpropagation {
        precondition(image.width == LeNet5.imageSide && image.height == LeNet5.imageSide)
        precondition((0..<LeNet5.classes).contains(target))
        let ws = checkOut()
        defer { checkIn(ws) }
        image.pixels.withUnsafeBufferPointer { model.normalization.fill(ws.inputImage(0), fromPixels: $0.baseAddress!) }
        ws.setLabel(UInt8(target), at: 0)
        ws.parameterGradients.update(repeating: 0, count: ParameterLayout.count)
        return model.parameters.withUnsafeBufferPointer { buffer in
            let parameters = buffer.baseAddress!
            let loss = LeNet5.forward(parameters: parameters, workspace: ws, count: 1, computeGradient: true, keepingActivations: true)
            LeNet5.backward(parameters: parameters, workspace: ws, count: 1)
            let (c1, s2, c3, s4) = (LeNet5.c1, LeNet5.s2, LeNet5.c3, LeNet5.s4)
            // The gradients at C1's and C3's outputs: the pools' winners get their window's gradient.
            var c1Gradient = [Float](repeating: 0, count: c1.output.count)
            var c3Gradient = [Float](repeating: 0, count: c3.output.count)
            maxPoolBackward(
                outputGradient: ws.s2Gradient, argmax: ws.s2Argmax, planes: c1.output.channels, height: c1.output.height,
                width: c1.output.width, pooledOutput: ws.s2, into: &c1Gradient)
            maxPoolBackward(
                outputGradient: ws.s4Gradient, argmax: ws.s4Argmax, planes: c3.output.channels, height: c3.output.height,
                width: c3.output.width, pooledOutput: ws.s4, into: &c3Gradient)
            // C1's input gradient, on the padded input plane, then per pixel of the 28x28 image.
            let side = LeNet5.inputSide, pad = LeNet5.padding, imageSide = LeNet5.imageSide
            var plane = [Float](repeating: 0, count: side * side)
            pooledConvolutionInputGradient(
                pooledGradient: ws.s2Gradient, argmax: ws.s2Argmax, pooledOutput: ws.s2, weight: parameters + c1.weight!.offset,
                LeNet5.shapes(count: 1).c1, into: &plane)
            let perIntensity = 1 / (255 * model.normalization.standardDeviation)
            let input = (0..<imageSide * imageSide).map { i in plane[(i / imageSide + pad) * side + i % imageSide + pad] * perIntensity }
            func values(_ pointer: UnsafePointer<Float>, _ count: Int) -> [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
            let gradients: [(Stage, [Float])] = [
                (c1, c1Gradient), (s2, values(ws.s2Gradient, s2.output.count)), (c3, c3Gradient),
                (s4, values(ws.s4Gradient, s4.output.count)), (LeNet5.c5, values(ws.c5Gradient, LeNet5.c5.output.count)),
                (LeNet5.f6, values(ws.f6Gradient, LeNet5.f6.output.count)), (LeNet5.f7, values(ws.logitsGradient, LeNet5.f7.output.count)),
            ]
            let kernels = LeNet5.spatialConvolutions.map { stage in
                let weight = stage.weight!
                return Activation(
                    stage: stage.name, shape: TensorShape(channels: weight.shape[0] * weight.shape[1], height: weight.shape[2], width: weight.shape[3]),
                    values: values(ws.parameterGradients + weight.offset, weight.count))
            }
            return Backpropagation(
                target: target, loss: Float(loss), probabilities: values(ws.probabilities, LeNet5.classes), input: input,
                stages: gradients.map { Activation(stage: $0.0.name, shape: $0.0.output, values: $0.1) }, kernels: kernels)
        }
    }
}
