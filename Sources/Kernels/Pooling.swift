// 2x2 max-pooling with stride 2 over `planes` independent H x W planes (H and W even).
// The forward pass records which of the four inputs won (0...3, row-major in the window) so the
// backward pass routes each gradient to exactly that input.

/// output[p, y, x] = max of input[p, 2y..2y+1, 2x..2x+1]; `argmax` gets the winner's index.
public func maxPoolForward(
    _ input: UnsafePointer<Float>, planes: Int, height: Int, width: Int,
    into output: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<UInt8>
) {
    let (oh, ow) = (height / 2, width / 2)
    for p in 0..<planes {
        let source = input + p * height * width
        let target = output + p * oh * ow
        let winners = argmax + p * oh * ow
        for y in 0..<oh {
            let top = source + 2 * y * width, bottom = top + width
            for x in 0..<ow {
                var best = top[2 * x], index: UInt8 = 0
                if top[2 * x + 1] > best { best = top[2 * x + 1]; index = 1 }
                if bottom[2 * x] > best { best = bottom[2 * x]; index = 2 }
                if bottom[2 * x + 1] > best { best = bottom[2 * x + 1]; index = 3 }
                target[y * ow + x] = best
                winners[y * ow + x] = index
            }
        }
    }
}

/// inputGradient (overwritten) gets each output gradient at the input that won the forward max,
/// and 0 at the other three inputs of the window.
///
/// With `reluOutput` (the pool's input, a ReLU's output) it also applies that ReLU's backward
/// pass: a window whose winner is 0 passes no gradient. Fused, the ReLU costs one compare per
/// window instead of a pass over the whole plane.
public func maxPoolBackward(
    outputGradient: UnsafePointer<Float>, argmax: UnsafePointer<UInt8>, planes: Int, height: Int, width: Int,
    reluOutput: UnsafePointer<Float>? = nil, into inputGradient: UnsafeMutablePointer<Float>
) {
    let (oh, ow) = (height / 2, width / 2)
    for p in 0..<planes {
        let source = outputGradient + p * oh * ow
        let winners = argmax + p * oh * ow
        let target = inputGradient + p * height * width
        let activation = reluOutput.map { $0 + p * height * width }
        for y in 0..<oh {
            let top = target + 2 * y * width, bottom = top + width
            for x in 0..<ow {
                let index = Int(winners[y * ow + x])
                var g = source[y * ow + x]
                if let activation, activation[(2 * y + (index >> 1)) * width + 2 * x + (index & 1)] <= 0 { g = 0 }
                top[2 * x] = index == 0 ? g : 0
                top[2 * x + 1] = index == 1 ? g : 0
                bottom[2 * x] = index == 2 ? g : 0
                bottom[2 * x + 1] = index == 3 ? g : 0
            }
        }
    }
}
