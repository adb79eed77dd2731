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
    var i = 0
    while i + microColumns <= count {
        let keep = load(output + i) .> 0
        store(SIMD16<Float>().replacing(with: load(outputGradient + i), where: keep), inputGradient + i)
        i += microColumns
    }
    while i < count {
        inputGradient[i] = output[i] > 0 ? outputGradient[i] : 0
        i += 1
    }
}
