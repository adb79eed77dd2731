import Foundation

// Softmax and cross-entropy over logits stored class-major: (K classes, N samples), column n is
// one sample. Combined, the gradient of the mean loss is (softmax - onehot) / scale.

/// Writes per-sample probabilities and returns the summed loss, sum over n of -log p[label[n], n].
/// Max-shifted, so large logits cannot overflow.
/// - Parameters:
///   - gradient: if given, receives (p - onehot) / `scale` for every logit.
public func softmaxCrossEntropy(
    logits: UnsafePointer<Float>, labels: UnsafePointer<UInt8>, classes: Int, count: Int,
    probabilities: UnsafeMutablePointer<Float>, gradient: UnsafeMutablePointer<Float>?, scale: Float
) -> Double {
    var total = 0.0
    for n in 0..<count {
        var largest = -Float.infinity
        for k in 0..<classes { largest = max(largest, logits[k * count + n]) }
        var sum: Float = 0
        for k in 0..<classes {
            let e = exp(logits[k * count + n] - largest)
            probabilities[k * count + n] = e
            sum += e
        }
        for k in 0..<classes { probabilities[k * count + n] /= sum }
        let label = Int(labels[n])
        // log p = (z - max) - log(sum), exact even when p underflows to 0.
        total -= Double(logits[label * count + n] - largest) - log(Double(sum))
        if let gradient {
            for k in 0..<classes {
                let target: Float = k == label ? 1 : 0
                gradient[k * count + n] = (probabilities[k * count + n] - target) / scale
            }
        }
    }
    return total
}

/// The index of the largest of `classes` values in column n of a (K, N) matrix.
public func argmaxColumn(_ values: UnsafePointer<Float>, classes: Int, count: Int, column n: Int) -> Int {
    var best = 0
    for k in 1..<classes where values[k * count + n] > values[best * count + n] { best = k }
    return best
}
