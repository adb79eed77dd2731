import Dispatch

/// What this machine's arithmetic can do, measured rather than assumed: the ceilings
/// `lenet5 bench` reports its speeds against.
public enum Ceiling {
    /// The FP32 peak: independent chains of fused multiply-adds on the build's widest vectors
    /// (nothing read from memory), on `threads` threads at once, in floating-point operations
    /// per second (a multiply-add is two). The best of three runs of about `seconds` each.
    public static func peakFLOPS(threads: Int, seconds: Double = 0.2) -> Double {
        best(threads: threads, seconds: seconds) { repetitions, _ in
            fmaChains(repetitions)
            return Double(repetitions) * fmaChainFLOPs
        }
    }

    /// `gemm` itself on a product that stays in cache, (72 x 256) times (256 x 512) (one block
    /// of each operand as `gemm` packs them), on `threads` threads at once, each on its own
    /// matrices: the fastest rate this code reaches on this machine, in operations per second.
    public static func gemmFLOPS(threads: Int, seconds: Double = 0.2) -> Double {
        let (m, n, k) = (blockRows, blockColumns, blockDepth)
        let a: [Float] = (0..<m * k).map { Float($0 % 7 - 3) }
        let b: [Float] = (0..<k * n).map { Float($0 % 5 - 2) }
        nonisolated(unsafe) let workspaces = (0..<threads).map { _ in GEMMWorkspace() }
        nonisolated(unsafe) let outputs = UnsafeMutablePointer<Float>.allocate(capacity: threads * m * n)
        defer { outputs.deallocate() }
        return best(threads: threads, seconds: seconds) { repetitions, thread in
            let workspace = workspaces[thread]
            for _ in 0..<repetitions {
                gemm(transposeA: false, transposeB: false, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n,
                     c: outputs + thread * m * n, ldc: n, accumulate: false, workspace: workspace)
            }
            return Double(repetitions * 2 * m * n * k)
        }
    }

    // MARK: Timing

    /// The highest aggregate rate of `work(repetitions, thread)` over three timed runs, every
    /// thread doing the same number of repetitions, sized from a first short run to last about
    /// `seconds`.
    private static func best(threads: Int, seconds: Double, _ work: @escaping @Sendable (Int, Int) -> Double) -> Double {
        var repetitions = 1
        while time(threads: threads, repetitions: repetitions, work).seconds < seconds / 10 { repetitions *= 4 }
        let scaled = max(1, Int(Double(repetitions) * seconds / max(time(threads: threads, repetitions: repetitions, work).seconds, 1e-9)))
        return (0..<3).map { _ in
            let run = time(threads: threads, repetitions: scaled, work)
            return run.operations / run.seconds
        }.max() ?? 0
    }

    private static func time(threads: Int, repetitions: Int, _ work: @escaping @Sendable (Int, Int) -> Double)
        -> (operations: Double, seconds: Double)
    {
        let counts = UnsafeMutablePointer<Double>.allocate(capacity: threads)
        defer { counts.deallocate() }
        let start = DispatchTime.now()
        nonisolated(unsafe) let shared = counts
        DispatchQueue.concurrentPerform(iterations: threads) { t in shared[t] = work(repetitions, t) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        return ((0..<threads).reduce(0) { $0 + counts[$1] }, seconds)
    }
}

// MARK: The FMA loop

#if VECTOR512
/// One 512-bit register.
private typealias Vector = SIMD16<Float>
#else
/// One 256-bit register (128-bit NEON registers take two each).
private typealias Vector = SIMD8<Float>
#endif

/// Ten independent chains: enough to keep two FMA units of latency 4 (or 5) busy, and with the
/// two operands 12 registers, within the 16 of AVX2.
private let fmaChainFLOPs = Double(10 * 2 * Vector.scalarCount * 100)

/// `repetitions` times 100 fused multiply-adds on each of ten vectors.
@inline(never)
private func fmaChains(_ repetitions: Int) {
    let x = Vector(repeating: 0.999_99), y = Vector(repeating: 1e-6)
    var c0 = Vector(repeating: 1), c1 = c0, c2 = c0, c3 = c0, c4 = c0
    var c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0
    for _ in 0..<repetitions {
        for _ in 0..<100 {
            c0 = y.addingProduct(c0, x); c1 = y.addingProduct(c1, x); c2 = y.addingProduct(c2, x)
            c3 = y.addingProduct(c3, x); c4 = y.addingProduct(c4, x); c5 = y.addingProduct(c5, x)
            c6 = y.addingProduct(c6, x); c7 = y.addingProduct(c7, x); c8 = y.addingProduct(c8, x)
            c9 = y.addingProduct(c9, x)
        }
    }
    // Keeps the chains alive: their sum is never NaN.
    let total = (c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9).sum()
    precondition(!total.isNaN)
}
