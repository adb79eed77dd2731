import Foundation
import Kernels
import XCTest
@testable import LeNet

final class ExportTests: XCTestCase {
    func testProtobufEncoding() {
        var w = ProtobufWriter()
        w.int(1, 150)  // tag 0x08, varint 150 = 0x96 0x01 (the protobuf guide's example)
        w.string(2, "testing")
        w.int(3, -1)
        XCTAssertEqual(w.bytes, [0x08, 0x96, 0x01, 0x12, 0x07] + Array("testing".utf8) + [0x18] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
    }

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

    func testNpyHeaderAndData() {
        let npy = NumPyExport.npy(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(Array(npy.prefix(8)), [0x93] + Array("NUMPY".utf8) + [1, 0])
        let headerLength = Int(npy[8]) | Int(npy[9]) << 8
        XCTAssertEqual((10 + headerLength) % 64, 0)
        let header = String(decoding: npy[10..<10 + headerLength], as: UTF8.self)
        XCTAssertTrue(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"), header)
        XCTAssertTrue(header.hasSuffix("\n"))
        XCTAssertEqual(npy.count, 10 + headerLength + 24)
        XCTAssertTrue(String(decoding: NumPyExport.npy(shape: [4], values: [0, 0, 0, 0]), as: UTF8.self).contains("'shape': (4,)"))
    }

    func testNpzIsAZipOfNpyFiles() {
        XCTAssertEqual(NumPyExport.crc32(Data("123456789".utf8)), 0xCBF4_3926)
        let archive = NumPyExport.npz([NamedTensor(name: "a", shape: [1], values: [7]), NamedTensor(name: "b", shape: [2], values: [1, 2])])
        XCTAssertEqual(Array(archive.prefix(4)), [0x50, 0x4B, 0x03, 0x04])
        XCTAssertNotNil(archive.range(of: Data("a.npy".utf8)))
        XCTAssertNotNil(archive.range(of: Data("b.npy".utf8)))
        // End of central directory: two entries.
        let end = archive.suffix(22)
        XCTAssertEqual(Array(end.prefix(4)), [0x50, 0x4B, 0x05, 0x06])
        XCTAssertEqual(end[end.startIndex + 10], 2)
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
