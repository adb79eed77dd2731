import TestSupport
import XCTest
@testable import Kernels

final class GEMMTests: XCTestCase {
    /// Runs the fast GEMM and the reference on the same operands and compares.
    private func check(m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, accumulate: Bool, padding: Int, seed: UInt64) {
        var random = TestRandom(seed: seed)
        let lda = (transposeA ? m : k) + padding
        let ldb = (transposeB ? k : n) + padding
        let ldc = n + padding
        let a = random.array((transposeA ? k : m) * lda)
        let b = random.array((transposeB ? n : k) * ldb)
        let c0 = random.array(m * ldc)
        var expected = c0
        Reference.gemm(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
            c: &expected, ldc: ldc, accumulate: accumulate)
        var actual = c0
        let workspace = GEMMWorkspace()
        actual.withUnsafeMutableBufferPointer { c in
            gemm(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                c: c.baseAddress!, ldc: ldc, accumulate: accumulate, workspace: workspace)
        }
        // Padding columns of C beyond n must be untouched.
        for i in 0..<m {
            for j in n..<ldc { XCTAssertEqual(actual[i * ldc + j], c0[i * ldc + j], "wrote outside C at (\(i), \(j))") }
        }
        assertClose(
            actual, expected, tolerance: 1e-5 * Float(max(k, 1)).squareRoot(),
            "m \(m) n \(n) k \(k) tA \(transposeA) tB \(transposeB) acc \(accumulate)")
    }

    func testMatchesReferenceOnOddAndBlockCrossingShapes() {
        let shapes = [
            (1, 1, 1), (6, 16, 1), (5, 15, 7), (7, 17, 3), (13, 33, 300), (16, 1600, 150), (150, 64, 16),
            (73, 513, 257), (120, 8, 400), (84, 120, 16), (10, 3, 84), (1, 530, 2), (120, 1, 400), (37, 1, 19),
            (84, 1, 120), (10, 1, 84), (9, 1, 7), (6, 1, 33), (4, 1, 16),
        ]
        var seed: UInt64 = 1
        for (m, n, k) in shapes {
            for transposeA in [false, true] {
                for transposeB in [false, true] {
                    seed += 1
                    check(m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, accumulate: seed % 2 == 0, padding: Int(seed % 3), seed: seed)
                }
            }
        }
    }

    func testAccumulateAddsToExistingValues() {
        for accumulate in [false, true] {
            check(m: 20, n: 40, k: 600, transposeA: false, transposeB: false, accumulate: accumulate, padding: 0, seed: 99)
        }
    }

    func testZeroDepthClearsOrKeeps() {
        var c: [Float] = [1, 2, 3, 4]
        let workspace = GEMMWorkspace()
        c.withUnsafeMutableBufferPointer { p in
            gemm(transposeA: false, transposeB: false, m: 2, n: 2, k: 0, a: [], lda: 1, b: [], ldb: 2, c: p.baseAddress!, ldc: 2, accumulate: true, workspace: workspace)
        }
        XCTAssertEqual(c, [1, 2, 3, 4])
        c.withUnsafeMutableBufferPointer { p in
            gemm(transposeA: false, transposeB: false, m: 2, n: 2, k: 0, a: [], lda: 1, b: [], ldb: 2, c: p.baseAddress!, ldc: 2, accumulate: false, workspace: workspace)
        }
        XCTAssertEqual(c, [0, 0, 0, 0])
    }

    /// The build says what it was compiled for, this CPU can run it, and the ceilings bench
    /// reports against are measured on 1 and 2 threads. How they compare is left to `bench`: two
    /// timings of 0.02 s each say nothing reliable on a shared machine.
    func testInstructionSetAndCeilings() {
        XCTAssertTrue(InstructionSet.isRunnable)
        #if arch(x86_64)
        XCTAssertEqual(InstructionSet.vectorBits, InstructionSet.compiled == "AVX-512" ? 512 : 256, InstructionSet.compiled)
        XCTAssertTrue(["AVX-512", "AVX2 + FMA"].contains(InstructionSet.machine), InstructionSet.machine)
        #endif
        for threads in [1, 2] {
            for flops in [Ceiling.peakFLOPS(threads: threads, seconds: 0.02), Ceiling.gemmFLOPS(threads: threads, seconds: 0.02)] {
                XCTAssertTrue(flops.isFinite && flops > 0, "\(threads) threads: \(flops)")
            }
        }
    }
}
