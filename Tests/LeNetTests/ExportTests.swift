import Datasets
import Foundation
import Kernels
import TestSupport
import XCTest
@testable import LeNet

final class ExportTests: XCTestCase {
    func testONNXGraphHoldsEveryWeightAndTheStandardOperators() {
        let model = Model.random(seed: 1)
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
        let model = Model.random(seed: 2)
        let images = IDXDataset.small.test.slice(0..<37)
        let evaluation = Runner(threads: 2).evaluate(model, on: images, keepLogits: true)
        let logits = try! XCTUnwrap(evaluation.logits)
        XCTAssertEqual(logits.count, 370)
        for i in 0..<37 {
            let row = logits[i * 10..<(i + 1) * 10]
            XCTAssertEqual(Int(evaluation.predictions[i]), row.indices.max { row[$0] < row[$1] }! - i * 10)
        }
    }

    func testMistakesAreTheMostConfidentFirst() {
        let labels: [UInt8] = [0, 1, 2, 3]
        var logits = [Float](repeating: 0, count: 40)
        logits[0 * 10 + 0] = 5  // right
        logits[1 * 10 + 7] = 9  // wrong, very confident
        logits[2 * 10 + 2] = 5  // right
        logits[3 * 10 + 5] = 2  // wrong, less confident
        let evaluation = Evaluation(predictions: [0, 7, 2, 5], labels: labels, loss: 0, logits: logits)
        let mistakes = evaluation.mistakes(limit: 10)
        XCTAssertEqual(mistakes.map(\.index), [1, 3])
        XCTAssertEqual(mistakes.map(\.predicted), [7, 5])
        XCTAssertEqual(mistakes[0].confidence, 1 / (1 + 9 * exp(-9)), accuracy: 1e-9)
        XCTAssertEqual(evaluation.mistakes(limit: 1).map(\.index), [1])
    }
}
