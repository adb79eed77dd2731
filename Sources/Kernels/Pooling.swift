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
                // Branch-free: the first of equal maxima wins, in the order 0, 1, 2, 3.
                let a = top[2 * x], b = top[2 * x + 1], c = bottom[2 * x], d = bottom[2 * x + 1]
                let upper = b > a ? b : a, upperIndex: UInt8 = b > a ? 1 : 0
                let lower = d > c ? d : c, lowerIndex: UInt8 = d > c ? 3 : 2
                target[y * ow + x] = lower > upper ? lower : upper
                winners[y * ow + x] = lower > upper ? lowerIndex : upperIndex
            }
        }
    }
}

/// inputGradient (overwritten) gets each output gradient at the input that won the forward max,
/// and 0 at the other three inputs of the window.
///
/// With `reluOutput` (the pool's input, a ReLU's output) it also applies that ReLU's backward
/// pass: no gradient reaches an input whose ReLU output was 0. Fused, that is one masked pass over
/// each plane just written, while it is still in cache, instead of a separate ReLU backward pass
/// over all planes afterwards.
public func maxPoolBackward(
    outputGradient: UnsafePointer<Float>, argmax: UnsafePointer<UInt8>, planes: Int, height: Int, width: Int,
    reluOutput: UnsafePointer<Float>? = nil, into inputGradient: UnsafeMutablePointer<Float>
) {
    let (oh, ow) = (height / 2, width / 2)
    for p in 0..<planes {
        let source = outputGradient + p * oh * ow
        let winners = argmax + p * oh * ow
        let target = inputGradient + p * height * width
        for y in 0..<oh {
            let top = target + 2 * y * width, bottom = top + width
            for x in 0..<ow {
                let index = winners[y * ow + x]
                let g = source[y * ow + x]
                top[2 * x] = index == 0 ? g : 0
                top[2 * x + 1] = index == 1 ? g : 0
                bottom[2 * x] = index == 2 ? g : 0
                bottom[2 * x + 1] = index == 3 ? g : 0
            }
        }
        // The ReLU before the pool passes no gradient where its output was 0.
        if let reluOutput {
            let activation = reluOutput + p * height * width
            for i in 0..<height * width where activation[i] <= 0 { target[i] = 0 }
        }
    }
}
