import Foundation

/// The `lenet5` executable built beside the tests.
public var lenet5Executable: URL {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("lenet5")
}

/// Runs `lenet5 arguments` (in `directory`, if given) to its end.
public func runLenet5(_ arguments: [String], in directory: URL? = nil) throws -> (status: Int32, output: String, error: String) {
    try runProgram(lenet5Executable, arguments, in: directory)
}

/// Runs `program` with `arguments` (in `directory`, if given) to its end.
public func runProgram(_ program: URL, _ arguments: [String], in directory: URL? = nil) throws -> (status: Int32, output: String, error: String) {
    let process = Process()
    process.executableURL = program
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    let output = Pipe(), error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    let out = output.fileHandleForReading.readDataToEndOfFile()
    let err = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
}

/// Starts `lenet5 arguments` and returns once its standard output contains `marker`, with what
/// it printed so far and the pipe to read the rest from.
public func startLenet5(_ arguments: [String], waitingFor marker: String) throws -> (Process, Pipe, String) {
    let process = Process()
    process.executableURL = lenet5Executable
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    var seen = ""
    while !seen.contains(marker) {
        let chunk = output.fileHandleForReading.availableData
        if chunk.isEmpty { break }
        seen += String(decoding: chunk, as: UTF8.self)
    }
    return (process, output, seen)
}
