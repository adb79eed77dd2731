import Foundation

// Plain, obviously-correct versions of the fast kernels, written straight from the definitions
// (docs/how-it-works.md derives each) with Double accumulation: one loop per index of the
// formula, no SIMD, no fusion. The tests hold the fast kernels to these on many shapes, and
// `PlainLeNet5` chains them into the whole network (`lenet5 train --kernels reference`).
// Layouts as the fast kernels': activations (C, N, H, W), fully-connected inputs (I, N),
// logits (K, N).

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

    /// `maxPool`'s input gradient: each window's gradient goes to the input that won it (the
    /// first of equal maxima in row order, as the fast kernel records), the other three get 0.
    public static func maxPoolBackward(_ input: [Float], outputGradient: [Float], planes: Int, height: Int, width: Int) -> [Float] {
        var dInput = [Float](repeating: 0, count: input.count)
        for p in 0..<planes {
            for y in 0..<height / 2 {
                for x in 0..<width / 2 {
                    var winner = (p * height + 2 * y) * width + 2 * x
                    for (dy, dx) in [(0, 1), (1, 0), (1, 1)] {
                        let i = (p * height + 2 * y + dy) * width + 2 * x + dx
                        if input[i] > input[winner] { winner = i }
                    }
                    dInput[winner] += outputGradient[(p * height / 2 + y) * (width / 2) + x]
                }
            }
        }
        return dInput
    }

    /// max(x, 0), element by element.
    public static func relu(_ x: [Float]) -> [Float] {
        x.map { max($0, 0) }
    }

    /// The ReLU's input gradient from its output: dY where the output is above 0, else 0
    /// (ReLU'(0) = 0, as in PyTorch).
    public static func reluBackward(output: [Float], outputGradient: [Float]) -> [Float] {
        zip(output, outputGradient).map { y, dy in y > 0 ? dy : 0 }
    }

    /// Y[o, n] = b[o] + sum over i of W[o, i] * X[i, n]: input (I, N), weight (O, I), output (O, N).
    public static func linearForward(_ input: [Float], weight: [Float], bias: [Float], inputs: Int, outputs: Int, count: Int) -> [Float] {
        var out = [Float](repeating: 0, count: outputs * count)
        for o in 0..<outputs {
            for n in 0..<count {
                var sum = Double(bias[o])
                for i in 0..<inputs { sum += Double(weight[o * inputs + i]) * Double(input[i * count + n]) }
                out[o * count + n] = Float(sum)
            }
        }
        return out
    }

    /// The three gradients of `linearForward` given dL/dY: dW = dY Xᵀ, db = row sums of dY,
    /// dX = Wᵀ dY.
    public static func linearBackward(
        _ input: [Float], weight: [Float], outputGradient: [Float], inputs: Int, outputs: Int, count: Int
    ) -> (weight: [Float], bias: [Float], input: [Float]) {
        var dWeight = [Double](repeating: 0, count: weight.count)
        var dBias = [Double](repeating: 0, count: outputs)
        var dInput = [Double](repeating: 0, count: input.count)
        for o in 0..<outputs {
            for n in 0..<count {
                let g = Double(outputGradient[o * count + n])
                dBias[o] += g
                for i in 0..<inputs {
                    dWeight[o * inputs + i] += g * Double(input[i * count + n])
                    dInput[i * count + n] += g * Double(weight[o * inputs + i])
                }
            }
        }
        return (dWeight.map(Float.init), dBias.map(Float.init), dInput.map(Float.init))
    }

    /// The summed cross-entropy of logits (K, N) against targets q = (1 - smoothing) onehot(label)
    /// + smoothing / K, and its gradient (p - q) / `scale` per logit, p the softmax of each column.
    public static func softmaxCrossEntropy(
        logits: [Float], labels: [UInt8], classes: Int, labelSmoothing: Float = 0, scale: Float
    ) -> (loss: Double, gradient: [Float]) {
        let count = labels.count
        var loss = 0.0
        var gradient = [Float](repeating: 0, count: logits.count)
        for n in 0..<count {
            let z = (0..<classes).map { Double(logits[$0 * count + n]) }
            let m = z.max()!
            let logSum = log(z.map { exp($0 - m) }.reduce(0, +))
            for k in 0..<classes {
                let logP = z[k] - m - logSum
                let q = (k == Int(labels[n]) ? 1 - Double(labelSmoothing) : 0) + Double(labelSmoothing) / Double(classes)
                loss -= q * logP
                gradient[k * count + n] = Float((exp(logP) - q) / Double(scale))
            }
        }
        return (loss, gradient)
    }
}
