import XCTest
import Dispatch
@testable import Kernels

final class ScratchPerf: XCTestCase {
    func testGEMMSpeed() {
        for (m, n, k, tA, tB) in [(1024, 1024, 1024, false, false), (16, 1600, 150, false, false), (16, 150, 1600, false, true), (150, 1600, 16, true, false), (120, 16, 400, false, false), (120, 400, 16, false, true)] {
            let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: k * n)
            var c = [Float](repeating: 0, count: m * n)
            let ws = GEMMWorkspace()
            let reps = max(1, 2_000_000_000 / (2 * m * n * k))
            let start = DispatchTime.now()
            for _ in 0..<reps {
                gemm(transposeA: tA, transposeB: tB, m: m, n: n, k: k, a: a, lda: tA ? m : k, b: b, ldb: tB ? k : n, c: &c, ldc: n, accumulate: false, workspace: ws)
            }
            let s = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
            print("PERF", m, n, k, tA, tB, String(format: "%.1f GFLOPS", Double(2 * m * n * k * reps) / s / 1e9))
        }
    }
}
