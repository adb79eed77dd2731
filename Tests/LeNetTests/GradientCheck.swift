import Kernels
import XCTest
@testable import LeNet

/// Central differences: d loss / d x[i] ~ (loss(x + eps e_i) - loss(x - eps e_i)) / 2 eps.
func numericalGradient(of x: [Float], at indices: [Int], epsilon: Float, loss: ([Float]) -> Double) -> [Double] {
    var probe = x
    return indices.map { i in
        probe[i] = x[i] + epsilon
        let plus = loss(probe)
        probe[i] = x[i] - epsilon
        let minus = loss(probe)
        probe[i] = x[i]
        return (plus - minus) / Double(2 * epsilon)
    }
}

/// The worst disagreement between an analytic and a numerical gradient, as
/// |analytic - numerical| / (absolute + relative * |numerical|): at most 1 passes.
func gradientMismatch(analytic: [Float], numerical: [Double], at indices: [Int], absolute: Double, relative: Double)
    -> (score: Double, index: Int, analytic: Double, numerical: Double)
{
    var worst = (score: 0.0, index: -1, analytic: 0.0, numerical: 0.0)
    for (n, i) in indices.enumerated() {
        let a = Double(analytic[i]), g = numerical[n]
        let score = abs(a - g) / (absolute + relative * abs(g))
        if !(score <= worst.score) { worst = (score, i, a, g) }
    }
    return worst
}

/// Asserts the analytic gradient matches central differences at `indices`.
func assertGradient(
    _ name: String, analytic: [Float], of x: [Float], at indices: [Int]? = nil, epsilon: Float = 1e-2,
    absolute: Double = 1e-3, relative: Double = 1e-2, loss: ([Float]) -> Double,
    file: StaticString = #filePath, line: UInt = #line
) {
    let indices = indices ?? Array(x.indices)
    let numerical = numericalGradient(of: x, at: indices, epsilon: epsilon, loss: loss)
    let worst = gradientMismatch(analytic: analytic, numerical: numerical, at: indices, absolute: absolute, relative: relative)
    XCTAssertLessThanOrEqual(
        worst.score, 1,
        "\(name)[\(worst.index)]: analytic \(worst.analytic), numerical \(worst.numerical)", file: file, line: line)
}

/// sum(output * weights) in Double: a loss whose gradient with respect to the output is `weights`.
func dot(_ output: [Float], _ weights: [Float]) -> Double {
    zip(output, weights).reduce(0) { $0 + Double($1.0) * Double($1.1) }
}
