// The optimisers' update steps, one pass over a flat parameter buffer, as PyTorch defines them.
import Foundation


/// PyTorch's SGD: g = grad + weightDecay * w; v = momentum * v + g; then w -= learningRate * v,
/// or with Nesterov momentum w -= learningRate * (g + momentum * v). Plain g when momentum is
/// 0, in which case `velocity` is untouched.
public func sgdStep(
    parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, velocity: UnsafeMutablePointer<Float>,
    count: Int, learningRate: Float, momentum: Float, weightDecay: Float, nesterov: Bool = false
) {
    for i in 0..<count {
        var g = gradients[i] + weightDecay * parameters[i]
        if momentum != 0 {
            velocity[i] = momentum * velocity[i] + g
            g = nesterov ? g + momentum * velocity[i] : velocity[i]
        }
        parameters[i] -= learningRate * g
    }
}

/// PyTorch's Adam (weight decay added to the gradient) or, `decoupled`, AdamW (the weights
/// shrunk by learningRate * weightDecay first), for the `step`-th update (1-based):
/// m += (1 - beta1) (g - m); v = beta2 v + (1 - beta2) g^2;
/// w -= learningRate / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + epsilon).
public func adamStep(
    parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, firstMoment: UnsafeMutablePointer<Float>,
    secondMoment: UnsafeMutablePointer<Float>, count: Int, learningRate: Float, beta1: Double, beta2: Double, epsilon: Float,
    weightDecay: Float, decoupled: Bool, step: Int
) {
    // Every scalar as PyTorch makes it: in double precision (as Python's floats are), then
    // rounded to float. (1 - Float(0.999) is 1.3e-5 away from 1 - 0.999, which shows in the weights.)
    let stepSize = Float(Double(learningRate) / (1 - pow(beta1, Double(step))))
    let correction2 = Float((1 - pow(beta2, Double(step))).squareRoot())
    let (keep2, take1, take2) = (Float(beta2), Float(1 - beta1), Float(1 - beta2))
    let shrink = 1 - learningRate * weightDecay
    for i in 0..<count {
        var g = gradients[i]
        if decoupled {
            parameters[i] *= shrink
        } else {
            g += weightDecay * parameters[i]
        }
        firstMoment[i] += take1 * (g - firstMoment[i])
        secondMoment[i] = keep2 * secondMoment[i] + take2 * g * g
        let denominator = secondMoment[i].squareRoot() / correction2 + epsilon
        parameters[i] += -stepSize * (firstMoment[i] / denominator)
    }
}
