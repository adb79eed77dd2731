// Plain, obviously-correct versions of the fast kernels, written straight from the definitions
// with Double accumulation. The tests hold the fast kernels to these on many shapes.

public enum Reference {
    /// C = op(A) op(B) (+ C when `accumulate`), same conventions as `gemm`.
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        a: [Float], lda: Int, b: [Float], ldb: Int, c: inout [Float], ldc: Int, accumulate: Bool
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var sum = accumulate ? Double(c[i * ldc + j]) : 0
                for p in 0..<k {
                    let x = transposeA ? a[p * lda + i] : a[i * lda + p]
                    let y = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(x) * Double(y)
                }
                c[i * ldc + j] = Float(sum)
            }
        }
    }

    /// out[f, n, y, x] = bias[f] + sum over c, kh, kw of weight[f, c, kh, kw] * input[c, n, y + kh, x + kw].
    public static func convolutionForward(_ input: [Float], weight: [Float], bias: [Float], _ s: ConvolutionShape) -> [Float] {
        var out = [Float](repeating: 0, count: s.outputSize)
        for f in 0..<s.outputChannels {
            for i in 0..<s.count {
                for y in 0..<s.outputHeight {
                    for x in 0..<s.outputWidth {
                        var sum = Double(bias[f])
                        for c in 0..<s.inputChannels {
                            for kh in 0..<s.kernel {
                                for kw in 0..<s.kernel {
                                    let w = weight[((f * s.inputChannels + c) * s.kernel + kh) * s.kernel + kw]
                                    let v = input[((c * s.count + i) * s.height + y + kh) * s.width + x + kw]
                                    sum += Double(w) * Double(v)
                                }
                            }
                        }
                        out[((f * s.count + i) * s.outputHeight + y) * s.outputWidth + x] = Float(sum)
                    }
                }
            }
        }
        return out
    }

    /// The three gradients of `convolutionForward` given dL/d(out): every product
    /// weight * input in the forward sum sends outputGradient to both factors.
    public static func convolutionBackward(
        _ input: [Float], weight: [Float], outputGradient: [Float], _ s: ConvolutionShape
    ) -> (weight: [Float], bias: [Float], input: [Float]) {
        var dWeight = [Double](repeating: 0, count: weight.count)
        var dBias = [Double](repeating: 0, count: s.outputChannels)
        var dInput = [Double](repeating: 0, count: input.count)
        for f in 0..<s.outputChannels {
            for i in 0..<s.count {
                for y in 0..<s.outputHeight {
                    for x in 0..<s.outputWidth {
                        let g = Double(outputGradient[((f * s.count + i) * s.outputHeight + y) * s.outputWidth + x])
                        dBias[f] += g
                        for c in 0..<s.inputChannels {
                            for kh in 0..<s.kernel {
                                for kw in 0..<s.kernel {
                                    let wi = ((f * s.inputChannels + c) * s.kernel + kh) * s.kernel + kw
                                    let xi = ((c * s.count + i) * s.height + y + kh) * s.width + x + kw
                                    dWeight[wi] += g * Double(input[xi])
                                    dInput[xi] += g * Double(weight[wi])
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dWeight.map(Float.init), dBias.map(Float.init), dInput.map(Float.init))
    }

    /// 2x2, stride-2 max-pooling over `planes` planes of height x width.
    public static func maxPool(_ input: [Float], planes: Int, height: Int, width: Int) -> [Float] {
        var out: [Float] = []
        for p in 0..<planes {
            for y in 0..<height / 2 {
                for x in 0..<width / 2 {
                    let window = [(0, 0), (0, 1), (1, 0), (1, 1)].map { dy, dx in
                        input[(p * height + 2 * y + dy) * width + 2 * x + dx]
                    }
                    out.append(window.reduce(-Float.infinity, max))
                }
            }
        }
        return out
    }
}
