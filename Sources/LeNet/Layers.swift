import Kernels

// The layers of LeNet-5 as forward/backward pairs over channel-major activations (C, N, H, W).
// Each backward pass follows one contract (as in dlib): given outputGradient = dL/d(output), it
// accumulates dL/d(parameters) into the parameter gradients and, when asked, writes
// dL/d(input). Whatever backward needs from forward is passed back in explicitly.

/// A stride-1, unpadded 2-D convolution: weight (F, C, R, R), bias (F).
public struct Convolution: Sendable {
    public let inputChannels: Int
    public let outputChannels: Int
    public let kernel: Int

    public func shape(height: Int, width: Int, count: Int) -> ConvolutionShape {
        ConvolutionShape(
            inputChannels: inputChannels, outputChannels: outputChannels, height: height, width: width,
            kernel: kernel, count: count)
    }

    /// output (F, N, OH, OW) = weight * input + bias: the direct kernel for one input channel
    /// (C1), im2col + GEMM otherwise (C5). C3 runs `pooledConvolutionForward` instead, its ReLU
    /// and S4 inside it.
    /// - Parameters:
    ///   - input: (C, N, H, W).
    ///   - weight: (F, C, K, K).
    ///   - bias: (F).
    ///   - shape: the layer's geometry for this chunk.
    ///   - relu: apply the ReLU that follows the layer too: as the direct kernel stores its
    ///     sums (C1 and its ReLU: 224 -> 204 ms per epoch, one thread, AVX2 build), or as a pass
    ///     over the GEMM's output.
    ///   - output: (F, N, OH, OW).
    ///   - columns: scratch of `shape.columnsSize` floats, left holding the column matrix.
    ///   - gemmWorkspace: the GEMM's packing buffers.
    public func forward(
        _ input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, _ shape: ConvolutionShape,
        relu: Bool = false, output: UnsafeMutablePointer<Float>, columns: UnsafeMutablePointer<Float>, gemmWorkspace: GEMMWorkspace
    ) {
        if supportsDirectConvolution(shape) {
            directConvolutionForward(input, weight: weight, bias: bias, shape, relu: relu, into: output)
            return
        }
        im2col(input, shape, into: columns)
        gemm(
            transposeA: false, transposeB: false, m: outputChannels, n: shape.positions, k: shape.patchSize,
            a: weight, lda: shape.patchSize, b: columns, ldb: shape.positions, c: output, ldc: shape.positions,
            accumulate: false, workspace: gemmWorkspace)
        addBias(output, bias: bias, channels: outputChannels, positions: shape.positions)
        if relu { reluForward(output, count: shape.outputSize, into: output) }
    }

    /// dW += dY columnsᵀ, db += row sums of dY, and dX = col2im(Wᵀ dY) when `inputGradient` is
    /// given. C1 and C3 run the pooled gradient kernels instead.
    /// - Parameters:
    ///   - columns: the column matrix of `input`, as `forward` left it.
    ///   - outputGradient: dY, (F, N, OH, OW).
    ///   - weight: (F, C, K, K).
    ///   - shape: the layer's geometry for this chunk.
    ///   - weightGradient: dW, accumulated into.
    ///   - biasGradient: db, accumulated into.
    ///   - inputGradient: dX, (C, N, H, W), overwritten; nil when nothing below needs it.
    ///   - columnGradient: scratch of `shape.columnsSize` floats.
    ///   - gemmWorkspace: the GEMM's packing buffers.
    public func backward(
        columns: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, _ shape: ConvolutionShape,
        weightGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?, columnGradient: UnsafeMutablePointer<Float>,
        gemmWorkspace: GEMMWorkspace
    ) {
        accumulateBiasGradient(outputGradient, channels: outputChannels, positions: shape.positions, into: biasGradient)
        gemm(
            transposeA: false, transposeB: true, m: outputChannels, n: shape.patchSize, k: shape.positions,
            a: outputGradient, lda: shape.positions, b: columns, ldb: shape.positions,
            c: weightGradient, ldc: shape.patchSize, accumulate: true, workspace: gemmWorkspace)
        guard let inputGradient else { return }
        gemm(
            transposeA: true, transposeB: false, m: shape.patchSize, n: shape.positions, k: outputChannels,
            a: weight, lda: shape.patchSize, b: outputGradient, ldb: shape.positions,
            c: columnGradient, ldc: shape.positions, accumulate: false, workspace: gemmWorkspace)
        col2im(columnGradient, shape, into: inputGradient)
    }
}

/// A fully-connected layer on (features, N) activations: weight (O, I), bias (O).
public struct Linear: Sendable {
    public let inputFeatures: Int
    public let outputFeatures: Int

    /// output (O, N) = weight (O, I) x input (I, N) + bias.
    public func forward(
        _ input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, count: Int,
        output: UnsafeMutablePointer<Float>, gemmWorkspace: GEMMWorkspace
    ) {
        gemm(
            transposeA: false, transposeB: false, m: outputFeatures, n: count, k: inputFeatures,
            a: weight, lda: inputFeatures, b: input, ldb: count, c: output, ldc: count,
            accumulate: false, workspace: gemmWorkspace)
        addBias(output, bias: bias, channels: outputFeatures, positions: count)
    }

    /// dW += dY inputᵀ, db += row sums of dY, dX = Wᵀ dY.
    public func backward(
        _ input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, weight: UnsafePointer<Float>, count: Int,
        weightGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>, gemmWorkspace: GEMMWorkspace
    ) {
        accumulateBiasGradient(outputGradient, channels: outputFeatures, positions: count, into: biasGradient)
        gemm(
            transposeA: false, transposeB: true, m: outputFeatures, n: inputFeatures, k: count,
            a: outputGradient, lda: count, b: input, ldb: count, c: weightGradient, ldc: inputFeatures,
            accumulate: true, workspace: gemmWorkspace)
        gemm(
            transposeA: true, transposeB: false, m: inputFeatures, n: count, k: outputFeatures,
            a: weight, lda: inputFeatures, b: outputGradient, ldb: count, c: inputGradient, ldc: count,
            accumulate: false, workspace: gemmWorkspace)
    }
}
