// Element-wise ReLU. The backward pass reads the forward output, so the forward may run in place.

/// y = max(x, 0), element-wise; `input` and `output` may be the same buffer.
public func reluForward(_ input: UnsafePointer<Float>, count: Int, into output: UnsafeMutablePointer<Float>) {
    var i = 0
    while i + microColumns <= count {
        store(relu(load(input + i)), output + i)
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

/// max(v, 0) lane by lane, as `pointwiseMax(v, 0)` (so NaN gives 0), in one comparison and
/// one selection: the standard library's generic `pointwiseMax`, when not inlined, is a loop
/// over the lanes.
@inline(__always)
func relu(_ v: SIMD16<Float>) -> SIMD16<Float> {
    SIMD16<Float>().replacing(with: v, where: v .> 0)
}
