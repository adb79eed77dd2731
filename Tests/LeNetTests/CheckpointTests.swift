import Foundation
import Formats
import Kernels
import TestSupport
import XCTest
@testable import LeNet

final class CheckpointTests: TemporaryDirectoryTestCase {
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

    /// Decodes `data` and asserts the problem found.
    private func assertRejected(_ data: Data, _ expected: CheckpointProblem, line: UInt = #line) {
        XCTAssertThrowsError(try Checkpoint(decoding: data, path: "x"), line: line) { error in
            XCTAssertEqual(error as? CheckpointError, .malformed(path: "x", problem: expected), line: line)
        }
    }

    /// Decodes `data` and asserts the safetensors layer refused it with a matching error.
    private func assertRejected(_ data: Data, line: UInt = #line, _ matches: (SafeTensorsError) -> Bool) {
        XCTAssertThrowsError(try Checkpoint(decoding: data, path: "x"), line: line) { error in
            guard case .malformed(_, .safeTensors(let reason))? = error as? CheckpointError, matches(reason) else {
                return XCTFail("\(error)", line: line)
            }
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
        assertRejected(Data([1, 2, 3]), .safeTensors(.tooShort(bytes: 3)))
        assertRejected(Data([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]) + good.suffix(from: 8), .safeTensors(.headerTooLong(length: 0xFFFF_FFFF, available: good.count - 8)))
        assertRejected(good.prefix(good.count - 4)) { if case .badOffsets = $0 { true } else { false } }
        assertRejected(good + Data([0, 0, 0, 0]), .safeTensors(.trailingData(bytes: 4)))
        assertRejected(withHeader { _ in "[1, 2]" }, .safeTensors(.headerNotJSON))
        assertRejected(withHeader { $0.replacingOccurrences(of: "swift-lenet", with: "other") }, .wrongFormat(found: "other"))
        assertRejected(withHeader { $0.replacingOccurrences(of: "\"F32\"", with: "\"F16\"") }) { if case .unsupportedDataType(_, "F16") = $0 { true } else { false } }
        assertRejected(withHeader { $0.replacingOccurrences(of: "[10,84]", with: "[84,10]") }, .wrongShape(name: "fc2.weight", found: [84, 10], expected: [10, 84]))
        assertRejected(withHeader { $0.replacingOccurrences(of: "fc2.bias", with: "fc3.bias") }, .missingTensor(name: "fc2.bias"))
        let sample = sample()
        let extra = Checkpoint.tensors(sample.model.parameters, prefix: "") + [NamedTensor(name: "fc3.bias", shape: [1], values: [0])]
        var metadata = sample.metadata
        metadata["format"] = "swift-lenet"
        metadata["format_version"] = "1"
        assertRejected(SafeTensors.encode(extra, metadata: metadata), .unexpectedTensor(name: "fc3.bias"))
        // A tensor moved onto its neighbour's bytes leaves a gap and an overlap.
        assertRejected(withHeader { $0.replacingOccurrences(of: "[0,600]", with: "[24,624]") }, .safeTensors(.notTiled(name: "conv1.weight", start: 24, expected: 0)))
        var nan = good
        let length = good.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
        nan.replaceSubrange(8 + length + 40..<8 + length + 44, with: withUnsafeBytes(of: Float.nan.bitPattern.littleEndian, Array.init))
        assertRejected(nan, .safeTensors(.nonFinite(name: "conv1.weight", element: 10)))
    }

    func testOversizedFileIsRefusedUnread() throws {
        let url = directory.appendingPathComponent("big.safetensors")
        try Data(count: Checkpoint.maximumFileBytes + 1).write(to: url)
        XCTAssertThrowsError(try Checkpoint(contentsOf: url)) { error in
            XCTAssertEqual(error as? CheckpointError, .cannotRead(.tooLarge(path: url.path, bytes: Checkpoint.maximumFileBytes + 1, limit: Checkpoint.maximumFileBytes)))
        }
    }

    func testMissingFileSaysSo() {
        XCTAssertThrowsError(try Checkpoint(contentsOf: directory.appendingPathComponent("none.safetensors"))) { error in
            XCTAssertEqual(error as? CheckpointError, .cannotRead(.notFound(path: directory.appendingPathComponent("none.safetensors").path)))
        }
    }

    func testWriteIntoMissingDirectoryFailsCleanly() {
        let url = directory.appendingPathComponent("absent/model.safetensors")
        XCTAssertThrowsError(try sample().write(to: url)) { error in
            XCTAssertEqual(error as? CheckpointError, .cannotWrite(FileWriteError(path: url.path, code: ENOENT)))
        }
    }
}
