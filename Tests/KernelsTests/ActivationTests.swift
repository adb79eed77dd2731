import TestSupport
import XCTest
@testable import Kernels

final class ActivationTests: XCTestCase {
    func testReluForwardAndBackward() {
        let x: [Float] = (0..<37).map { Float($0 % 5) - 2 }
        var y = [Float](repeating: .nan, count: x.count)
        reluForward(x, count: x.count, into: &y)
        XCTAssertEqual(y, x.map { max($0, 0) })
        let dy = (0..<37).map { Float($0) }
        var dx = [Float](repeating: .nan, count: x.count)
        reluBackward(output: y, outputGradient: dy, count: x.count, into: &dx)
        XCTAssertEqual(dx, zip(x, dy).map { $0 > 0 ? $1 : 0 })
        // In place, as the model runs it (two vectors of 16 and a scalar tail of 5).
        var inPlace = dy
        inPlace.withUnsafeMutableBufferPointer { g in
            reluBackward(output: y, outputGradient: g.baseAddress!, count: g.count, into: g.baseAddress!)
        }
        XCTAssertEqual(inPlace, dx)
    }
}
