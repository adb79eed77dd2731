import Foundation
import Kernels
import XCTest
@testable import LeNet

final class CheckpointTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("checkpoint-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    private func sample() -> Checkpoint {
        var generator = SplitMix64(seed: 5)
        var parameters = Initialization.pytorch.parameters(using: &generator)
        // Values whose bit patterns must survive exactly: subnormal, negative zero, extremes.
        parameters[0] = .leastNonzeroMagnitude
        parameters[1] = -0.0
        parameters[2] = .greatestFiniteMagnitude
        return Checkpoint(
            model: Model(parameters: parameters, normalization: Normalization(mean: 0.1000706, standardDeviation: 0.2752962)),
            metadata: ["epoch": "3", "note": "quotes \" and \\ and\nnewline"])
    }

    func testRoundTripIsBitExact() throws {
        let original = sample()
        let url = directory.appendingPathComponent("model.safetensors")
        try original.write(to: url)
        let loaded = try Checkpoint(contentsOf: url)
        XCTAssertEqual(loaded.model.parameters.map(\.bitPattern), original.model.parameters.map(\.bitPattern))
        XCTAssertEqual(loaded.model.normalization, original.model.normalization)
        XCTAssertEqual(loaded.metadata["epoch"], "3")
        XCTAssertEqual(loaded.metadata["note"], original.metadata["note"])
        // Nothing but the checkpoint is left in the folder (the temporary file was renamed).
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["model.safetensors"])
    }

    func testMomentumRoundTripsForResume() throws {
        var checkpoint = sample()
        checkpoint.momentum = checkpoint.model.parameters.map { -$0 / 3 }
        let loaded = try Checkpoint(decoding: checkpoint.encoded(), path: "x")
        XCTAssertEqual(loaded.momentum?.map(\.bitPattern), checkpoint.momentum?.map(\.bitPattern))
        XCTAssertNil(try Checkpoint(decoding: sample().encoded(), path: "x").momentum)
    }

    func testLayoutIsSafetensors() throws {
        let data = sample().encoded()
        let headerLength = data.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual(headerLength % 8, 0)
        XCTAssertEqual(data.count, 8 + headerLength + 61_706 * 4)
        let header = try XCTUnwrap(JSONSerialization.jsonObject(with: data.subdata(in: 8..<8 + headerLength)) as? [String: Any])
        let fc2 = try XCTUnwrap(header["fc2.weight"] as? [String: Any])
        XCTAssertEqual(fc2["dtype"] as? String, "F32")
        XCTAssertEqual(fc2["shape"] as? [Int], [10, 84])
        XCTAssertEqual(fc2["data_offsets"] as? [Int], [4 * 60_856, 4 * 61_696])
        let metadata = try XCTUnwrap(header["__metadata__"] as? [String: String])
        XCTAssertEqual(metadata["format"], "swift-lenet")
        XCTAssertEqual(metadata["normalization_std"], "0.2752962")
    }

    /// Decodes `data` and asserts the error's reason contains `fragment`.
    private func assertRejected(_ data: Data, _ fragment: String, line: UInt = #line) {
        XCTAssertThrowsError(try Checkpoint(decoding: data, path: "x"), line: line) { error in
            guard case .malformed(_, let reason)? = error as? CheckpointError else { return XCTFail("\(error)", line: line) }
            XCTAssertTrue(reason.contains(fragment), "'\(reason)' does not mention '\(fragment)'", line: line)
        }
    }

    /// The sample's bytes with the JSON header rewritten by `edit` (same data section).
    private func withHeader(_ edit: (String) -> String) -> Data {
        let data = sample().encoded()
        let length = data.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
        var header = Array(edit(String(decoding: data.subdata(in: 8..<8 + length), as: UTF8.self)).utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var out = Data()
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        return out + header + data.suffix(from: 8 + length)
    }

    func testCorruptFilesAreRefusedWithTheReason() {
        let good = sample().encoded()
        assertRejected(Data([1, 2, 3]), "shorter than the 8-byte header length")
        assertRejected(Data([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]) + good.suffix(from: 8), "header length")
        assertRejected(good.prefix(good.count - 4), "data_offsets")
        assertRejected(good + Data([0, 0, 0, 0]), "bytes of data follow the last tensor")
        assertRejected(withHeader { _ in "[1, 2]" }, "not a JSON object")
        assertRejected(withHeader { $0.replacingOccurrences(of: "swift-lenet", with: "other") }, "format")
        assertRejected(withHeader { $0.replacingOccurrences(of: "\"F32\"", with: "\"F16\"") }, "dtype")
        assertRejected(withHeader { $0.replacingOccurrences(of: "[10,84]", with: "[84,10]") }, "shape")
        assertRejected(withHeader { $0.replacingOccurrences(of: "fc2.bias", with: "fc3.bias") }, "missing tensor 'fc2.bias'")
        let sample = sample()
        let extra = Checkpoint.tensors(sample.model.parameters, prefix: "") + [NamedTensor(name: "fc3.bias", shape: [1], values: [0])]
        var metadata = sample.metadata
        metadata["format"] = "swift-lenet"
        metadata["format_version"] = "1"
        assertRejected(SafeTensors.encode(extra, metadata: metadata), "unexpected tensor 'fc3.bias'")
        // A tensor moved onto its neighbour's bytes leaves a gap and an overlap.
        assertRejected(withHeader { $0.replacingOccurrences(of: "[0,600]", with: "[24,624]") }, "does not tile")
        var nan = good
        let length = good.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
        nan.replaceSubrange(8 + length + 40..<8 + length + 44, with: withUnsafeBytes(of: Float.nan.bitPattern.littleEndian, Array.init))
        assertRejected(nan, "non-finite value")
    }

    func testMissingFileSaysSo() {
        XCTAssertThrowsError(try Checkpoint(contentsOf: directory.appendingPathComponent("none.safetensors"))) { error in
            XCTAssertEqual(error as? CheckpointError, .cannotRead(path: directory.appendingPathComponent("none.safetensors").path, reason: "no such file"))
        }
    }

    func testWriteIntoMissingDirectoryFailsCleanly() {
        let url = directory.appendingPathComponent("absent/model.safetensors")
        XCTAssertThrowsError(try sample().write(to: url)) { error in
            guard case .cannotWrite? = error as? CheckpointError else { return XCTFail("\(error)") }
        }
    }
}
