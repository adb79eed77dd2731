import Foundation
import XCTest
@testable import LeNet

final class WorkerPoolTests: XCTestCase {
    /// Every job runs once per thread, each thread's part before `run` returns: back to back (the
    /// threads spinning), after pauses longer than the spin (asleep, woken), and with more
    /// threads than processors (no spinning).
    func testEveryThreadRunsEveryJobOnceBeforeRunReturns() {
        for threads in [1, 2, 3, 2 * ProcessInfo.processInfo.activeProcessorCount + 1] {
            let pool = WorkerPool(threads: threads)
            defer { pool.stop() }
            let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: threads)
            defer { counts.deallocate() }
            counts.initialize(repeating: 0)
            for job in 1...300 {
                if job % 100 == 0 { Thread.sleep(forTimeInterval: 0.005) }
                pool.run { t in counts[t] += 1 }
                XCTAssertEqual(Array(counts), Array(repeating: job, count: threads), "\(threads) threads, job \(job)")
            }
        }
    }

    /// Runners come and go, their pools' threads with them.
    func testRunnersStopTheirThreads() throws {
        func threadCount() throws -> Int { try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count }
        let before = try threadCount()
        let values = (0..<10_000).map { Float($0 % 17) }
        for _ in 0..<50 {
            let runner = Runner(threads: 3)
            let sums = UnsafeMutableBufferPointer<Float>.allocate(capacity: 3)
            defer { sums.deallocate() }
            sums.initialize(repeating: 0)
            runner.parallel(values.count) { t, share in sums[t] = values[share].reduce(0, +) }
            XCTAssertEqual(sums.reduce(0, +), values.reduce(0, +))
        }
        // 100 threads were started; they end soon after their runners.
        let deadline = Date().addingTimeInterval(5)
        while try threadCount() > before + 5 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertLessThanOrEqual(try threadCount(), before + 5)
    }
}
