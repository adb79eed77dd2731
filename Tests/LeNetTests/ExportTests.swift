import Foundation
import Kernels
import XCTest
@testable import LeNet

final class ExportTests: XCTestCase {
    func testONNXGraphHoldsEveryWeightAndTheStandardOperators() {
        var generator = SplitMix64(seed: 1)
        let model = Model(parameters: Initialization.pytorch.parameters(using: &generator), normalization: Normalization(mean: 0.1, standardDeviation: 0.3))
        let data = ONNXExport.encode(model)
        let text = String(decoding: data, as: UTF8.self)
        for op in ["Pad", "Mul", "Add", "Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Softmax"] {
            XCTAssertTrue(text.contains(op), op)
        }
        // The weights are stored verbatim as raw little-endian data.
        let conv3 = ParameterLayout.tensor(named: "conv3.weight")!
        let raw = Data(model.parameters[conv3.offset..<conv3.offset + conv3.count].flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
        XCTAssertNotNil(data.range(of: raw))
        XCTAssertGreaterThan(data.count, 61_706 * 4)
    }

    func testEvaluationKeepsLogitsInRowMajorOrder() {
        var generator = SplitMix64(seed: 2)
        let model = Model(parameters: Initialization.pytorch.parameters(using: &generator), normalization: Normalization(mean: 0.1, standardDeviation: 0.3))
        let images = TrainerTests.small.test.slice(0..<37)
        let evaluation = Runner(threads: 2).evaluate(model, on: images, keepLogits: true)
        let logits = try! XCTUnwrap(evaluation.logits)
        XCTAssertEqual(logits.count, 370)
        for i in 0..<37 {
            let row = logits[i * 10..<(i + 1) * 10]
            XCTAssertEqual(Int(evaluation.predictions[i]), row.indices.max { row[$0] < row[$1] }! - i * 10)
        }
    }
}
