import CIntrinsics

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
    /// Floats of the column matrix (C*R*R, N*OH*OW): `im2col`'s output, and the column gradient
    /// `col2im` reads.
    public var columnsSize: Int { patchSize * positions }
    /// Floats of scratch every kernel here needs at most for this shape: the column matrix, or
    /// `pooledConvolutionForward`'s packed filters.
    public var scratchSize: Int { max(columnsSize, pooledConvolutionScratchSize(self)) }
}

/// Unfolds input (C, N, H, W) into columns (C*R*R, N*OH*OW): row (c, kh, kw), column (n, y, x)
/// holds input[c, n, y + kh, x + kw].
public func im2col(_ input: UnsafePointer<Float>, _ shape: ConvolutionShape, into columns: UnsafeMutablePointer<Float>) {
    let (h, w, r, n) = (shape.height, shape.width, shape.kernel, shape.count)
    let (oh, ow) = (shape.outputHeight, shape.outputWidth)
    if oh == 1 && ow == 1 {
        // The kernel covers the whole plane (C5): columns (C*H*W, N) is a transpose of each
        // channel's (N, H*W) block, and for one image the input itself.
        let area = h * w
        guard n > 1 else {
            columns.update(from: input, count: shape.inputChannels * area)
            return
        }
        for c in 0..<shape.inputChannels {
            transpose(input + c * n * area, rows: n, columns: area, into: columns + c * area * n)
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
            transpose(columns + c * area * n, rows: area, columns: n, into: inputGradient + c * n * area)
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
        biasGradient[f] += sum(outputGradient + f * positions, count: positions)
    }
}

/// The sum of values[0..<count], less those where `mask`, if given, is at most 0 (a NaN mask
/// keeps its value, as in `maxPoolBackward`): 16 at a time into four independent sums (one chain
/// of vector additions waits 4 cycles per vector), then the last count % 16 one by one. (Written with the terms as closures, the vector closure was
/// called, not inlined, for every 16 terms: 1% of a training epoch.)
@inline(__always)
private func sum(_ values: UnsafePointer<Float>, count: Int, keepingWherePositive mask: UnsafePointer<Float>? = nil) -> Float {
    @inline(__always) func term(_ j: Int) -> SIMD16<Float> {
        guard let mask else { return load(values + j) }
        return load(values + j).replacing(with: 0, where: load(mask + j) .<= 0)
    }
    var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
    var j = 0
    while j + 4 * microColumns <= count {
        s0 += term(j)
        s1 += term(j + microColumns)
        s2 += term(j + 2 * microColumns)
        s3 += term(j + 3 * microColumns)
        j += 4 * microColumns
    }
    var sum = (s0 + s1) + (s2 + s3)
    while j + microColumns <= count {
        sum += term(j)
        j += microColumns
    }
    var total = sum.sum()
    while j < count {
        total += (mask.map { $0[j] <= 0 } ?? false) ? 0 : values[j]
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
/// - Returns: how many windows it visited (over all filters and images): the work it did is
///   that many times C x 5 x 5 multiply-adds.
/// - Precondition: `supportsPooledWeightGradient(shape)`.
@discardableResult
public func pooledConvolutionWeightGradient(
    _ input: UnsafePointer<Float>, pooledGradient: UnsafePointer<Float>, argmax: UnsafePointer<UInt8>,
    pooledOutput: UnsafePointer<Float>, _ shape: ConvolutionShape,
    weightGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>
) -> Int {
    precondition(supportsPooledWeightGradient(shape))
    typealias V = SIMD8<Float>
    let (channels, h, w, n, filters) = (shape.inputChannels, shape.height, shape.width, shape.count, shape.outputChannels)
    let (rows, columns) = (shape.outputHeight / 2, shape.outputWidth / 2)
    let windows = rows * columns, plane = h * w
    for f in 0..<filters {
        let planes = f * n * windows
        biasGradient[f] += sum(pooledGradient + planes, count: n * windows, keepingWherePositive: pooledOutput + planes)
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
    var visited = 0
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
                visited += count
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
    return visited
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
    let floats = taps + plane * lanes + 2 * capacity + windows
    // On a cache line: every tap's and every position's 8 floats are then one aligned vector,
    // never split across two lines (allocated for floats, a quarter of them were: 35% slower).
    withUnsafeTemporaryAllocation(byteCount: floats * MemoryLayout<Float>.stride, alignment: 64) { raw in
        guard let base = raw.baseAddress else { return }
        let packed = base.bindMemory(to: Float.self, capacity: floats)
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
///
/// Eight windows at a time: those with a gradient are moved to the front of the vectors (a lane
/// permutation chosen by their mask), all eight are written at the end of the list, and the list
/// grows by their number. (Lane by lane, each window's place waited for the one before's: twice
/// the time.)
@inline(__always)
private func listWindows(
    _ gradient: UnsafePointer<Float>, maxima: UnsafePointer<Float>, winners: UnsafePointer<UInt8>, corners: UnsafePointer<Int32>,
    count: Int, rowStep: Int, columnStep: Int, gradients: UnsafeMutablePointer<Float>, offsets: UnsafeMutablePointer<Int32>
) -> Int {
    typealias Floats = SIMD8<Float>
    typealias Ints = SIMD8<Int32>
    let (rowStep, columnStep) = (Ints(repeating: Int32(rowStep)), Ints(repeating: Int32(columnStep)))
    let lane = Ints(0, 1, 2, 3, 4, 5, 6, 7)
    let compaction = windowCompaction
    var listed = 0
    /// Lists 8 windows but the first `skip`.
    @inline(__always) func list(skipping skip: Int32, _ g: Floats, _ m: Floats, _ w: Ints, _ c: Ints, _ listed: inout Int) {
        let masked = g.replacing(with: 0, where: m .<= 0 .| lane .< Ints(repeating: skip))
        let bits = Int(lanes_sign_bits(Ints(repeating: 0).replacing(with: -1, where: masked .!= 0)))
        // The kept lanes' numbers, 3 bits each from bit 0 up.
        let order = (Ints(repeating: Int32(bitPattern: compaction[bits])) &>> (lane &* 3)) & 7
        let offset = c &+ (w &>> 1) &* rowStep &+ (w & 1) &* columnStep
        UnsafeMutableRawPointer(gradients + listed).storeBytes(of: lanes_permute_float8(masked, order), as: Floats.self)
        UnsafeMutableRawPointer(offsets + listed).storeBytes(of: lanes_permute_int8(offset, order), as: Ints.self)
        listed &+= bits.nonzeroBitCount
    }
    @inline(__always) func load<T: SIMD>(_ p: UnsafePointer<T.Scalar>, as: T.Type) -> T { UnsafeRawPointer(p).loadUnaligned(as: T.self) }
    @inline(__always) func list(from k: Int, skipping skip: Int32, _ listed: inout Int) {
        list(
            skipping: skip, load(gradient + k, as: Floats.self), load(maxima + k, as: Floats.self),
            lanes_widen_bytes(winners + k), load(corners + k, as: Ints.self), &listed)
    }
    var k = 0
    while k + 8 <= count {
        list(from: k, skipping: 0, &listed)
        k += 8
    }
    if k < count {
        if count >= 8 {
            // The last 8, less those listed already.
            list(from: count - 8, skipping: Int32(k - (count - 8)), &listed)
        } else {
            var (g, m, w, c) = (Floats(), Floats(), Ints(), Ints())
            for j in 0..<count { (g[j], m[j], w[j], c[j]) = (gradient[j], maxima[j], Int32(winners[j]), corners[j]) }
            list(skipping: 0, g, m, w, c, &listed)
        }
    }
    return listed
}

/// windowCompaction[mask]: the numbers of the lanes set in an 8-bit mask, in order, 3 bits each
/// (allocated once, never freed).
nonisolated(unsafe) private let windowCompaction: UnsafePointer<UInt32> = {
    let table = UnsafeMutablePointer<UInt32>.allocate(capacity: 256)
    for mask in 0..<256 {
        let lanes = (0..<8).filter { mask & (1 << $0) != 0 }
        table[mask] = lanes.enumerated().reduce(0) { $0 | UInt32($1.element) << (3 * $1.offset) }
    }
    return UnsafePointer(table)
}()

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

/// target (columns, rows) = the transpose of source (rows, columns), both packed (`transpose`:
/// C5's columns, element by element with strided loads before, 0.7% of a training run's time).
private func transpose(_ source: UnsafePointer<Float>, rows: Int, columns: Int, into target: UnsafeMutablePointer<Float>) {
    inEightByEightBlocks(
        rows: rows, columns: columns,
        block: { r, c in lanes_transpose8(source + r * columns + c, columns, target + c * rows + r, rows) },
        element: { r, c in target[c * rows + r] = source[r * columns + c] })
}

/// Transposes a rows x columns matrix with `block(r, c)` for each 8 x 8 block (an 8x8 transpose
/// in registers) from row r and column c, the last block of a row or column overlapping the one
/// before (and writing the same values again), or with `element(r, c)` for each element when
/// either side is under 8.
@inline(__always)
func inEightByEightBlocks(rows: Int, columns: Int, block: (Int, Int) -> Void, element: (Int, Int) -> Void) {
    guard rows >= 8 && columns >= 8 else {
        for r in 0..<rows {
            for c in 0..<columns { element(r, c) }
        }
        return
    }
    for r in stride(from: 0, to: rows, by: 8) {
        for c in stride(from: 0, to: columns, by: 8) { block(min(r, rows - 8), min(c, columns - 8)) }
    }
}
