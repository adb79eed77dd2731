import CIntrinsics

// MARK: - Convolution, ReLU and 2x2 max-pool in one forward pass (C3)

#if VECTOR512
/// Pooling windows per tile: 2 rows x 10 columns of output positions, 16 filters a vector: 20
/// accumulators, with a tap vector and a broadcast, 22 of AVX-512's 32 registers.
private let tileWindows = 5
#else
/// One window: 2 x 2 positions of 16 filters, each two 8-float halves: 8 accumulators, with a
/// tap's two halves and a broadcast, 11 of AVX2's 16 registers.
private let tileWindows = 1
#endif

/// Whether `pooledConvolutionForward` handles `shape`: a 5x5 kernel and an output plane of whole
/// 2x2 windows, at least a tile of them wide.
public func supportsPooledConvolution(_ shape: ConvolutionShape) -> Bool {
    shape.kernel == 5 && shape.outputHeight % 2 == 0 && shape.outputWidth % 2 == 0 && shape.outputWidth / 2 >= tileWindows
}

/// pooled (F, N, OH / 2, OW / 2) = the 2x2 max-pool of max(0, weight (F, C, 5, 5) correlated with
/// input (C, N, H, W), plus bias): the convolution, its ReLU and `maxPoolForward` in one pass, the
/// convolution's output never leaving registers unless `unpooled` asks for it. Each sum starts
/// from the bias and adds the products channel by channel, each channel's 5 x 5 taps row by row.
///
/// A tile is `tileWindows` windows of a row of windows, 16 filters in a vector: input element j
/// of a kernel row is broadcast once per position it feeds and multiplied by tap vector kw
/// (weight[f..., c, kh, kw]), so one tap costs a vector load for a tile's 4 x `tileWindows`
/// FMAs. The window's maximum is then one comparison per pair of positions, in registers, and
/// only a quarter of the positions are transposed out to the (F, N, ...) layout, an image's
/// windows at a time, by 8 x 8 transposes in registers.
/// - Parameters:
///   - scratch: `pooledConvolutionScratchSize(shape)` floats (the packed weights).
///   - winners: if given, the pool's winners as `maxPoolForward`'s `argmax` (0...3, row-major).
///   - unpooled: if given, the convolution's output after the ReLU, (F, N, OH, OW).
/// - Precondition: `supportsPooledConvolution(shape)`.
public func pooledConvolutionForward(
    _ input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    _ shape: ConvolutionShape, scratch: UnsafeMutablePointer<Float>, into pooled: UnsafeMutablePointer<Float>,
    winners: UnsafeMutablePointer<UInt8>? = nil, unpooled: UnsafeMutablePointer<Float>? = nil
) {
    precondition(supportsPooledConvolution(shape))
    typealias V = SIMD16<Float>
    let lanes = V.scalarCount
    let (channels, filters, h, w, n) = (shape.inputChannels, shape.outputChannels, shape.height, shape.width, shape.count)
    let (oh, ow) = (shape.outputHeight, shape.outputWidth)
    let (ph, pw) = (oh / 2, ow / 2)
    let groups = (filters + lanes - 1) / lanes
    let packedBias = packFilterGroups(weight, bias: bias, shape, lanes: lanes, into: scratch)
    // Tiles from the left of a row of windows; the last ends at its end, overlapping the one before.
    let tiles = (pw + tileWindows - 1) / tileWindows
    let windows = ph * pw
    // An image's windows' maxima and winners, a vector of the group's filters each, written out
    // to the filters' planes 8 windows and 8 filters at a time. (Each window's 16 floats and 16
    // bytes written to the 16 planes element by element made C3's forward pass 8% slower in the
    // AVX2 build, 28% in the AVX-512 build.)
    withUnsafeTemporaryAllocation(byteCount: 2 * windows * lanes * 4, alignment: 64) { raw in
        let maxima = raw.baseAddress!.bindMemory(to: Float.self, capacity: windows * lanes)
        let winnerIndices = (raw.baseAddress! + windows * lanes * 4).bindMemory(to: Int32.self, capacity: windows * lanes)
        for i in 0..<n {
            for g in 0..<groups {
                let biases = load(packedBias + g * lanes)
                let groupFilters = min(lanes, filters - g * lanes)
                /// Window (py, px)'s ReLU'd sums out: its maximum, its winner, its 4 positions.
                @inline(__always) func finish(_ s: WindowSums, py: Int, px: Int) {
                    let (a, b, c, d) = (relu(s.topLeft), relu(s.topRight), relu(s.bottomLeft), relu(s.bottomRight))
                    // The comparisons of `maxPoolForward`: the first of equal maxima wins, in the order 0, 1, 2, 3.
                    let right = b .> a, lowerRight = d .> c
                    let upper = a.replacing(with: b, where: right), lower = c.replacing(with: d, where: lowerRight)
                    let below = lower .> upper
                    let window = (py * pw + px) * lanes
                    UnsafeMutableRawPointer(maxima + window).storeBytes(of: upper.replacing(with: lower, where: below), as: V.self)
                    if winners != nil {
                        let upperIndex = SIMD16<Int32>(repeating: 0).replacing(with: 1, where: right)
                        let lowerIndex = SIMD16<Int32>(repeating: 2).replacing(with: 3, where: lowerRight)
                        UnsafeMutableRawPointer(winnerIndices + window).storeBytes(
                            of: upperIndex.replacing(with: lowerIndex, where: below), as: SIMD16<Int32>.self)
                    }
                    if let unpooled {
                        let corner = (g * lanes * n + i) * oh * ow + 2 * py * ow + 2 * px, plane = n * oh * ow
                        for f in 0..<groupFilters {
                            let target = unpooled + corner + f * plane
                            (target[0], target[1], target[ow], target[ow + 1]) = (a[f], b[f], c[f], d[f])
                        }
                    }
                }
                for py in 0..<ph {
                    for tile in 0..<tiles {
                        let px = min(tile * tileWindows, pw - tileWindows)
                        var s0 = WindowSums(biases)
                        #if VECTOR512
                        var s1 = s0, s2 = s0, s3 = s0, s4 = s0
                        #endif
                        for c in 0..<channels {
                            let top = input + ((c * n + i) * h + 2 * py) * w + 2 * px
                            let taps = scratch + (g * channels + c) * 25 * lanes
                            for kh in 0..<5 {
                                let row = top + kh * w
                                for kw in 0..<5 {
                                    let tap = load(taps + (kh * 5 + kw) * lanes)
                                    s0.add(row + kw, rowLength: w, tap)
                                    #if VECTOR512
                                    s1.add(row + 2 + kw, rowLength: w, tap)
                                    s2.add(row + 4 + kw, rowLength: w, tap)
                                    s3.add(row + 6 + kw, rowLength: w, tap)
                                    s4.add(row + 8 + kw, rowLength: w, tap)
                                    #endif
                                }
                            }
                        }
                        finish(s0, py: py, px: px)
                        #if VECTOR512
                        finish(s1, py: py, px: px + 1)
                        finish(s2, py: py, px: px + 2)
                        finish(s3, py: py, px: px + 3)
                        finish(s4, py: py, px: px + 4)
                        #endif
                    }
                }
                // The group's filter f's window k is pooled[((g * 16 + f) * N + i) * windows + k].
                let first = (g * lanes * n + i) * windows, next = n * windows
                inEightByEightBlocks(
                    rows: windows, columns: groupFilters,
                    block: { k, f in
                        let target = first + f * next + k
                        lanes_transpose8(maxima + k * lanes + f, lanes, pooled + target, next)
                        if let winners { lanes_transpose8_bytes(winnerIndices + k * lanes + f, lanes, winners + target, next) }
                    },
                    element: { k, f in
                        pooled[first + f * next + k] = maxima[k * lanes + f]
                        winners?[first + f * next + k] = UInt8(truncatingIfNeeded: winnerIndices[k * lanes + f])
                    })
            }
        }
    }
}

/// The sums of a 2x2 window's 4 output positions, a vector of 16 filters each.
private struct WindowSums {
    var topLeft, topRight, bottomLeft, bottomRight: SIMD16<Float>

    init(_ bias: SIMD16<Float>) { (topLeft, topRight, bottomLeft, bottomRight) = (bias, bias, bias, bias) }

    /// Adds one tap's products: `input` is the element under the window's top-left position,
    /// the row below `rowLength` floats on.
    @inline(__always) mutating func add(_ input: UnsafePointer<Float>, rowLength: Int, _ tap: SIMD16<Float>) {
        topLeft.addProduct(SIMD16(repeating: input[0]), tap)
        topRight.addProduct(SIMD16(repeating: input[1]), tap)
        bottomLeft.addProduct(SIMD16(repeating: input[rowLength]), tap)
        bottomRight.addProduct(SIMD16(repeating: input[rowLength + 1]), tap)
    }
}

/// Floats of `pooledConvolutionForward`'s scratch: its filters packed in groups of 16 and their biases.
public func pooledConvolutionScratchSize(_ shape: ConvolutionShape) -> Int {
    (shape.outputChannels + 15) / 16 * 16 * (shape.patchSize + 1)
}

/// Packs a 5x5 convolution's filters in groups of `lanes`, filter-minor, for the pooled forward
/// pass, which holds a vector of filters per output position: packed[((g * C + c) * 25 + t) * lanes + f] =
/// weight[g * lanes + f, c, t], zero past the last filter; the biases follow, a vector per group.
/// - Returns: where the biases start.
private func packFilterGroups(
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
