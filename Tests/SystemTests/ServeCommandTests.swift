import Foundation
import TestSupport
import XCTest

/// `lenet5 serve` run for real, on loopback, with curl as its pages: it stops when asked with a
/// page attached to a paused run, and clients that leave during a pause give their connections
/// back.
final class ServeCommandTests: XCTestCase {
    /// A server on a free port of its own, with its runs in `folder`.
    private struct Server {
        let process: Process
        let port: Int

        var url: String { "http://127.0.0.1:\(port)" }

        /// The process's open descriptors.
        var descriptors: Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.processIdentifier)/fd").count) ?? 0 }
    }

    private func startServer(runs: URL) throws -> Server {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") else { throw XCTSkip("needs curl") }
        for port in (20_000..<20_050).shuffled() {
            let process = Process()
            process.executableURL = lenet5Executable
            process.arguments = ["serve", "--port", "\(port)", "--runs", runs.path, "--threads", "1"]
            let output = Pipe()
            (process.standardOutput, process.standardError) = (output, output)
            try process.run()
            var seen = ""
            while !seen.contains("is serving on") && !seen.contains("Error") {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                seen += String(decoding: chunk, as: UTF8.self)
            }
            if seen.contains("is serving on") { return Server(process: process, port: port) }
            process.waitUntilExit()  // the port was taken: try another
        }
        throw XCTSkip("no free port in 20000-20049")
    }

    /// Runs curl to its end and returns what it printed.
    @discardableResult
    private func curl(_ arguments: [String]) throws -> String {
        try runProgram(URL(fileURLWithPath: "/usr/bin/curl"), ["-s"] + arguments).output
    }

    /// Starts a 20-epoch run and pauses it, returning once the server says it is paused.
    private func startPausedRun(_ server: Server) throws {
        let started = try curl(["-X", "POST", "-H", "Content-Type: application/json", "-d", #"{"epochs": 20, "trainingImages": 3000}"#, server.url + "/api/train"])
        XCTAssertTrue(started.contains("\"run\""), started)
        try curl(["-X", "POST", server.url + "/api/train/pause"])
        for _ in 0..<400 {
            if try curl([server.url + "/api/train"]).contains(#""state":"paused""#) { break }
            Thread.sleep(forTimeInterval: 0.025)
        }
    }

    /// SIGTERM with a page's event stream attached to a paused run: the run stops, resumable, the
    /// stream ends, and the server exits (it used to wait for the stream, and so for ever).
    func testSIGTERMWithAPageAttachedToAPausedRunEndsEverything() throws {
        let folder = try TemporaryDirectory("serve-sigterm")
        defer { folder.remove() }
        let server = try startServer(runs: folder.url)
        try startPausedRun(server)
        let page = Process()
        page.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        page.arguments = ["-s", "-N", server.url + "/api/train/events"]
        let stream = Pipe()
        page.standardOutput = stream
        try page.run()
        var seen = ""
        while !seen.contains(#""type":"paused""#) {
            let chunk = stream.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        let started = ContinuousClock.now
        server.process.terminate()
        // A watchdog, not a measurement: a server that never stops fails here instead of hanging.
        let watchdog = DispatchWorkItem { if server.process.isRunning { kill(server.process.processIdentifier, SIGKILL) } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
        server.process.waitUntilExit()
        watchdog.cancel()
        print("lenet5 serve exited \(ContinuousClock.now - started) after SIGTERM, a page attached to a paused run")
        XCTAssertEqual(server.process.terminationReason, .exit, "it exited on its own")
        seen += String(decoding: stream.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        page.waitUntilExit()
        XCTAssertTrue(seen.hasSuffix("event: end\ndata: {}\n\n"), "the page's stream ended: \(seen.suffix(200))")
        let run = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: folder.path).first)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.url("\(run)/resume.safetensors").path), "the run can be resumed")
    }

    /// 300 event streams that connect and leave while a run is paused: their connections are
    /// closed (the heartbeat finds them gone), not left in CLOSE_WAIT until the descriptors run
    /// out, and the server still answers.
    func testClientsThatLeaveDuringAPauseGiveTheirConnectionsBack() throws {
        let folder = try TemporaryDirectory("serve-leave")
        defer { folder.remove() }
        let server = try startServer(runs: folder.url)
        defer {
            server.process.terminate()
            server.process.waitUntilExit()
        }
        try startPausedRun(server)
        let before = server.descriptors
        let clients = (0..<300).map { _ in
            let client = Process()
            client.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            client.arguments = ["-s", "-N", "--max-time", "1", server.url + "/api/train/events"]
            client.standardOutput = FileHandle.nullDevice
            return client
        }
        for client in clients { try client.run() }
        for client in clients { client.waitUntilExit() }
        var after = server.descriptors
        for _ in 0..<100 {
            if after <= before + 2 { break }
            Thread.sleep(forTimeInterval: 0.1)
            after = server.descriptors
        }
        XCTAssertLessThanOrEqual(after, before + 2, "descriptors before \(before), after the 300 left \(after)")
        XCTAssertTrue(try curl(["-X", "POST", server.url + "/api/train/resume"]).contains(#""state""#), "the server still answers")
    }
}
