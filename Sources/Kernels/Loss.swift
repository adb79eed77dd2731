import Foundation

// Softmax and cross-entropy over logits stored class-major: (K classes, N samples), column n is
// one sample. Combined, the gradient of the mean loss is (softmax - target) / scale.

/// Writes per-sample probabilities and returns the summed loss against the target distribution
/// q = (1 - smoothing) * onehot + smoothing / K: sum over n and k of -q[k] log p[k, n], which
/// without smoothing is sum over n of -log p[label[n], n] (PyTorch's `cross_entropy` with
/// `label_smoothing`). Max-shifted, so large logits cannot overflow.
/// - Parameters:
///   - gradient: if given, receives (p - q) / `scale` for every logit.
///   - labelSmoothing: the probability mass spread evenly over all classes, in [0, 1).
public func softmaxCrossEntropy(
    logits: UnsafePointer<Float>, labels: UnsafePointer<UInt8>, classes: Int, count: Int,
    probabilities: UnsafeMutablePointer<Float>, gradient: UnsafeMutablePointer<Float>?, scale: Float,
    labelSmoothing: Float = 0
) -> Double {
    let spread = labelSmoothing / Float(classes)
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
        let logSum = log(Double(sum))
        let labelTerm = Double(logits[label * count + n] - largest) - logSum
        if labelSmoothing == 0 {
            total -= labelTerm
        } else {
            var allTerms = 0.0
            for k in 0..<classes { allTerms += Double(logits[k * count + n] - largest) - logSum }
            total -= Double(1 - labelSmoothing) * labelTerm + Double(spread) * allTerms
        }
        if let gradient {
            for k in 0..<classes {
                let target = (k == label ? 1 - labelSmoothing : 0) + spread
                gradient[k * count + n] = (probabilities[k * count + n] - target) / scale
            }
        }
    }
    return total
}

/// The probabilities of one sample's logits, shifted by their maximum so none overflows: the
/// softmax of `softmaxCrossEntropy`, for a single row (reports, ensembles).
public func softmax(_ logits: [Double]) -> [Double] {
    let top = logits.max() ?? 0
    let e = logits.map { exp($0 - top) }
    let total = e.reduce(0, +)
    return e.map { $0 / total }
}

/// The index of the largest of `classes` values in column n of a (K, N) matrix.
public func argmaxColumn(_ values: UnsafePointer<Float>, classes: Int, count: Int, column n: Int) -> Int {
    var best = 0
    for k in 1..<classes where values[k * count + n] > values[best * count + n] { best = k }
    return best
}
