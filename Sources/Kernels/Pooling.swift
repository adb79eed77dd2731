// 2x2 max-pooling with stride 2 over `planes` independent H x W planes (H and W even).
// When training, the forward pass records which of the four inputs won (0...3, row-major in the
// window) so the backward pass routes each gradient to exactly that input; inference does not.

/// output[p, y, x] = max of input[p, 2y..2y+1, 2x..2x+1]; `argmax`, if given, gets the winner's
/// index.
public func maxPoolForward(
    _ input: UnsafePointer<Float>, planes: Int, height: Int, width: Int,
    into output: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<UInt8>? = nil
) {
    guard let argmax else {
        maxPoolMaxima(input, planes: planes, height: height, width: width, into: output)
        return
    }
    let (ow, rows) = (width / 2, planes * (height / 2))
    /// Window row r of every plane in turn: input rows 2r and 2r + 1, output row r.
    @inline(__always) func eachRow(_ body: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<UInt8>) -> Void) {
        for r in 0..<rows {
            let top = input + 2 * r * width
            body(top, top + width, output + r * ow, argmax + r * ow)
        }
    }
    // Eight (in rows of fewer, four) windows at a time, the same comparisons on vectors; the
    // last step ends at the row's end, overlapping the one before (and writing the same values
    // again). The width is tested once, not per row.
    if ow >= 8 {
        eachRow { top, bottom, row, winners in
            for x0 in stride(from: 0, to: ow, by: 8) {
                let x = min(x0, ow - 8)
                poolEightWindows(top + 2 * x, bottom + 2 * x, into: row + x, winners + x)
            }
        }
    } else if ow >= 4 {
        eachRow { top, bottom, row, winners in
            for x0 in stride(from: 0, to: ow, by: 4) {
                let x = min(x0, ow - 4)
                poolFourWindows(top + 2 * x, bottom + 2 * x, into: row + x, winners + x)
            }
        }
    } else {
        eachRow { top, bottom, row, winners in
            for x in 0..<ow {
                // Branch-free: the first of equal maxima wins, in the order 0, 1, 2, 3.
                let a = top[2 * x], b = top[2 * x + 1], c = bottom[2 * x], d = bottom[2 * x + 1]
                let upper = b > a ? b : a, upperIndex: UInt8 = b > a ? 1 : 0
                let lower = d > c ? d : c, lowerIndex: UInt8 = d > c ? 3 : 2
                row[x] = lower > upper ? lower : upper
                winners[x] = lower > upper ? lowerIndex : upperIndex
            }
        }
    }
}

/// The forward pass without the winners, as inference runs it: the same comparisons (so the
/// same maxima, NaN included), none of the index arithmetic, in about half the time (AVX2
/// build, S2 and S4 per 60,000 images: 30 and 22 ms against 63 and 33).
private func maxPoolMaxima(
    _ input: UnsafePointer<Float>, planes: Int, height: Int, width: Int, into output: UnsafeMutablePointer<Float>
) {
    let ow = width / 2
    for r in 0..<planes * (height / 2) {
        let top = input + 2 * r * width, bottom = top + width, row = output + r * ow
        // In steps as the recording pass's, the last overlapping.
        if ow >= 8 {
            for x0 in stride(from: 0, to: ow, by: 8) {
                let x = min(x0, ow - 8)
                let upper = load(top + 2 * x), lower = load(bottom + 2 * x)
                let maxima = larger(larger(upper.evenHalf, upper.oddHalf), larger(lower.evenHalf, lower.oddHalf))
                UnsafeMutableRawPointer(row + x).storeBytes(of: maxima, as: SIMD8<Float>.self)
            }
        } else if ow >= 4 {
            for x0 in stride(from: 0, to: ow, by: 4) {
                let x = min(x0, ow - 4)
                let upper = UnsafeRawPointer(top + 2 * x).loadUnaligned(as: SIMD8<Float>.self)
                let lower = UnsafeRawPointer(bottom + 2 * x).loadUnaligned(as: SIMD8<Float>.self)
                let maxima = larger(larger(upper.evenHalf, upper.oddHalf), larger(lower.evenHalf, lower.oddHalf))
                UnsafeMutableRawPointer(row + x).storeBytes(of: maxima, as: SIMD4<Float>.self)
            }
        } else {
            for x in 0..<ow { row[x] = larger(larger(top[2 * x], top[2 * x + 1]), larger(bottom[2 * x], bottom[2 * x + 1])) }
        }
    }
}

/// `b` where it is greater than `a`, else `a`: a window pair's winner as the recording pass
/// picks it. Written for each type: on a generic `SIMD` type the comparison and selection
/// compile to per-lane loops, the standard library's vector instructions being overloads on the
/// concrete types.
@inline(__always) private func larger(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .> a) }
@inline(__always) private func larger(_ a: SIMD4<Float>, _ b: SIMD4<Float>) -> SIMD4<Float> { a.replacing(with: b, where: b .> a) }
@inline(__always) private func larger(_ a: Float, _ b: Float) -> Float { b > a ? b : a }

/// The maxima and winners of the four 2x2 windows whose rows start at `top` and `bottom`.
@inline(__always)
private func poolFourWindows(
    _ top: UnsafePointer<Float>, _ bottom: UnsafePointer<Float>,
    into output: UnsafeMutablePointer<Float>, _ winners: UnsafeMutablePointer<UInt8>
) {
    let upperRow = UnsafeRawPointer(top).loadUnaligned(as: SIMD8<Float>.self)
    let lowerRow = UnsafeRawPointer(bottom).loadUnaligned(as: SIMD8<Float>.self)
    let (a, b, c, d) = (upperRow.evenHalf, upperRow.oddHalf, lowerRow.evenHalf, lowerRow.oddHalf)
    let right = b .> a, lowerRight = d .> c
    let upper = a.replacing(with: b, where: right), lower = c.replacing(with: d, where: lowerRight)
    let upperIndex = SIMD4<Int32>(repeating: 0).replacing(with: 1, where: right)
    let lowerIndex = SIMD4<Int32>(repeating: 2).replacing(with: 3, where: lowerRight)
    let below = lower .> upper
    UnsafeMutableRawPointer(output).storeBytes(of: upper.replacing(with: lower, where: below), as: SIMD4<Float>.self)
    let index = SIMD4<UInt8>(truncatingIfNeeded: upperIndex.replacing(with: lowerIndex, where: below))
    UnsafeMutableRawPointer(winners).storeBytes(of: index, as: SIMD4<UInt8>.self)
}

/// `poolFourWindows` on twice the lanes, for rows of 8 windows or more: S2's forward pass in
/// 33 ms per 60,000 images against 49 ms in steps of four (AVX-512 build; AVX2 63 against 66).
/// Written out again for SIMD16 rows: the same code generic over the vector type ran 10-20x
/// slower.
@inline(__always)
private func poolEightWindows(
    _ top: UnsafePointer<Float>, _ bottom: UnsafePointer<Float>,
    into output: UnsafeMutablePointer<Float>, _ winners: UnsafeMutablePointer<UInt8>
) {
    let upperRow = UnsafeRawPointer(top).loadUnaligned(as: SIMD16<Float>.self)
    let lowerRow = UnsafeRawPointer(bottom).loadUnaligned(as: SIMD16<Float>.self)
    let (a, b, c, d) = (upperRow.evenHalf, upperRow.oddHalf, lowerRow.evenHalf, lowerRow.oddHalf)
    let right = b .> a, lowerRight = d .> c
    let upper = a.replacing(with: b, where: right), lower = c.replacing(with: d, where: lowerRight)
    let upperIndex = SIMD8<Int32>(repeating: 0).replacing(with: 1, where: right)
    let lowerIndex = SIMD8<Int32>(repeating: 2).replacing(with: 3, where: lowerRight)
    let below = lower .> upper
    UnsafeMutableRawPointer(output).storeBytes(of: upper.replacing(with: lower, where: below), as: SIMD8<Float>.self)
    let index = SIMD8<UInt8>(truncatingIfNeeded: upperIndex.replacing(with: lowerIndex, where: below))
    UnsafeMutableRawPointer(winners).storeBytes(of: index, as: SIMD8<UInt8>.self)
}

/// inputGradient (overwritten) gets each output gradient at the input that won the forward max,
/// and 0 at the other three inputs of the window.
///
/// With `pooledOutput` (the forward pass's output, when the pool's input is a ReLU's output) it
/// also applies that ReLU's backward pass: no gradient reaches an input whose ReLU output was 0.
/// Only the winner gets a gradient, and its ReLU output is the window's maximum, so the mask is
/// one comparison per window on the pooled output, not one per input on the ReLU's: a fifth as
/// much read, and a sixth fewer cycles in the pools' backward passes (AVX2 build, by perf).
public func maxPoolBackward(
    outputGradient: UnsafePointer<Float>, argmax: UnsafePointer<UInt8>, planes: Int, height: Int, width: Int,
    pooledOutput: UnsafePointer<Float>? = nil, into inputGradient: UnsafeMutablePointer<Float>
) {
    let (oh, ow) = (height / 2, width / 2)
    for p in 0..<planes {
        for y in 0..<oh {
            let window = (p * oh + y) * ow
            let source = outputGradient + window, winners = argmax + window
            let maxima = pooledOutput.map { $0 + window }
            let top = (p * height + 2 * y) * width, bottom = top + width
            guard ow >= 4 else {
                for x in 0..<ow {
                    // The ReLU before the pool passes no gradient where its output was 0.
                    let passes = maxima.map { !($0[x] <= 0) } ?? true
                    for k in 0..<4 {
                        let i = (k < 2 ? top : bottom) + 2 * x + k % 2
                        inputGradient[i] = winners[x] == k && passes ? source[x] : 0
                    }
                }
                continue
            }
            // Four windows at a time; the last four end at the row's end, overlapping the ones
            // before (and writing the same values again).
            for x0 in stride(from: 0, to: ow, by: 4) {
                let x = min(x0, ow - 4)
                var g = UnsafeRawPointer(source + x).loadUnaligned(as: SIMD4<Float>.self)
                if let maxima {
                    g.replace(with: 0, where: UnsafeRawPointer(maxima + x).loadUnaligned(as: SIMD4<Float>.self) .<= 0)
                }
                let index = SIMD4<Int32>(truncatingIfNeeded: UnsafeRawPointer(winners + x).loadUnaligned(as: SIMD4<UInt8>.self))
                let zero = SIMD4<Float>()
                var upper = SIMD8<Float>(), lower = SIMD8<Float>()
                upper.evenHalf = zero.replacing(with: g, where: index .== 0)
                upper.oddHalf = zero.replacing(with: g, where: index .== 1)
                lower.evenHalf = zero.replacing(with: g, where: index .== 2)
                lower.oddHalf = zero.replacing(with: g, where: index .== 3)
                UnsafeMutableRawPointer(inputGradient + top + 2 * x).storeBytes(of: upper, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(inputGradient + bottom + 2 * x).storeBytes(of: lower, as: SIMD8<Float>.self)
            }
        }
    }
}
