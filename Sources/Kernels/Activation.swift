// Element-wise ReLU. The backward pass reads the forward output, so the forward may run in place.

/// y = max(x, 0), element-wise; `input` and `output` may be the same buffer.
public func reluForward(_ input: UnsafePointer<Float>, count: Int, into output: UnsafeMutablePointer<Float>) {
    var i = 0
    while i + microColumns <= count {
        store(pointwiseMax(load(input + i), SIMD16()), output + i)
        i += microColumns
    }
    while i < count {
        output[i] = max(input[i], 0)
        i += 1
    }
}

/// dx = dy where the forward output y > 0, else 0; `outputGradient` and `inputGradient` may be
/// the same buffer.
public func reluBackward(
    output: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, count: Int,
    into inputGradient: UnsafeMutablePointer<Float>
) {
    // A plain select loop: LLVM turns it into masked vector moves, where SIMD16's generic
    // `replacing(with:where:)` ran 50x slower.
    for i in 0..<count {
        inputGradient[i] = output[i] > 0 ? outputGradient[i] : 0
    }
}
