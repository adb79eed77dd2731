// Single-precision matrix multiply: a cache-blocked GEMM with packed panels and a 6x16
// register-blocked micro-kernel on SIMD16<Float> (the BLIS loop order).
//
// Legend: C is m x n, A is m x k, B is k x n, all row-major with leading dimensions lda/ldb/ldc.
// op(A) and op(B) read the stored matrix transposed when `transposeA`/`transposeB` is set.

/// Rows of C computed by one micro-kernel call.
let microRows = 6
/// Columns of C computed by one micro-kernel call: one SIMD16<Float>.
let microColumns = 16
/// Depth of one packed block; A panel (6 x 256) and B panel (256 x 16) stay in L1.
let blockDepth = 256
/// Rows of A packed at once (a multiple of `microRows`).
let blockRows = 72
/// Columns of B packed at once (a multiple of `microColumns`); the packed block stays in L2.
let blockColumns = 512

/// Reusable packing buffers for `gemm`. One per thread: it is mutated by every call.
public final class GEMMWorkspace {
    let packedA: UnsafeMutablePointer<Float>
    let packedB: UnsafeMutablePointer<Float>

    public init() {
        packedA = .allocate(capacity: blockRows * blockDepth)
        packedB = .allocate(capacity: blockDepth * blockColumns)
    }

    deinit {
        packedA.deallocate()
        packedB.deallocate()
    }
}

/// `C = op(A) op(B)`, or `C += op(A) op(B)` when `accumulate` is set.
///
/// - Parameters:
///   - transposeA: read A as stored k x m (element (i, p) at `a[p * lda + i]`).
///   - transposeB: read B as stored n x k (element (p, j) at `b[j * ldb + p]`).
///   - workspace: packing buffers owned by the calling thread.
public func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, workspace: GEMMWorkspace
) {
    guard m > 0, n > 0 else { return }
    if k == 0 {
        if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        return
    }
    if n == 1 && !transposeA && (transposeB || ldb == 1) {
        gemv(m: m, k: k, a: a, lda: lda, x: b, y: c, incy: ldc, accumulate: accumulate)
        return
    }
    // Packing A pays off only when each of its elements is reused across many column panels.
    let packsA = n > 2 * microColumns
    for jc in stride(from: 0, to: n, by: blockColumns) {
        let nc = min(blockColumns, n - jc)
        for pc in stride(from: 0, to: k, by: blockDepth) {
            let kc = min(blockDepth, k - pc)
            packB(transposed: transposeB, b: b, ldb: ldb, row: pc, column: jc, depth: kc, width: nc, into: workspace.packedB)
            let addToC = accumulate || pc > 0
            guard packsA else {
                // Few columns: each element of A is used once or twice, so read it in place.
                for jr in stride(from: 0, to: nc, by: microColumns) {
                    for ir in stride(from: 0, to: m, by: microRows) {
                        let rows = min(microRows, m - ir)
                        let panel = RowPointers(
                            base: transposeA ? a + pc * lda + ir : a + ir * lda + pc,
                            rowStride: transposeA ? 1 : lda, rows: rows)
                        microKernel(
                            depth: kc, a: panel, depthStride: transposeA ? lda : 1, b: workspace.packedB + jr * kc,
                            c: c + ir * ldc + jc + jr, ldc: ldc,
                            rows: rows, columns: min(microColumns, nc - jr), accumulate: addToC)
                    }
                }
                continue
            }
            for ic in stride(from: 0, to: m, by: blockRows) {
                let mc = min(blockRows, m - ic)
                packA(transposed: transposeA, a: a, lda: lda, row: ic, column: pc, height: mc, depth: kc, into: workspace.packedA)
                for jr in stride(from: 0, to: nc, by: microColumns) {
                    let panelB = workspace.packedB + jr * kc
                    for ir in stride(from: 0, to: mc, by: microRows) {
                        let panel = RowPointers(base: workspace.packedA + ir * kc, rowStride: 1, rows: microRows)
                        microKernel(
                            depth: kc, a: panel, depthStride: microRows, b: panelB,
                            c: c + (ic + ir) * ldc + jc + jr, ldc: ldc,
                            rows: min(microRows, mc - ir), columns: min(microColumns, nc - jr), accumulate: addToC)
                    }
                }
            }
        }
    }
}

/// y (+)= A x for row-major A (m x k) and contiguous x, where the 16-column micro-kernel would
/// waste 15 of its 16 lanes: a single image's C5, F6 and F7.
///
/// Four rows at a time share each load of x, and their dot products run as independent chains
/// (two per row on AVX-512, whose two FMA units of latency 4 need eight); one short tree of
/// shuffles then sums all four rows' lanes. Even so the product is bound by reading A: C5's
/// weights (192 KB) come from L2 for every image.
private func gemv(
    m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, x: UnsafePointer<Float>,
    y: UnsafeMutablePointer<Float>, incy: Int, accumulate: Bool
) {
    @inline(__always) func put(_ total: Float, _ i: Int) { y[i * incy] = accumulate ? y[i * incy] + total : total }
    var i = 0
    if k >= microColumns {
        // The last k % 16 columns: the 16 ending at k, with the lanes counted before zeroed in x.
        let tailStart = k - microColumns
        var tailX = load(x + tailStart)
        for lane in 0..<(microColumns - k % microColumns) % microColumns { tailX[lane] = 0 }
        let hasTail = k % microColumns != 0
        while i + 4 <= m {
            let r0 = a + i * lda, r1 = r0 + lda, r2 = r1 + lda, r3 = r2 + lda
            var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
            var p = 0
            #if VECTOR512
            var t0 = SIMD16<Float>(), t1 = SIMD16<Float>(), t2 = SIMD16<Float>(), t3 = SIMD16<Float>()
            while p + 2 * microColumns <= k {
                let v = load(x + p), w = load(x + p + microColumns)
                s0.addProduct(load(r0 + p), v); s1.addProduct(load(r1 + p), v)
                s2.addProduct(load(r2 + p), v); s3.addProduct(load(r3 + p), v)
                t0.addProduct(load(r0 + p + microColumns), w); t1.addProduct(load(r1 + p + microColumns), w)
                t2.addProduct(load(r2 + p + microColumns), w); t3.addProduct(load(r3 + p + microColumns), w)
                p += 2 * microColumns
            }
            (s0, s1, s2, s3) = (s0 + t0, s1 + t1, s2 + t2, s3 + t3)
            #endif
            while p + microColumns <= k {
                let v = load(x + p)
                s0.addProduct(load(r0 + p), v); s1.addProduct(load(r1 + p), v)
                s2.addProduct(load(r2 + p), v); s3.addProduct(load(r3 + p), v)
                p += microColumns
            }
            if hasTail {
                s0.addProduct(load(r0 + tailStart), tailX); s1.addProduct(load(r1 + tailStart), tailX)
                s2.addProduct(load(r2 + tailStart), tailX); s3.addProduct(load(r3 + tailStart), tailX)
            }
            let totals = laneSums(s0, s1, s2, s3)
            put(totals[0], i); put(totals[1], i + 1); put(totals[2], i + 2); put(totals[3], i + 3)
            i += 4
        }
    }
    while i < m {
        let row = a + i * lda
        var sum = SIMD16<Float>()
        var p = 0
        while p + microColumns <= k {
            sum.addProduct(load(row + p), load(x + p))
            p += microColumns
        }
        var total = sum.sum()
        while p < k {
            total += row[p] * x[p]
            p += 1
        }
        put(total, i)
        i += 1
    }
}

/// The sums of the lanes of each of four vectors: adjacent lanes added pairwise, four vectors'
/// worth at a time, in four steps instead of 15 dependent additions per vector.
@inline(__always)
private func laneSums(_ s0: SIMD16<Float>, _ s1: SIMD16<Float>, _ s2: SIMD16<Float>, _ s3: SIMD16<Float>) -> SIMD4<Float> {
    let s01 = SIMD16(lowHalf: s0.evenHalf + s0.oddHalf, highHalf: s1.evenHalf + s1.oddHalf)
    let s23 = SIMD16(lowHalf: s2.evenHalf + s2.oddHalf, highHalf: s3.evenHalf + s3.oddHalf)
    let quarters = SIMD16(lowHalf: s01.evenHalf + s01.oddHalf, highHalf: s23.evenHalf + s23.oddHalf)
    let eighths = quarters.evenHalf + quarters.oddHalf
    return eighths.evenHalf + eighths.oddHalf
}

/// Packs op(A)[row..<row+height, column..<column+depth] as panels of 6 rows, each stored
/// depth-major (6 consecutive floats per step of p), zero-filling a short last panel.
@inline(__always)
private func packA(
    transposed: Bool, a: UnsafePointer<Float>, lda: Int, row: Int, column: Int, height: Int, depth: Int,
    into packed: UnsafeMutablePointer<Float>
) {
    var out = packed
    for ir in stride(from: 0, to: height, by: microRows) {
        let rows = min(microRows, height - ir)
        for p in 0..<depth {
            for r in 0..<microRows {
                if r < rows {
                    let i = row + ir + r, q = column + p
                    out[r] = transposed ? a[q * lda + i] : a[i * lda + q]
                } else {
                    out[r] = 0
                }
            }
            out += microRows
        }
    }
}

/// Packs op(B)[row..<row+depth, column..<column+width] as panels of 16 columns, each stored
/// depth-major (16 consecutive floats per step of p), zero-filling a short last panel.
@inline(__always)
private func packB(
    transposed: Bool, b: UnsafePointer<Float>, ldb: Int, row: Int, column: Int, depth: Int, width: Int,
    into packed: UnsafeMutablePointer<Float>
) {
    var out = packed
    for jr in stride(from: 0, to: width, by: microColumns) {
        let columns = min(microColumns, width - jr)
        if !transposed && columns == microColumns {
            for p in 0..<depth {
                store(load(b + (row + p) * ldb + column + jr), out)
                out += microColumns
            }
        } else if !transposed {
            for p in 0..<depth {
                let source = b + (row + p) * ldb + column + jr
                for j in 0..<microColumns { out[j] = j < columns ? source[j] : 0 }
                out += microColumns
            }
        } else {
            // Stored row j of B is column j of op(B): read each one contiguously.
            for j in 0..<microColumns {
                if j < columns {
                    let source = b + (column + jr + j) * ldb + row
                    for p in 0..<depth { out[p * microColumns + j] = source[p] }
                } else {
                    for p in 0..<depth { out[p * microColumns + j] = 0 }
                }
            }
            out += depth * microColumns
        }
    }
}

/// The six rows of an A panel: row r, step p is at `rows[r][p * depthStride]`. Rows past the
/// matrix's end repeat row 0 (their results are computed but never stored).
struct RowPointers {
    let r0, r1, r2, r3, r4, r5: UnsafePointer<Float>

    /// Row r at `pointer(r)` for r < rows.
    @inline(__always)
    init(rows: Int, _ pointer: (Int) -> UnsafePointer<Float>) {
        r0 = pointer(0)
        r1 = rows > 1 ? pointer(1) : r0
        r2 = rows > 2 ? pointer(2) : r0
        r3 = rows > 3 ? pointer(3) : r0
        r4 = rows > 4 ? pointer(4) : r0
        r5 = rows > 5 ? pointer(5) : r0
    }

    @inline(__always)
    init(base: UnsafePointer<Float>, rowStride: Int, rows: Int) {
        self.init(rows: rows) { base + $0 * rowStride }
    }
}

/// The inner loop of every 6x16 product here: for each step p, the B row of 16 floats times
/// the six A elements `rows.r<r>[offset(p)]`, accumulated into a0...a5. `gemm` reads A at a
/// fixed stride; the implicit convolutions at a per-step offset into their input.
@inline(__always)
func microKernelSteps(
    _ rows: RowPointers, steps: Range<Int>, offset: (Int) -> Int, b: UnsafePointer<Float>,
    _ a0: inout SIMD16<Float>, _ a1: inout SIMD16<Float>, _ a2: inout SIMD16<Float>,
    _ a3: inout SIMD16<Float>, _ a4: inout SIMD16<Float>, _ a5: inout SIMD16<Float>
) {
    var (c0, c1, c2, c3, c4, c5) = (a0, a1, a2, a3, a4, a5)
    var pb = b
    #if VECTOR512
    // Odd steps into a second set of six: twelve independent chains keep two FMA units of
    // latency 4 busy, which six cannot (12 of AVX-512's 32 registers; on AVX2 each SIMD16 takes
    // two of 16, so there the six alone fill 12).
    var (d0, d1, d2, d3, d4, d5) = (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
    var p = steps.lowerBound
    while p + 1 < steps.upperBound {
        addStep(rows, offset(p), load(pb), &c0, &c1, &c2, &c3, &c4, &c5)
        addStep(rows, offset(p + 1), load(pb + microColumns), &d0, &d1, &d2, &d3, &d4, &d5)
        pb += 2 * microColumns
        p += 2
    }
    let tail = p..<steps.upperBound
    #else
    let tail = steps
    #endif
    for p in tail {
        addStep(rows, offset(p), load(pb), &c0, &c1, &c2, &c3, &c4, &c5)
        pb += microColumns
    }
    #if VECTOR512
    (c0, c1, c2, c3, c4, c5) = (c0 + d0, c1 + d1, c2 + d2, c3 + d3, c4 + d4, c5 + d5)
    #endif
    (a0, a1, a2, a3, a4, a5) = (c0, c1, c2, c3, c4, c5)
}

/// One step of the micro-kernel: the B row `v` times each row's element at `o`.
@inline(__always)
private func addStep(
    _ rows: RowPointers, _ o: Int, _ v: SIMD16<Float>,
    _ c0: inout SIMD16<Float>, _ c1: inout SIMD16<Float>, _ c2: inout SIMD16<Float>,
    _ c3: inout SIMD16<Float>, _ c4: inout SIMD16<Float>, _ c5: inout SIMD16<Float>
) {
    c0.addProduct(SIMD16(repeating: rows.r0[o]), v)
    c1.addProduct(SIMD16(repeating: rows.r1[o]), v)
    c2.addProduct(SIMD16(repeating: rows.r2[o]), v)
    c3.addProduct(SIMD16(repeating: rows.r3[o]), v)
    c4.addProduct(SIMD16(repeating: rows.r4[o]), v)
    c5.addProduct(SIMD16(repeating: rows.r5[o]), v)
}

/// C[0..<rows, 0..<columns] (+)= A panel (6 x depth) * B panel (depth x 16).
@inline(__always)
private func microKernel(
    depth: Int, a: RowPointers, depthStride: Int, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, columns: Int, accumulate: Bool
) {
    var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>()
    var c3 = SIMD16<Float>(), c4 = SIMD16<Float>(), c5 = SIMD16<Float>()
    microKernelSteps(a, steps: 0..<depth, offset: { $0 * depthStride }, b: b, &c0, &c1, &c2, &c3, &c4, &c5)
    if rows == microRows && columns == microColumns {
        let tile = (c0, c1, c2, c3, c4, c5)
        withUnsafeBytes(of: tile) { raw in
            let t = raw.bindMemory(to: SIMD16<Float>.self)
            for r in 0..<microRows {
                let row = c + r * ldc
                store(accumulate ? load(row) + t[r] : t[r], row)
            }
        }
    } else {
        let tile = (c0, c1, c2, c3, c4, c5)
        withUnsafeBytes(of: tile) { raw in
            let t = raw.bindMemory(to: Float.self)
            for r in 0..<rows {
                let row = c + r * ldc
                for j in 0..<columns {
                    row[j] = accumulate ? row[j] + t[r * microColumns + j] : t[r * microColumns + j]
                }
            }
        }
    }
}

// MARK: - Vector loads and stores

@inline(__always)
func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
func load(_ p: UnsafeMutablePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
func store(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

extension SIMD16<Float> {
    /// `self += a * b`, fused.
    @inline(__always)
    mutating func addProduct(_ a: SIMD16<Float>, _ b: SIMD16<Float>) {
        self = addingProduct(a, b)
    }
}
