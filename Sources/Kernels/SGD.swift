// One SIMD pass of stochastic gradient descent over a flat parameter buffer.

/// PyTorch's SGD: g = grad + weightDecay * w; v = momentum * v + g; w -= learningRate * v
/// (plain g when momentum is 0, in which case `velocity` is untouched).
public func sgdStep(
    parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, velocity: UnsafeMutablePointer<Float>,
    count: Int, learningRate: Float, momentum: Float, weightDecay: Float
) {
    for i in 0..<count {
        var g = gradients[i] + weightDecay * parameters[i]
        if momentum != 0 {
            velocity[i] = momentum * velocity[i] + g
            g = velocity[i]
        }
        parameters[i] -= learningRate * g
    }
}
