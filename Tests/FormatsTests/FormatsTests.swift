import Foundation
import TestSupport
import XCTest
@testable import Formats

final class FormatsTests: XCTestCase {
    func testProtobufEncoding() {
        var w = ProtobufWriter()
        w.int(1, 150)  // tag 0x08, varint 150 = 0x96 0x01 (the protobuf guide's example)
        w.string(2, "testing")
        w.int(3, -1)
        XCTAssertEqual(w.bytes, [0x08, 0x96, 0x01, 0x12, 0x07] + Array("testing".utf8) + [0x18] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
    }

    func testNpyHeaderAndData() {
        let npy = NumPy.npy(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(Array(npy.prefix(8)), [0x93] + Array("NUMPY".utf8) + [1, 0])
        let headerLength = Int(npy[8]) | Int(npy[9]) << 8
        XCTAssertEqual((10 + headerLength) % 64, 0)
        let header = String(decoding: npy[10..<10 + headerLength], as: UTF8.self)
        XCTAssertTrue(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"), header)
        XCTAssertTrue(header.hasSuffix("\n"))
        XCTAssertEqual(npy.count, 10 + headerLength + 24)
        XCTAssertEqual(Array(npy.suffix(4)), Float(6).bitPattern.littleEndianBytes)
        XCTAssertTrue(String(decoding: NumPy.npy(shape: [4], values: [0, 0, 0, 0]), as: UTF8.self).contains("'shape': (4,)"))
    }

    func testNpzIsAZipOfNpyFiles() {
        XCTAssertEqual(Zip.crc32(Data("123456789".utf8)), 0xCBF4_3926)
        let archive = NumPy.npz([NamedTensor(name: "a", shape: [1], values: [7]), NamedTensor(name: "b", shape: [2], values: [1, 2])])
        XCTAssertEqual(Array(archive.prefix(4)), [0x50, 0x4B, 0x03, 0x04])
        XCTAssertNotNil(archive.range(of: Data("a.npy".utf8)))
        XCTAssertNotNil(archive.range(of: Data("b.npy".utf8)))
        // End of central directory: two entries, the directory right before it.
        let end = archive.suffix(22)
        XCTAssertEqual(Array(end.prefix(4)), [0x50, 0x4B, 0x05, 0x06])
        XCTAssertEqual(end[end.startIndex + 10], 2)
        let directorySize = end[end.startIndex + 12..<end.startIndex + 16].reversed().reduce(0) { $0 << 8 | Int($1) }
        let directoryOffset = end[end.startIndex + 16..<end.startIndex + 20].reversed().reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual(directoryOffset + directorySize, archive.count - 22)
        XCTAssertEqual(Array(archive[directoryOffset..<directoryOffset + 4]), [0x50, 0x4B, 0x01, 0x02])
    }

    func testIDXEncoding() {
        let data = encodeIDX(dimensions: [2, 1, 3], bytes: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(Array(data), [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6])
    }

    func testCSVRoundTripQuotesWhatNeedsIt() {
        let rows = [["1", "a,b", "say \"hi\""], ["2", "", "two\nlines"]]
        let text = CSV.encode(header: ["n", "text", "quote"], rows: rows)
        XCTAssertEqual(text, "n,text,quote\n1,\"a,b\",\"say \"\"hi\"\"\"\n2,,\"two\nlines\"\n")
        XCTAssertEqual(CSV.decode(text), [["n", "text", "quote"]] + rows)
        XCTAssertEqual(CSV.decode("a,b\r\n1,2"), [["a", "b"], ["1", "2"]])
    }

    func testSafeTensorsRoundTripAndTypedErrors() throws {
        let tensors = [NamedTensor(name: "w", shape: [2, 2], values: [1, -0.0, .leastNonzeroMagnitude, 4]),
                       NamedTensor(name: "b", shape: [1], values: [5])]
        let data = SafeTensors.encode(tensors, metadata: ["k": "v \"quoted\"\n"])
        let decoded = try SafeTensors.decode(data)
        XCTAssertEqual(decoded.tensors.map(\.name), ["w", "b"])
        XCTAssertEqual(decoded.tensors[0].values.map(\.bitPattern), tensors[0].values.map(\.bitPattern))
        XCTAssertEqual(decoded.metadata, ["k": "v \"quoted\"\n"])

        func assertError(_ bytes: Data, _ expected: SafeTensorsError, line: UInt = #line) {
            XCTAssertThrowsError(try SafeTensors.decode(bytes), line: line) { XCTAssertEqual($0 as? SafeTensorsError, expected, line: line) }
        }
        assertError(Data([1, 2, 3]), .tooShort(bytes: 3))
        assertError(Data([0xFF, 0, 0, 0, 0, 0, 0, 0, 0x7B]), .headerTooLong(length: 255, available: 1))
        assertError(data + Data([0, 0, 0, 0]), .trailingData(bytes: 4))
        var nan = data
        nan.replaceSubrange(data.count - 4..<data.count, with: Float.nan.bitPattern.littleEndianBytes)
        assertError(nan, .nonFinite(name: "b", element: 0))

        // Well-formed headers with extreme numbers: refused, never a trap on their arithmetic.
        func file(_ header: String, data: Int = 4) -> Data {
            Data(UInt64(header.utf8.count).littleEndianBytes) + Data(header.utf8) + Data(repeating: 0, count: data)
        }
        assertError(file(#"{"t":{"dtype":"F32","shape":[1],"data_offsets":[1,-9223372036854775808]}}"#), .badOffsets(name: "t", expectedBytes: 4, available: 4))
        assertError(file(#"{"t":{"dtype":"F32","shape":[1],"data_offsets":[-9223372036854775808,4]}}"#), .badOffsets(name: "t", expectedBytes: 4, available: 4))
        assertError(file(#"{"t":{"dtype":"F32","shape":[4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4],"data_offsets":[0,4]}}"#),
                    .badOffsets(name: "t", expectedBytes: nil, available: 4))
        // 2^61 elements fit an Int; their 4 bytes each do not.
        assertError(file(#"{"t":{"dtype":"F32","shape":[2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2],"data_offsets":[0,4]}}"#),
                    .badOffsets(name: "t", expectedBytes: nil, available: 4))
    }

    func testFileReadingRefusesWhatItCannotReadWhole() throws {
        let temporary = try TemporaryDirectory("formats")
        defer { temporary.remove() }
        let folder = temporary.url
        let file = folder.appendingPathComponent("a.bin")
        try writeAtomically(Data([1, 2, 3]), to: file)
        XCTAssertEqual(try readFile(atPath: file.path, maximumBytes: 3), Data([1, 2, 3]))
        XCTAssertThrowsError(try readFile(atPath: file.path, maximumBytes: 2)) {
            XCTAssertEqual($0 as? FileReadError, .tooLarge(path: file.path, bytes: 3, limit: 2))
        }
        XCTAssertThrowsError(try readFile(atPath: folder.path, maximumBytes: 10)) {
            XCTAssertEqual($0 as? FileReadError, .notRegularFile(path: folder.path))
        }
        let fifo = folder.appendingPathComponent("fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertThrowsError(try readFile(atPath: fifo, maximumBytes: 10)) {
            XCTAssertEqual($0 as? FileReadError, .notRegularFile(path: fifo))
        }
        let missing = folder.appendingPathComponent("none").path
        XCTAssertThrowsError(try readFile(atPath: missing, maximumBytes: 10)) {
            XCTAssertEqual($0 as? FileReadError, .notFound(path: missing))
        }
    }

    func testAtomicWriteLeavesNothingBehindOnFailure() throws {
        let temporary = try TemporaryDirectory("formats")
        defer { temporary.remove() }
        let folder = temporary.url
        let target = folder.appendingPathComponent("absent/file")
        XCTAssertThrowsError(try writeAtomically(Data([1]), to: target)) {
            XCTAssertEqual($0 as? FileWriteError, FileWriteError(path: target.path, code: ENOENT))
        }
        // A directory in the way: the rename fails and the temporary file is removed.
        let blocked = folder.appendingPathComponent("blocked")
        try FileManager.default.createDirectory(at: blocked.appendingPathComponent("inside"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try writeAtomically(Data([1]), to: blocked)) { XCTAssertNotNil($0 as? FileWriteError) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["blocked"])
    }

    /// A symbolic link is written through (its target replaced, the link kept); a device, a FIFO
    /// or a folder at the path is refused and left as it was, never replaced by a file.
    func testLinksAreWrittenThroughAndDevicesRefused() throws {
        let temporary = try TemporaryDirectory("links")
        defer { temporary.remove() }
        let folder = temporary.url
        let target = folder.appendingPathComponent("target.bin"), link = folder.appendingPathComponent("link.bin")
        try Data([0]).write(to: target)
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "target.bin")
        try writeAtomically(Data([1, 2]), to: link)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link.path), "target.bin", "the link stays a link")
        XCTAssertEqual(try Data(contentsOf: target), Data([1, 2]))
        // A link to a file not there yet creates it; a link to a link is followed too.
        let dangling = folder.appendingPathComponent("dangling"), chain = folder.appendingPathComponent("chain")
        try FileManager.default.createSymbolicLink(atPath: dangling.path, withDestinationPath: folder.appendingPathComponent("new.bin").path)
        try FileManager.default.createSymbolicLink(atPath: chain.path, withDestinationPath: "dangling")
        try writeAtomically(Data([3]), to: chain)
        XCTAssertEqual(try Data(contentsOf: folder.appendingPathComponent("new.bin")), Data([3]))

        func assertRefused(_ url: URL, _ fragment: String, line: UInt = #line) {
            XCTAssertThrowsError(try writeAtomically(Data([9]), to: url), line: line) { error in
                XCTAssertTrue("\(error)".contains(fragment), "\(error)", line: line)
            }
        }
        let fifo = folder.appendingPathComponent("fifo")
        XCTAssertEqual(mkfifo(fifo.path, 0o644), 0)
        assertRefused(fifo, "is a device, FIFO or socket")
        assertRefused(folder, "it is a folder")
        // A device node (a copy of /dev/null's, made where we may) is left a device node.
        let device = folder.appendingPathComponent("null")
        if mknod(device.path, S_IFCHR | 0o666, (1 << 8) | 3) == 0 {  // major 1, minor 3
            assertRefused(device, "is a device, FIFO or socket")
            var status = stat()
            XCTAssertEqual(lstat(device.path, &status), 0)
            XCTAssertEqual(status.st_mode & S_IFMT, S_IFCHR, "still a device")
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains(".tmp-") }
        XCTAssertEqual(left, [], "no temporary left behind")
    }

    /// A writer killed mid-write leaves its temporary file; the next cleaning removes it, and
    /// leaves a live writer's and every other file alone.
    func testAbandonedTemporariesAreRemoved() throws {
        let temporary = try TemporaryDirectory("abandoned")
        defer { temporary.remove() }
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        let names = [".best.safetensors.tmp-\(dead.processIdentifier)-7", ".best.safetensors.tmp-\(getpid())-8", ".hidden", "a.tmp-1-2"]
        for name in names { try Data([1]).write(to: temporary.url(name)) }
        removeAbandonedTemporaries(in: temporary.url)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: temporary.path).sorted(), names.dropFirst().sorted())
    }
}
