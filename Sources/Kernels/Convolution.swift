// Convolution kernels on channel-major activations.
//
// Legend: C input channels, F output channels (filters), N images, H x W input plane,
// R x R kernel, OH x OW = (H - R + 1) x (W - R + 1) output plane (stride 1, no padding).
// Activations are stored (C, N, H, W): every channel is one contiguous block of N planes, so a
// convolution is one GEMM, out (F, N*OH*OW) = weight (F, C*R*R) x columns (C*R*R, N*OH*OW),
// whose result is already in the (F, N, OH, OW) layout the next layer reads.

/// The geometry of a stride-1, unpadded convolution over a batch of `count` images.
public struct ConvolutionShape: Sendable, Equatable {
    public var inputChannels: Int
    public var outputChannels: Int
    public var height: Int
    public var width: Int
    public var kernel: Int
    public var count: Int

    public init(inputChannels: Int, outputChannels: Int, height: Int, width: Int, kernel: Int, count: Int) {
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.height = height
        self.width = width
        self.kernel = kernel
        self.count = count
    }

    public var outputHeight: Int { height - kernel + 1 }
    public var outputWidth: Int { width - kernel + 1 }
    /// Rows of the column matrix: C*R*R, the length of one filter.
    public var patchSize: Int { inputChannels * kernel * kernel }
    /// Columns of the column matrix: N*OH*OW.
    public var positions: Int { count * outputHeight * outputWidth }
    public var inputSize: Int { inputChannels * count * height * width }
    public var outputSize: Int { outputChannels * positions }
    /// Floats of scratch every kernel here needs at most for this shape: the column matrix, or
    /// the other kernels' packed operands (weights, offsets, a padded or transposed output
    /// gradient).
    public var scratchSize: Int {
        max(
            patchSize * positions, positions + 256 * 16 + patchSize * 16, patchSize * 17,
            (outputChannels + 15) / 16 * 16 * (patchSize + 1), imageLaneInputGradientScratch(self),
            imageLaneWeightGradientScratch(self), positions * 16)
    }
}

/// Unfolds input (C, N, H, W) into columns (C*R*R, N*OH*OW): row (c, kh, kw), column (n, y, x)
/// holds input[c, n, y + kh, x + kw].
public func im2col(_ input: UnsafePointer<Float>, _ shape: ConvolutionShape, into columns: UnsafeMutablePointer<Float>) {
    let (h, w, r, n) = (shape.height, shape.width, shape.kernel, shape.count)
    let (oh, ow) = (shape.outputHeight, shape.outputWidth)
    if oh == 1 && ow == 1 {
        // The kernel covers the whole plane (C5): columns (C*H*W, N) is a transpose of each
        // channel's (N, H*W) block, written row by row (strided stores took a third longer),
        // and for one image the input itself.
        let area = h * w
        guard n > 1 else {
            columns.update(from: input, count: shape.inputChannels * area)
            return
        }
        for c in 0..<shape.inputChannels {
            for k in 0..<area {
                gather(input + c * n * area + k, stride: area, count: n, into: columns + (c * area + k) * n)
            }
        }
        return
    }
    var out = columns
    for c in 0..<shape.inputChannels {
        for kh in 0..<r {
            for kw in 0..<r {
                for i in 0..<n {
                    let plane = input + (c * n + i) * h * w
                    for y in 0..<oh {
                        copyShortRow(plane + (y + kh) * w + kw, to: out, count: ow)
                        out += ow
                    }
                }
            }
        }
    }
}

/// The adjoint of `im2col`: adds every column entry back onto the input position it was read
/// from. `inputGradient` (C, N, H, W) is overwritten.
public func col2im(_ columns: UnsafePointer<Float>, _ shape: ConvolutionShape, into inputGradient: UnsafeMutablePointer<Float>) {
    let (h, w, r, n) = (shape.height, shape.width, shape.kernel, shape.count)
    let (oh, ow) = (shape.outputHeight, shape.outputWidth)
    if oh == 1 && ow == 1 {
        // Each input element was read exactly once: the transpose back, no sums.
        let area = h * w
        for c in 0..<shape.inputChannels {
            for i in 0..<n {
                let source = columns + c * area * n + i
                let target = inputGradient + (c * n + i) * area
                for k in 0..<area { target[k] = source[k * n] }
            }
        }
        return
    }
    inputGradient.update(repeating: 0, count: shape.inputSize)
    var source = columns
    for c in 0..<shape.inputChannels {
        for kh in 0..<r {
            for kw in 0..<r {
                for i in 0..<n {
                    let plane = inputGradient + (c * n + i) * h * w
                    for y in 0..<oh {
                        addShortRow(source, to: plane + (y + kh) * w + kw, count: ow)
                        source += ow
                    }
                }
            }
        }
    }
}

/// Copies a short row (C3's are 10 floats, too short for a memmove call to pay): two
/// overlapping 8-float vectors when it is 8 to 16 long.
@inline(__always)
private func copyShortRow(_ source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>, count: Int) {
    guard count >= 8 && count <= 16 else {
        for x in 0..<count { target[x] = source[x] }
        return
    }
    let head = UnsafeRawPointer(source).loadUnaligned(as: SIMD8<Float>.self)
    let tail = UnsafeRawPointer(source + count - 8).loadUnaligned(as: SIMD8<Float>.self)
    UnsafeMutableRawPointer(target).storeBytes(of: head, as: SIMD8<Float>.self)
    UnsafeMutableRawPointer(target + count - 8).storeBytes(of: tail, as: SIMD8<Float>.self)
}

/// target[x] += source[x] for a short row, 8 floats at a time.
@inline(__always)
private func addShortRow(_ source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>, count: Int) {
    var x = 0
    while x + 8 <= count {
        let sum = UnsafeRawPointer(target + x).loadUnaligned(as: SIMD8<Float>.self)
            + UnsafeRawPointer(source + x).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(target + x).storeBytes(of: sum, as: SIMD8<Float>.self)
        x += 8
    }
    while x < count {
        target[x] += source[x]
        x += 1
    }
}

/// Adds `bias[f]` to every element of output channel f of an (F, P) matrix.
public func addBias(_ output: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, channels: Int, positions: Int) {
    for f in 0..<channels {
        let row = output + f * positions
        let b = bias[f]
        for j in 0..<positions { row[j] += b }
    }
}

/// biasGradient[f] += sum over the P positions of outputGradient[f, :].
public func accumulateBiasGradient(
    _ outputGradient: UnsafePointer<Float>, channels: Int, positions: Int, into biasGradient: UnsafeMutablePointer<Float>
) {
    for f in 0..<channels {
        let row = outputGradient + f * positions
        biasGradient[f] += sum(count: positions, { load(row + $0) }, { row[$0] })
    }
}

/// The sum of values[j] over the j in 0..<count where mask[j] is not at most 0 (a NaN keeps its
/// value, as in `maxPoolBackward`).
private func maskedSum(_ values: UnsafePointer<Float>, keepingWherePositive mask: UnsafePointer<Float>, count: Int) -> Float {
    sum(count: count, { load(values + $0).replacing(with: 0, where: load(mask + $0) .<= 0) }, { mask[$0] <= 0 ? 0 : values[$0] })
}

/// The sum of the terms j in 0..<count: `vector(j)` covers terms j..<j + 16, `scalar(j)` term j
/// alone, for the last count % 16.
@inline(__always)
private func sum(count: Int, _ vector: (Int) -> SIMD16<Float>, _ scalar: (Int) -> Float) -> Float {
    // Four independent sums: one chain of vector additions waits 4 cycles per vector.
    var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
    var j = 0
    while j + 4 * microColumns <= count {
        s0 += vector(j)
        s1 += vector(j + microColumns)
        s2 += vector(j + 2 * microColumns)
        s3 += vector(j + 3 * microColumns)
        j += 4 * microColumns
    }
    var sum = (s0 + s1) + (s2 + s3)
    while j + microColumns <= count {
        sum += vector(j)
        j += microColumns
    }
    var total = sum.sum()
    while j < count {
        total += scalar(j)
        j += 1
    }
    return total
}

// MARK: - Direct convolution for a single input channel (C1)

/// Whether `directConvolutionForward` handles `shape`: one input channel, a 5x5 kernel and output
/// rows at least one vector wide.
public func supportsDirectConvolution(_ shape: ConvolutionShape) -> Bool {
    shape.inputChannels == 1 && shape.kernel == 5 && shape.outputWidth >= microColumns
}

/// The vectors of `lanes` floats covering one output row: starting at 0, `lanes`, ..., and, when the
/// width is not a multiple of the lanes, a last one ending exactly at the row's end, overlapping
/// the one before (and writing the same values again).
struct RowSegments {
    let count: Int
    private let width: Int
    private let lanes: Int
    private let full: Int

    init(width: Int, lanes: Int) {
        (self.width, self.lanes) = (width, lanes)
        full = width / lanes
        count = full + (width % lanes == 0 ? 0 : 1)
    }

    @inline(__always) func start(_ segment: Int) -> Int { segment < full ? segment * lanes : width - lanes }
}

/// out (F, N, OH, OW) = weight (F, 1, 5, 5) correlated with input (1, N, H, W), plus bias;
/// with `relu`, max(that, 0).
///
/// Accumulates 6 filters x 16 output columns in registers, reading the input rows directly:
/// no column matrix is built.
/// - Precondition: `supportsDirectConvolution(shape)`.
public func directConvolutionForward(
    _ input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    _ shape: ConvolutionShape, relu: Bool = false, into output: UnsafeMutablePointer<Float>
) {
    precondition(supportsDirectConvolution(shape))
    let (h, w, n) = (shape.height, shape.width, shape.count)
    let (oh, ow) = (shape.outputHeight, shape.outputWidth)
    let plane = oh * ow
    let segments = RowSegments(width: ow, lanes: SIMD16<Float>.scalarCount)
    // Filters in groups of 6, packed tap-major: packed[t * 6 + f] = weight[f, t], zero-padded;
    // the 6 biases follow the 25 taps.
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 26 * microRows) { buffer in
        guard let wt = buffer.baseAddress else { return }
        let packedBias = wt + 25 * microRows
        for f0 in stride(from: 0, to: shape.outputChannels, by: microRows) {
            let filters = min(microRows, shape.outputChannels - f0)
            for f in 0..<microRows {
                packedBias[f] = f < filters ? bias[f0 + f] : 0
                for t in 0..<25 { wt[t * microRows + f] = f < filters ? weight[(f0 + f) * 25 + t] : 0 }
            }
            for i in 0..<n {
                let image = input + i * h * w
                for y in 0..<oh {
                    for segment in 0..<segments.count {
                        let x = segments.start(segment)
                        var a0 = SIMD16<Float>(repeating: packedBias[0]), a1 = SIMD16<Float>(repeating: packedBias[1])
                        var a2 = SIMD16<Float>(repeating: packedBias[2]), a3 = SIMD16<Float>(repeating: packedBias[3])
                        var a4 = SIMD16<Float>(repeating: packedBias[4]), a5 = SIMD16<Float>(repeating: packedBias[5])
                        for kh in 0..<5 {
                            let row = image + (y + kh) * w + x
                            for kw in 0..<5 {
                                let v = load(row + kw)
                                let t = wt + (kh * 5 + kw) * microRows
                                a0.addProduct(SIMD16(repeating: t[0]), v)
                                a1.addProduct(SIMD16(repeating: t[1]), v)
                                a2.addProduct(SIMD16(repeating: t[2]), v)
                                a3.addProduct(SIMD16(repeating: t[3]), v)
                                a4.addProduct(SIMD16(repeating: t[4]), v)
                                a5.addProduct(SIMD16(repeating: t[5]), v)
                            }
                        }
                        if relu {
                            let zero = SIMD16<Float>()
                            a0 = pointwiseMax(a0, zero); a1 = pointwiseMax(a1, zero); a2 = pointwiseMax(a2, zero)
                            a3 = pointwiseMax(a3, zero); a4 = pointwiseMax(a4, zero); a5 = pointwiseMax(a5, zero)
                        }
                        let out = output + (f0 * n + i) * plane + y * ow + x
                        let next = n * plane
                        store(a0, out)
                        if filters > 1 { store(a1, out + next) }
                        if filters > 2 { store(a2, out + 2 * next) }
                        if filters > 3 { store(a3, out + 3 * next) }
                        if filters > 4 { store(a4, out + 4 * next) }
                        if filters > 5 { store(a5, out + 5 * next) }
                    }
                }
            }
        }
    }
}

// MARK: - Gradients from the pool's gradient (C1, C3)

/// Whether `pooledConvolutionWeightGradient` handles `shape`: a 5x5 kernel and an output plane of
/// whole 2x2 windows.
public func supportsPooledWeightGradient(_ shape: ConvolutionShape) -> Bool {
    shape.kernel == 5 && shape.outputHeight % 2 == 0 && shape.outputWidth % 2 == 0
}

/// weightGradient (F, C, 5, 5) and biasGradient (F) += the gradients of a convolution followed
/// by a ReLU and a 2x2 max-pool, from the pool's output gradient: the pool's, the ReLU's and the
/// convolution's backward passes in one, but for the input gradient.
///
/// The pool passes each window's gradient to the window's winner alone, and the ReLU passes none
/// where the winner's output, the window's maximum, was 0 (as `maxPoolBackward(pooledOutput:)`).
/// So the convolution's sums over all output positions are sums over the windows with a gradient,
/// a quarter as many terms or fewer (in training, about half of C1's windows and two thirds of
/// C3's have none): each adds its gradient times the C x 5 x 5 input patch under its winner. A
/// patch row is one 8-float vector, the taps in lanes 0-4.
/// - Parameters:
///   - pooledGradient: the pool's output gradient (F, N, OH / 2, OW / 2).
///   - argmax: the pool's winners (`maxPoolForward`'s), the same shape.
///   - pooledOutput: the pool's output, the same shape.
/// - Precondition: `supportsPooledWeightGradient(shape)`.
public func pooledConvolutionWeightGradient(
    _ input: UnsafePointer<Float>, pooledGradient: UnsafePointer<Float>, argmax: UnsafePointer<UInt8>,
    pooledOutput: UnsafePointer<Float>, _ shape: ConvolutionShape,
    weightGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>
) {
    precondition(supportsPooledWeightGradient(shape))
    typealias V = SIMD8<Float>
    let (channels, h, w, n, filters) = (shape.inputChannels, shape.height, shape.width, shape.count, shape.outputChannels)
    let (rows, columns) = (shape.outputHeight / 2, shape.outputWidth / 2)
    let windows = rows * columns, plane = h * w
    for f in 0..<filters {
        let planes = f * n * windows
        biasGradient[f] += maskedSum(pooledGradient + planes, keepingWherePositive: pooledOutput + planes, count: n * windows)
    }
    // Images in groups whose input planes take 8 KB of L1 (C1: 2; C3: 10), read once per filter
    // (groups of 1, or of 4 and all 16, were slower on one of the two). For each group and
    // filter, the windows with a gradient are listed first: their gradients and their winners'
    // patches' offsets in the channel's planes of the group; the sums then run over two plain
    // arrays.
    let group = max(1, min(n, 2048 / plane))
    let capacity = group * windows + 8  // `listWindows` writes past its list
    precondition(group * plane <= Int(Int32.max), "the offsets are 32-bit")
    // A patch row's 8 floats run past the input row at the right (into lanes 5-7, not summed), and
    // past the plane by up to 3 floats: into the next plane, but past the input's end for the last
    // image of the last channel. That channel's last group is read from a copy with room after it.
    let lastGroup = (n - 1) / group * group
    let tail = (n - lastGroup) * plane
    // On the stack (the heap only for planes far larger than LeNet's): nothing allocated per batch.
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * capacity + tail + V.scalarCount) { buffer in
        guard let gradients = buffer.baseAddress else { return }
        let offsets = UnsafeMutableRawPointer(gradients + capacity).bindMemory(to: Int32.self, capacity: 2 * capacity)
        // corners[(i * rows + y) * columns + x]: window (y, x) of the group's image i's top left.
        let corners = offsets + capacity
        for i in 0..<group {
            for y in 0..<rows {
                for x in 0..<columns { corners[(i * rows + y) * columns + x] = Int32(i * plane + 2 * y * w + 2 * x) }
            }
        }
        let lastPlanes = UnsafeMutableRawPointer(corners + capacity).bindMemory(to: Float.self, capacity: tail + V.scalarCount)
        lastPlanes.update(from: input + ((channels - 1) * n + lastGroup) * plane, count: tail)
        (lastPlanes + tail).update(repeating: 0, count: V.scalarCount)
        for first in stride(from: 0, to: n, by: group) {
            func patches(_ c: Int) -> PatchRows {
                PatchRows(c == channels - 1 && first == lastGroup ? UnsafePointer(lastPlanes) : input + (c * n + first) * plane, width: w)
            }
            for f in 0..<filters {
                let planes = (f * n + first) * windows
                let count = listWindows(
                    pooledGradient + planes, maxima: pooledOutput + planes, winners: argmax + planes, corners: corners,
                    count: min(group, n - first) * windows, rowStep: w, columnStep: 1, gradients: gradients, offsets: offsets)
                /// Adds lanes 0-4 of the kernel rows' sums to channel c's weight gradient.
                func add(_ sums: (V, V, V, V, V), to c: Int) {
                    withUnsafeBytes(of: sums) { raw in
                        let lanes = raw.bindMemory(to: Float.self)
                        let target = weightGradient + (f * channels + c) * 25
                        for kh in 0..<5 {
                            for kw in 0..<5 { target[kh * 5 + kw] += lanes[kh * 8 + kw] }
                        }
                    }
                }
                var c = 0
                // Two channels at a time (C3): each window's gradient and offset feed 10 FMAs, and
                // each accumulator waits for its last FMA once per window.
                while c + 2 <= channels {
                    let (p, q) = (patches(c), patches(c + 1))
                    var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V()
                    var b0 = V(), b1 = V(), b2 = V(), b3 = V(), b4 = V()
                    for k in 0..<count {
                        addPatch(&a0, &a1, &a2, &a3, &a4, gradients[k], p.at(offsets[k]))
                        addPatch(&b0, &b1, &b2, &b3, &b4, gradients[k], q.at(offsets[k]))
                    }
                    add((a0, a1, a2, a3, a4), to: c)
                    add((b0, b1, b2, b3, b4), to: c + 1)
                    c += 2
                }
                if c < channels {
                    // One channel (C1's): two sets of accumulators for alternate windows.
                    let p = patches(c)
                    var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V()
                    var b0 = V(), b1 = V(), b2 = V(), b3 = V(), b4 = V()
                    var k = 0
                    while k + 2 <= count {
                        addPatch(&a0, &a1, &a2, &a3, &a4, gradients[k], p.at(offsets[k]))
                        addPatch(&b0, &b1, &b2, &b3, &b4, gradients[k + 1], p.at(offsets[k + 1]))
                        k += 2
                    }
                    if k < count { addPatch(&a0, &a1, &a2, &a3, &a4, gradients[k], p.at(offsets[k])) }
                    add((a0 + b0, a1 + b1, a2 + b2, a3 + b3, a4 + b4), to: c)
                }
            }
        }
    }
}

/// Whether `pooledConvolutionInputGradient` handles `shape`: a 5x5 kernel, an output plane of
/// whole 2x2 windows and at most 8 input channels (one vector).
public func supportsPooledInputGradient(_ shape: ConvolutionShape) -> Bool {
    supportsPooledWeightGradient(shape) && shape.inputChannels <= 8
}

/// inputGradient (C, N, H, W) = the input gradient of a convolution followed by a ReLU and a 2x2
/// max-pool, from the pool's output gradient (arguments as `pooledConvolutionWeightGradient`'s):
/// dX[c, n, y, x] = the sum, over the windows (f, n, wy, wx) with a gradient g, of g times
/// weight[f, c, y - wy, x - wx] (where those are taps), (wy, wx) being the window's winner.
///
/// Only the windows with a gradient are visited (in training, about a third of C3's), where the
/// adjoint of the convolution on the pool's spread-out gradient reads every output position,
/// three in four of them the pool's zeros. Image by image, each such window scatters its 5 x 5
/// taps, the C channels in one 8-float vector each, into the image's gradient held with the
/// channels interleaved (H, W, 8): one load, FMA and store per tap; the image's planes are then
/// read out of it.
/// - Precondition: `supportsPooledInputGradient(shape)`.
public func pooledConvolutionInputGradient(
    pooledGradient: UnsafePointer<Float>, argmax: UnsafePointer<UInt8>, pooledOutput: UnsafePointer<Float>,
    weight: UnsafePointer<Float>, _ shape: ConvolutionShape, into inputGradient: UnsafeMutablePointer<Float>
) {
    precondition(supportsPooledInputGradient(shape))
    typealias V = SIMD8<Float>
    let lanes = V.scalarCount
    let (channels, h, w, n, filters) = (shape.inputChannels, shape.height, shape.width, shape.count, shape.outputChannels)
    let (rows, columns) = (shape.outputHeight / 2, shape.outputWidth / 2)
    let windows = rows * columns, plane = h * w
    precondition(plane * lanes <= Int(Int32.max), "the offsets are 32-bit")
    let taps = filters * 25 * lanes, capacity = filters * windows + 8  // `listWindows` writes past its list
    withUnsafeTemporaryAllocation(of: Float.self, capacity: taps + plane * lanes + 2 * capacity + windows) { buffer in
        guard let packed = buffer.baseAddress else { return }
        // packed[((f * 5 + kh) * 5 + kw) * 8 + c] = weight[f, c, kh, kw], zero past the last channel.
        let sums = packed + taps  // sums[(y * W + x) * 8 + c] = dX[c, n, y, x]
        let gradients = sums + plane * lanes
        let offsets = UnsafeMutableRawPointer(gradients + capacity).bindMemory(to: Int32.self, capacity: capacity + windows)
        // corners[y * columns + x]: window (y, x)'s top left in `sums`.
        let corners = offsets + capacity
        for f in 0..<filters {
            for t in 0..<25 {
                for c in 0..<lanes { packed[(f * 25 + t) * lanes + c] = c < channels ? weight[(f * channels + c) * 25 + t] : 0 }
            }
        }
        for y in 0..<rows {
            for x in 0..<columns { corners[y * columns + x] = Int32((2 * y * w + 2 * x) * lanes) }
        }
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        for i in 0..<n {
            sums.update(repeating: 0, count: plane * lanes)
            var first = 0
            for f in 0..<filters {
                let windowsOfImage = (f * n + i) * windows
                let count = listWindows(
                    pooledGradient + windowsOfImage, maxima: pooledOutput + windowsOfImage, winners: argmax + windowsOfImage,
                    corners: corners, count: windows, rowStep: w * lanes, columnStep: lanes,
                    gradients: gradients + first, offsets: offsets + first)
                let filterTaps = UnsafePointer(packed + f * 25 * lanes)
                for k in first..<first + count {
                    let g = V(repeating: gradients[k])
                    var target = sums + Int(offsets[k])
                    var tap = filterTaps
                    for _ in 0..<5 {
                        for kw in 0..<5 {
                            let p = target + kw * lanes
                            UnsafeMutableRawPointer(p).storeBytes(of: load(p).addingProduct(g, load(tap + kw * lanes)), as: V.self)
                        }
                        target += w * lanes
                        tap += 5 * lanes
                    }
                }
                first += count
            }
            for c in 0..<channels {
                let target = inputGradient + (c * n + i) * plane
                var source = UnsafePointer(sums + c)
                for p in 0..<plane {
                    target[p] = source.pointee
                    source += lanes
                }
            }
        }
    }
}

/// Lists the `count` windows of a plane that have a gradient after the ReLU, in order, and
/// returns how many: gradients[j] = gradient[k] and offsets[j] = corners[k] plus the position of
/// window k's winner in its window (argmax 0...3, row-major), rows `rowStep` and columns
/// `columnStep` apart, for the j-th window k whose maximum is above 0 (the ReLU's mask) and
/// whose gradient is not 0 (a NaN is listed). Up to 8 entries past the last listed one are
/// written too.
@inline(__always)
private func listWindows(
    _ gradient: UnsafePointer<Float>, maxima: UnsafePointer<Float>, winners: UnsafePointer<UInt8>, corners: UnsafePointer<Int32>,
    count: Int, rowStep: Int, columnStep: Int, gradients: UnsafeMutablePointer<Float>, offsets: UnsafeMutablePointer<Int32>
) -> Int {
    typealias Floats = SIMD8<Float>
    typealias Ints = SIMD8<Int32>
    let (rowStep, columnStep) = (Int32(rowStep), Int32(columnStep))
    var listed = 0
    /// Eight windows: every one is written at the end of the list, and the list grows by those
    /// with a gradient, counted from a vector comparison (a scalar one became a branch,
    /// mispredicted on every other window).
    @inline(__always) func list(_ g: Floats, maxima m: Floats, winners: Ints, corners: Ints) {
        let masked = g.replacing(with: 0, where: m .<= 0)
        let keep = Ints(repeating: 0).replacing(with: 1, where: masked .!= 0)
        let offset = corners &+ (winners &>> 1) &* rowStep &+ (winners & 1) &* columnStep
        for j in 0..<Floats.scalarCount {
            gradients[listed] = masked[j]
            offsets[listed] = offset[j]
            listed &+= Int(keep[j])
        }
    }
    @inline(__always) func load<T: SIMD>(_ p: UnsafePointer<T.Scalar>, as: T.Type) -> T { UnsafeRawPointer(p).loadUnaligned(as: T.self) }
    var k = 0
    while k + 8 <= count {
        list(
            load(gradient + k, as: Floats.self), maxima: load(maxima + k, as: Floats.self),
            winners: Ints(truncatingIfNeeded: load(winners + k, as: SIMD8<UInt8>.self)), corners: load(corners + k, as: Ints.self))
        k += 8
    }
    if k < count {
        // The last few, in vectors whose other lanes have no gradient.
        var (g, m, w, c) = (Floats(), Floats(), Ints(), Ints())
        for j in 0..<count - k {
            (g[j], m[j], w[j], c[j]) = (gradient[k + j], maxima[k + j], Int32(winners[k + j]), corners[k + j])
        }
        list(g, maxima: m, winners: w, corners: c)
    }
    return listed
}

/// The 5 rows of an input plane a patch starts in, as pointers: a patch row is then one address
/// (row pointer plus offset), not a stride multiplication each.
private struct PatchRows {
    let r0, r1, r2, r3, r4: UnsafePointer<Float>

    init(_ plane: UnsafePointer<Float>, width: Int) {
        (r0, r1, r2, r3, r4) = (plane, plane + width, plane + 2 * width, plane + 3 * width, plane + 4 * width)
    }

    /// The patch `offset` floats into the plane.
    @inline(__always) func at(_ offset: Int32) -> Patch { Patch(rows: self, offset: Int(offset)) }

    struct Patch {
        let rows: PatchRows
        let offset: Int

        /// The 8 floats from its row kh on.
        @inline(__always) func row(_ kh: Int) -> SIMD8<Float> {
            let start: UnsafePointer<Float>
            switch kh {
            case 0: start = rows.r0
            case 1: start = rows.r1
            case 2: start = rows.r2
            case 3: start = rows.r3
            default: start = rows.r4
            }
            return UnsafeRawPointer(start + offset).loadUnaligned(as: SIMD8<Float>.self)
        }
    }
}

/// a_kh += g times the 8 floats of the patch's row kh, for its 5 rows.
@inline(__always)
private func addPatch(
    _ a0: inout SIMD8<Float>, _ a1: inout SIMD8<Float>, _ a2: inout SIMD8<Float>, _ a3: inout SIMD8<Float>,
    _ a4: inout SIMD8<Float>, _ g: Float, _ patch: PatchRows.Patch
) {
    let v = SIMD8<Float>(repeating: g)
    a0.addProduct(v, patch.row(0))
    a1.addProduct(v, patch.row(1))
    a2.addProduct(v, patch.row(2))
    a3.addProduct(v, patch.row(3))
    a4.addProduct(v, patch.row(4))
}

// MARK: - Row-tiled convolution for 5x5 kernels (C3)

#if VECTOR512
/// Filters per vector and the tile of output positions: 16 filters x 10 columns of a row = 10
/// accumulators, with a kernel row's 5 tap vectors and the broadcasts in flight, about 20 of
/// AVX-512's 32 registers.
private typealias FilterVector = SIMD16<Float>
private let tileRows = 1, tileColumns = 10
#else
/// 8 filters x 5 columns of 2 rows: still 10 accumulators (independent chains to keep two FMA
/// units of latency 4 busy; one row's 5 would leave them waiting), with the 5 tap vectors, all
/// of AVX2's 16 registers.
private typealias FilterVector = SIMD8<Float>
private let tileRows = 2, tileColumns = 5
#endif

/// Whether `rowTiledConvolutionForward` handles `shape`: a 5x5 kernel and an output plane at
/// least one tile wide and high.
public func supportsRowTiledConvolution(_ shape: ConvolutionShape) -> Bool {
    shape.kernel == 5 && shape.outputWidth >= tileColumns && shape.outputHeight >= tileRows
}

/// out (F, N, OH, OW) = weight (F, C, 5, 5) correlated with input (C, N, H, W), plus bias,
/// one tile of `tileRows` x `tileColumns` output positions x one vector of filters at a time.
///
/// Input element x0 + j of a kernel row feeds the tile's columns j - kw for the 5 taps kw: it
/// is broadcast once and multiplied by the kernel row's 5 tap vectors (weight[f..., c, kh, kw]
/// for a vector of filters), so one kernel row of one channel costs tileColumns + 4 broadcasts
/// per tile row and 5 vector loads for 5 x 10 FMAs, where a GEMM's micro-kernel loads as often
/// as it multiplies.
/// - Parameter scratch: `shape.scratchSize` floats (the packed weights).
/// - Precondition: `supportsRowTiledConvolution(shape)`.
public func rowTiledConvolutionForward(
    _ input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    _ shape: ConvolutionShape, scratch: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>
) {
    precondition(supportsRowTiledConvolution(shape))
    typealias V = FilterVector
    let lanes = V.scalarCount
    let (channels, filters, h, w, n) = (shape.inputChannels, shape.outputChannels, shape.height, shape.width, shape.count)
    let (oh, ow) = (shape.outputHeight, shape.outputWidth)
    let plane = oh * ow
    let groups = (filters + lanes - 1) / lanes
    let packed = scratch
    let packedBias = packFilterGroups(weight, bias: bias, shape, lanes: lanes, into: packed)
    @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    // Tiles from the top left; the last of a row (column) ends at its end, overlapping the one before.
    let tiles = (ow + tileColumns - 1) / tileColumns
    for i in 0..<n {
        for g in 0..<groups {
            let b = load(packedBias + g * lanes)
            let groupFilters = min(lanes, filters - g * lanes)
            for y0 in stride(from: 0, to: oh, by: tileRows) {
                let y = min(y0, oh - tileRows)
                for tile in 0..<tiles {
                    let x0 = min(tile * tileColumns, ow - tileColumns)
                    var a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b, a8 = b, a9 = b
                    for c in 0..<channels {
                        let image = input + ((c * n + i) * h + y) * w + x0
                        let taps = packed + (g * channels + c) * 25 * lanes
                        for kh in 0..<5 {
                            let row = image + kh * w
                            let k = taps + kh * 5 * lanes
                            let w0 = load(k), w1 = load(k + lanes), w2 = load(k + 2 * lanes), w3 = load(k + 3 * lanes), w4 = load(k + 4 * lanes)
                            addRow(&a0, row, w0, w1, w2, w3, w4)
                            addRow(&a1, row + 1, w0, w1, w2, w3, w4)
                            addRow(&a2, row + 2, w0, w1, w2, w3, w4)
                            addRow(&a3, row + 3, w0, w1, w2, w3, w4)
                            addRow(&a4, row + 4, w0, w1, w2, w3, w4)
                            // The tile's next 5 positions: the same row's columns 5...9, or the
                            // next row's 0...4.
                            let next = tileRows == 1 ? row + 5 : row + w
                            addRow(&a5, next, w0, w1, w2, w3, w4)
                            addRow(&a6, next + 1, w0, w1, w2, w3, w4)
                            addRow(&a7, next + 2, w0, w1, w2, w3, w4)
                            addRow(&a8, next + 3, w0, w1, w2, w3, w4)
                            addRow(&a9, next + 4, w0, w1, w2, w3, w4)
                        }
                    }
                    // The tile is (positions x filters); the output wants (filters x positions).
                    withUnsafeBytes(of: (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9)) { raw in
                        let sums = raw.bindMemory(to: Float.self)
                        for f in 0..<groupFilters {
                            let target = output + ((g * lanes + f) * n + i) * plane + y * ow + x0
                            for dy in 0..<tileRows {
                                for dx in 0..<tileColumns { target[dy * ow + dx] = sums[(dy * tileColumns + dx) * lanes + f] }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Packs a 5x5 convolution's filters in groups of `lanes`, filter-minor, for the kernels that
/// hold a vector of filters per output position: packed[((g * C + c) * 25 + t) * lanes + f] =
/// weight[g * lanes + f, c, t], zero past the last filter; the biases follow, a vector per group.
/// - Returns: where the biases start.
func packFilterGroups(
    _ weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, _ shape: ConvolutionShape, lanes: Int,
    into packed: UnsafeMutablePointer<Float>
) -> UnsafeMutablePointer<Float> {
    let filters = shape.outputChannels, filterSize = shape.inputChannels * 25
    let groups = (filters + lanes - 1) / lanes
    let packedBias = packed + groups * filterSize * lanes
    for g in 0..<groups {
        for f in 0..<lanes {
            let filter = g * lanes + f
            packedBias[g * lanes + f] = filter < filters ? bias[filter] : 0
            // A filter's C*25 weights, in order, to every `lanes`-th float.
            let target = packed + g * filterSize * lanes + f
            if filter < filters {
                let source = weight + filter * filterSize
                for k in 0..<filterSize { target[k &* lanes] = source[k] }
            } else {
                for k in 0..<filterSize { target[k &* lanes] = 0 }
            }
        }
    }
    return packedBias
}

/// a += the 5 taps of one kernel row: row[kw] broadcast times tap vector kw.
@inline(__always)
private func addRow<V: SIMD>(_ a: inout V, _ row: UnsafePointer<Float>, _ w0: V, _ w1: V, _ w2: V, _ w3: V, _ w4: V) where V.Scalar == Float {
    a = a.addingProduct(V(repeating: row[0]), w0)
    a = a.addingProduct(V(repeating: row[1]), w1)
    a = a.addingProduct(V(repeating: row[2]), w2)
    a = a.addingProduct(V(repeating: row[3]), w3)
    a = a.addingProduct(V(repeating: row[4]), w4)
}

/// Whether this build has `rowTiledConvolutionWeightGradient` for `shape`: a 5x5 kernel, up to
/// 16 filters (one vector) and output rows of whole 5-column tiles, in AVX-512 builds only (its
/// 25 accumulators of 16 lanes would spill from AVX2's 16 registers; those builds take
/// `imageLaneWeightGradient`).
public func supportsRowTiledWeightGradient(_ shape: ConvolutionShape) -> Bool {
    #if VECTOR512
    shape.kernel == 5 && shape.outputChannels <= microColumns && shape.outputWidth % 5 == 0
    #else
    false
    #endif
}

#if VECTOR512
/// weightGradient (F, C, 5, 5) += sum over n, y, x of outputGradient[f, n, y, x] *
/// input[c, n, y + kh, x + kw], for up to 16 filters, with all 25 taps of a channel in registers
/// (25 accumulators of 16 filters: AVX-512 builds only, where 32 registers hold them).
///
/// The output gradient is packed position-major, a vector of filters per position. For 5
/// adjacent positions of a row, input element j of kernel row kh feeds the taps (kh, j - x) of
/// the positions x: broadcast once, it meets up to 5 of the positions' vectors. Per 5 positions:
/// 5 vector loads and 45 broadcasts for 125 FMAs.
/// - Parameter scratch: `shape.scratchSize` floats (the packed output gradient).
/// - Precondition: `supportsRowTiledWeightGradient(shape)`.
public func rowTiledConvolutionWeightGradient(
    _ input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, _ shape: ConvolutionShape,
    scratch: UnsafeMutablePointer<Float>, into weightGradient: UnsafeMutablePointer<Float>
) {
    precondition(supportsRowTiledWeightGradient(shape))
    let (channels, filters, h, w, n) = (shape.inputChannels, shape.outputChannels, shape.height, shape.width, shape.count)
    let (oh, ow) = (shape.outputHeight, shape.outputWidth)
    let plane = oh * ow
    // packed[k * 16 + f] = outputGradient[f, k] for the positions k = (i, y, x) of all
    // images, zero past the last filter.
    let packed = scratch
    let count = n * plane
    for k in 0..<count {
        var v = SIMD16<Float>()
        for f in 0..<filters { v[f] = outputGradient[f &* count &+ k] }
        store(v, packed + k * microColumns)
    }
    typealias V = SIMD16<Float>
    for c in 0..<channels {
        var a00 = V(), a01 = V(), a02 = V(), a03 = V(), a04 = V()
        var a10 = V(), a11 = V(), a12 = V(), a13 = V(), a14 = V()
        var a20 = V(), a21 = V(), a22 = V(), a23 = V(), a24 = V()
        var a30 = V(), a31 = V(), a32 = V(), a33 = V(), a34 = V()
        var a40 = V(), a41 = V(), a42 = V(), a43 = V(), a44 = V()
        for i in 0..<n {
            for y in 0..<oh {
                let image = input + ((c * n + i) * h + y) * w
                let gradients = packed + (i * plane + y * ow) * microColumns
                for x0 in stride(from: 0, to: ow, by: 5) {
                    let g = gradients + x0 * microColumns
                    let g0 = load(g), g1 = load(g + 16), g2 = load(g + 32), g3 = load(g + 48), g4 = load(g + 64)
                    let row = image + x0
                    addTapGradients(&a00, &a01, &a02, &a03, &a04, row, g0, g1, g2, g3, g4)
                    addTapGradients(&a10, &a11, &a12, &a13, &a14, row + w, g0, g1, g2, g3, g4)
                    addTapGradients(&a20, &a21, &a22, &a23, &a24, row + 2 * w, g0, g1, g2, g3, g4)
                    addTapGradients(&a30, &a31, &a32, &a33, &a34, row + 3 * w, g0, g1, g2, g3, g4)
                    addTapGradients(&a40, &a41, &a42, &a43, &a44, row + 4 * w, g0, g1, g2, g3, g4)
                }
            }
        }
        let taps = (
            a00, a01, a02, a03, a04, a10, a11, a12, a13, a14, a20, a21, a22, a23, a24,
            a30, a31, a32, a33, a34, a40, a41, a42, a43, a44)
        withUnsafeBytes(of: taps) { raw in
            let sums = raw.bindMemory(to: Float.self)
            for f in 0..<filters {
                for t in 0..<25 { weightGradient[(f * channels + c) * 25 + t] += sums[t * microColumns + f] }
            }
        }
    }
}

/// The 5 taps of one kernel row over 5 positions: tap kw += sum over x of row[x + kw] broadcast
/// times position x's vector of filter gradients.
@inline(__always)
private func addTapGradients(
    _ a0: inout SIMD16<Float>, _ a1: inout SIMD16<Float>, _ a2: inout SIMD16<Float>, _ a3: inout SIMD16<Float>,
    _ a4: inout SIMD16<Float>, _ row: UnsafePointer<Float>,
    _ g0: SIMD16<Float>, _ g1: SIMD16<Float>, _ g2: SIMD16<Float>, _ g3: SIMD16<Float>, _ g4: SIMD16<Float>
) {
    @inline(__always) func tap(_ a: inout SIMD16<Float>, _ kw: Int) {
        a.addProduct(SIMD16(repeating: row[kw]), g0)
        a.addProduct(SIMD16(repeating: row[kw + 1]), g1)
        a.addProduct(SIMD16(repeating: row[kw + 2]), g2)
        a.addProduct(SIMD16(repeating: row[kw + 3]), g3)
        a.addProduct(SIMD16(repeating: row[kw + 4]), g4)
    }
    tap(&a0, 0)
    tap(&a1, 1)
    tap(&a2, 2)
    tap(&a3, 3)
    tap(&a4, 4)
}
#endif

// MARK: - Implicit-GEMM convolution for up to 16 filters (C3)

/// Whether `implicitConvolutionForward` handles `shape`: at most 16 filters, one SIMD16.
public func supportsImplicitConvolution(_ shape: ConvolutionShape) -> Bool {
    shape.outputChannels <= microColumns
}

/// out (F, N, OH, OW) = weight (F, C, R, R) correlated with input (C, N, H, W), plus bias,
/// without building the column matrix.
///
/// A GEMM whose rows are output positions and whose columns are the (up to 16) filters, as in
/// `gemm`'s 6x16 micro-kernel, but reading each "column-matrix" element straight from the input:
/// position (n, y, x) at tap (c, kh, kw) is input[c, n, y + kh, x + kw], a fixed offset per tap
/// from the position's base pointer.
/// - Parameter scratch: `shape.scratchSize` floats (packed weights and tap offsets).
/// - Precondition: `supportsImplicitConvolution(shape)`.
public func implicitConvolutionForward(
    _ input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    _ shape: ConvolutionShape, scratch: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>
) {
    precondition(supportsImplicitConvolution(shape))
    let (h, w, r, n, filters) = (shape.height, shape.width, shape.kernel, shape.count, shape.outputChannels)
    let (oh, ow) = (shape.outputHeight, shape.outputWidth)
    let taps = shape.patchSize, positions = shape.positions
    // packed[t * 16 + f] = weight[f, t], zero past the last filter.
    let packed = scratch
    let offsets = UnsafeMutableRawPointer(scratch + taps * microColumns).bindMemory(to: Int32.self, capacity: taps)
    for t in 0..<taps {
        for f in 0..<microColumns { packed[t * microColumns + f] = f < filters ? weight[f * taps + t] : 0 }
        let (c, k) = t.quotientAndRemainder(dividingBy: r * r)
        offsets[t] = Int32(c * n * h * w + (k / r) * w + k % r)
    }
    var biasVector = SIMD16<Float>()
    for f in 0..<filters { biasVector[f] = bias[f] }
    let plane = oh * ow

    @inline(__always) func base(_ position: Int) -> UnsafePointer<Float> {
        let (i, pixel) = position.quotientAndRemainder(dividingBy: plane)
        let (y, x) = pixel.quotientAndRemainder(dividingBy: ow)
        return input + (i * h + y) * w + x
    }
    for start in stride(from: 0, to: positions, by: microRows) {
        let rows = min(microRows, positions - start)
        var (a0, a1, a2, a3, a4, a5) = (biasVector, biasVector, biasVector, biasVector, biasVector, biasVector)
        microKernelSteps(
            RowPointers(rows: rows) { base(start + $0) }, steps: 0..<taps, offset: { Int(offsets[$0]) }, b: packed,
            &a0, &a1, &a2, &a3, &a4, &a5)
        // The tile is (positions x filters); the output wants (filters x positions).
        withUnsafeBytes(of: (a0, a1, a2, a3, a4, a5)) { raw in
            let tile = raw.bindMemory(to: Float.self)
            for k in 0..<rows {
                for f in 0..<filters { output[f * positions + start + k] = tile[k * microColumns + f] }
            }
        }
    }
}

/// weightGradient (F, C*R*R) += outputGradient (F, N*OH*OW) x columnsᵀ for up to 16 filters,
/// without the column matrix.
///
/// Computed transposed, (C*R*R, 16) = columns x outputGradientᵀ, with the 6x16 micro-kernel:
/// row t of the columns is the input seen through tap t = (c, kh, kw), so its element at
/// position q = (n, y, x) is input[tapOffset(t) + positionOffset(q)].
/// - Parameter scratch: `shape.scratchSize` floats (offsets, a packed block, the sums).
/// - Precondition: `supportsImplicitConvolution(shape)`.
public func implicitConvolutionWeightGradient(
    _ input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, _ shape: ConvolutionShape,
    scratch: UnsafeMutablePointer<Float>, into weightGradient: UnsafeMutablePointer<Float>
) {
    precondition(supportsImplicitConvolution(shape))
    let (h, w, r, n, filters) = (shape.height, shape.width, shape.kernel, shape.count, shape.outputChannels)
    let (oh, ow) = (shape.outputHeight, shape.outputWidth)
    let taps = shape.patchSize, positions = shape.positions
    let offsets = UnsafeMutableRawPointer(scratch).bindMemory(to: Int32.self, capacity: positions)
    let packed = scratch + positions
    let sums = packed + blockDepth * microColumns
    for q in 0..<positions {
        let (i, pixel) = q.quotientAndRemainder(dividingBy: oh * ow)
        let (y, x) = pixel.quotientAndRemainder(dividingBy: ow)
        offsets[q] = Int32((i * h + y) * w + x)
    }
    sums.update(repeating: 0, count: taps * microColumns)
    @inline(__always) func tapBase(_ t: Int) -> UnsafePointer<Float> {
        let (c, k) = t.quotientAndRemainder(dividingBy: r * r)
        return input + c * n * h * w + (k / r) * w + k % r
    }
    for q0 in stride(from: 0, to: positions, by: blockDepth) {
        let depth = min(blockDepth, positions - q0)
        // packed[q * 16 + f] = outputGradient[f, q0 + q], zero past the last filter.
        for q in 0..<depth {
            for f in 0..<microColumns { packed[q * microColumns + f] = f < filters ? outputGradient[f * positions + q0 + q] : 0 }
        }
        for t0 in stride(from: 0, to: taps, by: microRows) {
            let rows = min(microRows, taps - t0)
            let tile = sums + t0 * microColumns
            var a0 = load(tile), a1 = rows > 1 ? load(tile + 16) : SIMD16(), a2 = rows > 2 ? load(tile + 32) : SIMD16()
            var a3 = rows > 3 ? load(tile + 48) : SIMD16(), a4 = rows > 4 ? load(tile + 64) : SIMD16()
            var a5 = rows > 5 ? load(tile + 80) : SIMD16()
            microKernelSteps(
                RowPointers(rows: rows) { tapBase(t0 + $0) }, steps: q0..<q0 + depth, offset: { Int(offsets[$0]) }, b: packed,
                &a0, &a1, &a2, &a3, &a4, &a5)
            store(a0, tile)
            if rows > 1 { store(a1, tile + 16) }
            if rows > 2 { store(a2, tile + 32) }
            if rows > 3 { store(a3, tile + 48) }
            if rows > 4 { store(a4, tile + 64) }
            if rows > 5 { store(a5, tile + 80) }
        }
    }
    for f in 0..<filters {
        for t in 0..<taps { weightGradient[f * taps + t] += sums[t * microColumns + f] }
    }
}

// MARK: - Input gradient with one image per lane (C3)

/// Whether `imageLaneInputGradient` handles `shape`: at most 6 input channels, one accumulator each.
public func supportsImageLaneInputGradient(_ shape: ConvolutionShape) -> Bool {
    shape.inputChannels <= microRows
}

#if VECTOR512
/// Input positions per step: two neighbours in a row x 6 channels = 12 accumulators of AVX-512's
/// 32 registers, so that each step's 6 weight broadcasts feed 12 FMAs.
private let laneInputColumns = 2
#else
/// One position x 6 channels: 6 SIMD16 accumulators fill 12 of AVX2's 16 registers.
private let laneInputColumns = 1
#endif

/// Floats of scratch `imageLaneInputGradient` needs: the packed weights, the output gradient
/// with the images in lanes (and a zero column each side) and the input gradient likewise.
func imageLaneInputGradientScratch(_ shape: ConvolutionShape) -> Int {
    let lanes = microColumns, r = shape.kernel
    return r * r * shape.outputChannels * microRows + shape.outputHeight * (shape.outputWidth + 2) * shape.outputChannels * lanes
        + shape.height * shape.width * microRows * lanes
}

/// target[k] = source[k * stride] for k in 0..<count: one position's values of `count` images
/// into lanes, or back. Pointer steps, not index products: with those the loop checked every
/// multiplication for overflow.
@inline(__always)
private func gather(_ source: UnsafePointer<Float>, stride: Int, count: Int, into target: UnsafeMutablePointer<Float>) {
    var source = source
    for k in 0..<count {
        target[k] = source.pointee
        source += stride
    }
}

/// inputGradient (C, N, H, W) = the adjoint of the convolution applied to outputGradient
/// (F, N, OH, OW): dX[c, n, y, x] = sum over f, kh, kw of weight[f, c, kh, kw] * dY[f, n, y - kh, x - kw],
/// over the (kh, kw) whose dY lies inside its plane.
///
/// The images go in the 16 lanes, 16 at a time: dY is copied to (OH, OW, F, 16), and every
/// input position (y, x) sums, over its taps and the filters, a dY vector times the 6 channels'
/// weights broadcast. Every lane is useful on 16 images, where a kernel vectorised along rows
/// reads the zeros around dY's plane (C3's 14-wide rows would use 10 of every 16 lanes). The
/// copies in and out take about a tenth of the time (C3, AVX2 build, by perf).
/// - Parameter scratch: `shape.scratchSize` floats.
/// - Precondition: `supportsImageLaneInputGradient(shape)`.
public func imageLaneInputGradient(
    _ outputGradient: UnsafePointer<Float>, weight: UnsafePointer<Float>, _ shape: ConvolutionShape,
    scratch: UnsafeMutablePointer<Float>, into inputGradient: UnsafeMutablePointer<Float>
) {
    precondition(supportsImageLaneInputGradient(shape))
    let (channels, filters, h, w, r, n) = (shape.inputChannels, shape.outputChannels, shape.height, shape.width, shape.kernel, shape.count)
    let (oh, ow) = (shape.outputHeight, shape.outputWidth)
    let lanes = microColumns, plane = oh * ow
    // dY's columns -1...OW, the two outside zero: a pair of positions reads them at the edges.
    let pitch = ow + 2
    let column = filters * lanes
    // packed[((kh * R + kw) * F + f) * 6 + c] = weight[f, c, kh, kw], zero past the last channel.
    let packed = scratch
    // laneGradient[((yo * pitch + xo + 1) * F + f) * 16 + i] = dY[f, i, yo, xo], zero past the last image.
    let laneGradient = packed + r * r * filters * microRows
    // laneInput[((y * W + x) * 6 + c) * 16 + i] = dX[c, i, y, x].
    let laneInput = laneGradient + oh * pitch * column
    for t in 0..<r * r {
        for f in 0..<filters {
            for c in 0..<microRows { packed[(t * filters + f) * microRows + c] = c < channels ? weight[(f * channels + c) * r * r + t] : 0 }
        }
    }
    for first in stride(from: 0, to: n, by: lanes) {
        let count = min(lanes, n - first)
        laneGroupInputGradient(
            outputGradient + first * plane, images: count, packed: packed, laneGradient: laneGradient, laneInput: laneInput,
            shape, into: inputGradient + first * h * w)
    }
}

/// `imageLaneInputGradient` for a group of `images` (at most 16) of the shape's images, whose
/// first planes the pointers point to (each channel's planes are `shape.count` planes apart).
private func laneGroupInputGradient(
    _ outputGradient: UnsafePointer<Float>, images: Int, packed: UnsafePointer<Float>, laneGradient: UnsafeMutablePointer<Float>,
    laneInput: UnsafeMutablePointer<Float>, _ shape: ConvolutionShape, into inputGradient: UnsafeMutablePointer<Float>
) {
    let (channels, filters, h, w, r, n) = (shape.inputChannels, shape.outputChannels, shape.height, shape.width, shape.kernel, shape.count)
    let (oh, ow) = (shape.outputHeight, shape.outputWidth)
    let lanes = microColumns, plane = oh * ow, pitch = ow + 2, column = filters * lanes
    if images < lanes {
        laneGradient.update(repeating: 0, count: oh * pitch * column)
    } else {
        for yo in 0..<oh {
            (laneGradient + yo * pitch * column).update(repeating: 0, count: column)
            (laneGradient + (yo * pitch + ow + 1) * column).update(repeating: 0, count: column)
        }
    }
    // Written in order, read from 16 images at a time: F x 16 streams, each line of which is
    // read on 16 consecutive positions (the other way round, strided stores, took 3x as long).
    for yo in 0..<oh {
        for xo in 0..<ow {
            for f in 0..<filters {
                gather(
                    outputGradient + f * n * plane + yo * ow + xo, stride: plane, count: images,
                    into: laneGradient + ((yo * pitch + xo + 1) * filters + f) * lanes)
            }
        }
    }
    for y in 0..<h {
        // Only kh in max(0, y - OH + 1)...min(R - 1, y) reach dY's plane.
        let firstRow = max(0, y - (oh - 1)), lastRow = min(r - 1, y)
        for x in stride(from: 0, to: w, by: laneInputColumns) {
            // The kw that reach the plane from x or its neighbour; the others read a zero column.
            let firstColumn = max(0, x - (ow - 1)), lastColumn = min(r - 1, x + laneInputColumns - 1)
            var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>()
            var a3 = SIMD16<Float>(), a4 = SIMD16<Float>(), a5 = SIMD16<Float>()
            #if VECTOR512
            var b0 = SIMD16<Float>(), b1 = SIMD16<Float>(), b2 = SIMD16<Float>()
            var b3 = SIMD16<Float>(), b4 = SIMD16<Float>(), b5 = SIMD16<Float>()
            #endif
            for kh in firstRow...lastRow {
                for kw in firstColumn...lastColumn {
                    var g = UnsafePointer(laneGradient + ((y - kh) * pitch + x - kw + 1) * column)
                    var pw = UnsafePointer(packed + (kh * r + kw) * filters * microRows)
                    for _ in 0..<filters {
                        let v = load(g)
                        let w0 = SIMD16<Float>(repeating: pw[0]), w1 = SIMD16<Float>(repeating: pw[1])
                        let w2 = SIMD16<Float>(repeating: pw[2]), w3 = SIMD16<Float>(repeating: pw[3])
                        let w4 = SIMD16<Float>(repeating: pw[4]), w5 = SIMD16<Float>(repeating: pw[5])
                        a0.addProduct(w0, v); a1.addProduct(w1, v); a2.addProduct(w2, v)
                        a3.addProduct(w3, v); a4.addProduct(w4, v); a5.addProduct(w5, v)
                        #if VECTOR512
                        let u = load(g + column)
                        b0.addProduct(w0, u); b1.addProduct(w1, u); b2.addProduct(w2, u)
                        b3.addProduct(w3, u); b4.addProduct(w4, u); b5.addProduct(w5, u)
                        #endif
                        g += lanes
                        pw += microRows
                    }
                }
            }
            let target = laneInput + (y * w + x) * microRows * lanes
            store(a0, target); store(a1, target + lanes); store(a2, target + 2 * lanes)
            store(a3, target + 3 * lanes); store(a4, target + 4 * lanes); store(a5, target + 5 * lanes)
            #if VECTOR512
            if x + 1 < w {
                let next = target + microRows * lanes
                store(b0, next); store(b1, next + lanes); store(b2, next + 2 * lanes)
                store(b3, next + 3 * lanes); store(b4, next + 4 * lanes); store(b5, next + 5 * lanes)
            }
            #endif
        }
    }
    for c in 0..<channels {
        for i in 0..<images {
            gather(laneInput + c * lanes + i, stride: microRows * lanes, count: h * w, into: inputGradient + (c * n + i) * h * w)
        }
    }
}

// MARK: - Weight gradient with one image per lane (C3, AVX2)

/// Filters per block of `imageLaneWeightGradient`: 2 filters x the 5 taps of a kernel row = 10
/// accumulators of 8 lanes, with 2 gradient vectors and an input vector, 13 of AVX2's 16
/// registers (4 filters x 3 taps spilled).
private let laneBlockFilters = 2

/// Whether `imageLaneWeightGradient` handles `shape`: a 5x5 kernel, whose kernel rows are its
/// blocks of taps, and at most 16 filters (more, as in C5, make a GEMM worth its packing).
public func supportsImageLaneWeightGradient(_ shape: ConvolutionShape) -> Bool {
    shape.kernel == 5 && shape.outputChannels <= microColumns
}

/// Floats of scratch `imageLaneWeightGradient` needs: the output gradient and the input with the
/// images in lanes, and a SIMD8 of lane sums per weight.
func imageLaneWeightGradientScratch(_ shape: ConvolutionShape) -> Int {
    let filters = (shape.outputChannels + laneBlockFilters - 1) / laneBlockFilters * laneBlockFilters
    return (shape.outputHeight * shape.outputWidth * filters + shape.inputChannels * shape.height * shape.width) * microColumns
        + filters * shape.patchSize * SIMD8<Float>.scalarCount
}

/// weightGradient (F, C, 5, 5) += sum over n, y, x of outputGradient[f, n, y, x] *
/// input[c, n, y + kh, x + kw], with the images in lanes.
///
/// Both operands are copied with 16 images per position, dY to (F / 2, OH, OW, 2, 16) and X to
/// (C, H, W, 16); then every weight is a sum of element-wise products over the positions, in
/// blocks of 2 filters x the 5 taps of a kernel row: per position 2 + 5 vector loads for 10
/// FMAs, no broadcasts. The two halves of the lanes go through the same 8-lane accumulators,
/// which are added to a vector of per-lane sums per weight, summed across lanes at the end.
/// - Parameter scratch: `shape.scratchSize` floats.
/// - Precondition: `supportsImageLaneWeightGradient(shape)`.
public func imageLaneWeightGradient(
    _ input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, _ shape: ConvolutionShape,
    scratch: UnsafeMutablePointer<Float>, into weightGradient: UnsafeMutablePointer<Float>
) {
    precondition(supportsImageLaneWeightGradient(shape))
    let (channels, filters, h, w, n) = (shape.inputChannels, shape.outputChannels, shape.height, shape.width, shape.count)
    let (oh, ow) = (shape.outputHeight, shape.outputWidth)
    let lanes = microColumns, taps = shape.patchSize, plane = oh * ow, inputPlane = h * w
    let paddedFilters = (filters + laneBlockFilters - 1) / laneBlockFilters * laneBlockFilters
    // laneGradient[((f / 2 * OH * OW + p) * 2 + f % 2) * 16 + i] = dY[f, i, p], zero past the last
    // filter and image: a block's two filters contiguous over the positions (position-major, the
    // 1 KB stride between a block's vectors thrashed a few sets of L1).
    let laneGradient = scratch
    // laneInput[(c * H * W + q) * 16 + i] = X[c, i, q], zero past the last image.
    let laneInput = laneGradient + plane * paddedFilters * lanes
    // laneSums[(f * taps + t) * 8 + j]: lane j's share of weight (f, t).
    let laneSums = laneInput + channels * inputPlane * lanes
    laneSums.update(repeating: 0, count: paddedFilters * taps * 8)
    typealias V = SIMD8<Float>
    @inline(__always) func load8(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    for first in stride(from: 0, to: n, by: lanes) {
        let images = min(lanes, n - first)
        if images < lanes || filters < paddedFilters { laneGradient.update(repeating: 0, count: plane * paddedFilters * lanes) }
        if images < lanes { laneInput.update(repeating: 0, count: channels * inputPlane * lanes) }
        for p in 0..<plane {
            for f in 0..<filters {
                gather(
                    outputGradient + (f * n + first) * plane + p, stride: plane, count: images,
                    into: laneGradient + ((f / laneBlockFilters * plane + p) * laneBlockFilters + f % laneBlockFilters) * lanes)
            }
        }
        for c in 0..<channels {
            for q in 0..<inputPlane {
                gather(
                    input + (c * n + first) * inputPlane + q, stride: inputPlane, count: images,
                    into: laneInput + (c * inputPlane + q) * lanes)
            }
        }
        for f0 in stride(from: 0, to: filters, by: laneBlockFilters) {
            for c in 0..<channels {
                for kh in 0..<5 {
                    var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V()
                    var b0 = V(), b1 = V(), b2 = V(), b3 = V(), b4 = V()
                    for half in stride(from: 0, to: lanes, by: V.scalarCount) {
                        for y in 0..<oh {
                            var g = UnsafePointer(laneGradient + (f0 * plane + y * ow * laneBlockFilters) * lanes + half)
                            var x = UnsafePointer(laneInput + (c * inputPlane + (y + kh) * w) * lanes + half)
                            for _ in 0..<ow {
                                let g0 = load8(g), g1 = load8(g + lanes)
                                var v = load8(x)
                                a0.addProduct(g0, v); b0.addProduct(g1, v)
                                v = load8(x + lanes)
                                a1.addProduct(g0, v); b1.addProduct(g1, v)
                                v = load8(x + 2 * lanes)
                                a2.addProduct(g0, v); b2.addProduct(g1, v)
                                v = load8(x + 3 * lanes)
                                a3.addProduct(g0, v); b3.addProduct(g1, v)
                                v = load8(x + 4 * lanes)
                                a4.addProduct(g0, v); b4.addProduct(g1, v)
                                g += laneBlockFilters * lanes
                                x += lanes
                            }
                        }
                    }
                    let sums = laneSums + (f0 * taps + (c * 5 + kh) * 5) * 8
                    addLanes(a0, a1, a2, a3, a4, to: sums)
                    addLanes(b0, b1, b2, b3, b4, to: sums + taps * 8)
                }
            }
        }
    }
    let weights = filters * taps, whole = weights / 8 * 8
    for k in stride(from: 0, to: whole, by: 8) {
        let totals = laneTotals(laneSums + k * 8)
        for j in 0..<8 { weightGradient[k + j] += totals[j] }
    }
    for k in whole..<weights { weightGradient[k] += load8(laneSums + k * 8).sum() }
}

/// p[8k ..< 8k + 8] += vector k, for 5 vectors.
@inline(__always)
private func addLanes(_ a0: SIMD8<Float>, _ a1: SIMD8<Float>, _ a2: SIMD8<Float>, _ a3: SIMD8<Float>, _ a4: SIMD8<Float>, to p: UnsafeMutablePointer<Float>) {
    @inline(__always) func add(_ v: SIMD8<Float>, _ k: Int) {
        let raw = UnsafeMutableRawPointer(p + k * 8)
        raw.storeBytes(of: raw.loadUnaligned(as: SIMD8<Float>.self) + v, as: SIMD8<Float>.self)
    }
    add(a0, 0); add(a1, 1); add(a2, 2); add(a3, 3); add(a4, 4)
}

/// The lane sums of the 8 consecutive SIMD8 vectors at `p`: each halving adds neighbouring lanes
/// of two vectors.
@inline(__always)
private func laneTotals(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    typealias V = SIMD8<Float>
    @inline(__always) func v(_ k: Int) -> V { UnsafeRawPointer(p + k * 8).loadUnaligned(as: V.self) }
    @inline(__always) func pairSums(_ s: V, _ t: V) -> V { V(lowHalf: s.evenHalf + s.oddHalf, highHalf: t.evenHalf + t.oddHalf) }
    let first = pairSums(pairSums(v(0), v(1)), pairSums(v(2), v(3)))
    let second = pairSums(pairSums(v(4), v(5)), pairSums(v(6), v(7)))
    return pairSums(first, second)
}
