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

    /// output (F, N, OH, OW) = weight * input + bias, by the fastest kernel for the shape: direct
    /// (one input channel: C1), row-tiled (5x5 kernels: C3), implicit GEMM (up to 16 filters) or
    /// im2col + GEMM (C5).
    /// - Parameters:
    ///   - relu: apply the ReLU that follows the layer too: as the direct kernel stores its
    ///     sums (C1 and its ReLU: 224 -> 204 ms per epoch, one thread, AVX2 build), or as a pass over
    ///     the output after the others (in the row-tiled kernel's scalar stores it saved nothing).
    ///   - columns: scratch of `shape.scratchSize` floats.
    public func forward(
        _ input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, _ shape: ConvolutionShape,
        relu: Bool = false, output: UnsafeMutablePointer<Float>, columns: UnsafeMutablePointer<Float>, gemmWorkspace: GEMMWorkspace
    ) {
        if supportsDirectConvolution(shape) {
            directConvolutionForward(input, weight: weight, bias: bias, shape, relu: relu, into: output)
            return
        }
        if supportsRowTiledConvolution(shape) {
            rowTiledConvolutionForward(input, weight: weight, bias: bias, shape, scratch: columns, into: output)
        } else if supportsImplicitConvolution(shape) {
            implicitConvolutionForward(input, weight: weight, bias: bias, shape, scratch: columns, into: output)
        } else {
            im2col(input, shape, into: columns)
            gemm(
                transposeA: false, transposeB: false, m: outputChannels, n: shape.positions, k: shape.patchSize,
                a: weight, lda: shape.patchSize, b: columns, ldb: shape.positions, c: output, ldc: shape.positions,
                accumulate: false, workspace: gemmWorkspace)
            addBias(output, bias: bias, channels: outputChannels, positions: shape.positions)
        }
        if relu { reluForward(output, count: shape.outputSize, into: output) }
    }

    /// dW += dY columnsᵀ, db += row sums of dY, and dX = col2im(Wᵀ dY) when `inputGradient` is given.
    /// - Parameters:
    ///   - columns: the buffer `forward` was given, still holding the unfolded input when the
    ///     forward pass built one (im2col + GEMM).
    ///   - columnGradient: scratch of `shape.scratchSize` floats.
    public func backward(
        _ input: UnsafePointer<Float>, columns: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, _ shape: ConvolutionShape,
        weightGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?, columnGradient: UnsafeMutablePointer<Float>,
        gemmWorkspace: GEMMWorkspace
    ) {
        accumulateBiasGradient(outputGradient, channels: outputChannels, positions: shape.positions, into: biasGradient)
        if supportsRowTiledWeightGradient(shape) {
            #if VECTOR512  // the only builds where it is supported
            rowTiledConvolutionWeightGradient(input, outputGradient: outputGradient, shape, scratch: columnGradient, into: weightGradient)
            #endif
        } else if supportsImageLaneWeightGradient(shape) {
            imageLaneWeightGradient(input, outputGradient: outputGradient, shape, scratch: columnGradient, into: weightGradient)
        } else if supportsImplicitConvolution(shape) {
            implicitConvolutionWeightGradient(input, outputGradient: outputGradient, shape, scratch: columnGradient, into: weightGradient)
        } else {
            gemm(
                transposeA: false, transposeB: true, m: outputChannels, n: shape.patchSize, k: shape.positions,
                a: outputGradient, lda: shape.positions, b: columns, ldb: shape.positions,
                c: weightGradient, ldc: shape.patchSize, accumulate: true, workspace: gemmWorkspace)
        }
        guard let inputGradient else { return }
        self.inputGradient(outputGradient, weight: weight, shape, scratch: columnGradient, gemmWorkspace: gemmWorkspace, into: inputGradient)
    }

    /// inputGradient = col2im(Wᵀ dY), `backward`'s last step (computed without the column matrix,
    /// images in lanes, for up to 6 input channels: C3).
    /// - Parameter scratch: `shape.scratchSize` floats.
    public func inputGradient(
        _ outputGradient: UnsafePointer<Float>, weight: UnsafePointer<Float>, _ shape: ConvolutionShape,
        scratch: UnsafeMutablePointer<Float>, gemmWorkspace: GEMMWorkspace, into inputGradient: UnsafeMutablePointer<Float>
    ) {
        if supportsImageLaneInputGradient(shape) {
            imageLaneInputGradient(outputGradient, weight: weight, shape, scratch: scratch, into: inputGradient)
            return
        }
        gemm(
            transposeA: true, transposeB: false, m: shape.patchSize, n: shape.positions, k: outputChannels,
            a: weight, lda: shape.patchSize, b: outputGradient, ldb: shape.positions,
            c: scratch, ldc: shape.positions, accumulate: false, workspace: gemmWorkspace)
        col2im(scratch, shape, into: inputGradient)
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
