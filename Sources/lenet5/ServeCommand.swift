import ArgumentParser
import Datasets
import Foundation
import Hummingbird
import LeNetServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a page to draw digits, watch every layer, and train live (http://127.0.0.1:8080).",
        discussion: """
            The page, its script and style are served by this binary; nothing is fetched from the \
            internet. Models: the --checkpoint given, the best.safetensors of every run under --runs, \
            and a bundled MNIST model. Runs started from the page are written under --runs exactly \
            as 'lenet5 train' writes them.
            """)

    @Option(help: ArgumentHelp("A checkpoint to offer first.", valueName: "path"))
    var checkpoint: String?

    @Option(help: ArgumentHelp("The checkpoint of the network that tells digits from other drawings (made by 'lenet5 detector'; default: the bundled one).", valueName: "path"))
    var detector: String?

    @Option(help: ArgumentHelp("Folder of training runs: listed as models, and where the page's runs go.", valueName: "dir"))
    var runs = "runs"

    @Option(help: "Address to listen on; 127.0.0.1 keeps it to this machine.")
    var host = "127.0.0.1"

    @Option(parsing: .unconditional, help: "Port to listen on.")
    var port = 8080

    @Option(name: .customLong("allow-host"), help: ArgumentHelp(
        "A host name requests may name besides localhost, 127.0.0.1, [::1] and --host (repeatable): the name this machine is reached by. Any other is refused, so a web site cannot reach the server through a name of its own.",
        valueName: "name"))
    var allowedHosts: [String] = []

    @OptionGroup var data: DataOptions

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be between 1 and 65535, got \(port)") }
        if let checkpoint { _ = try loadCheckpoint(checkpoint) }
        if let detector { _ = try loadCheckpoint(detector) }
    }

    func run() async throws {
        var settings = ServerSettings(data: data.directory.map { URL(fileURLWithPath: $0) } ?? IDXDataset.bundledMNIST)
        settings.host = host
        settings.port = port
        settings.allowedHosts = allowedHosts
        settings.runs = URL(fileURLWithPath: runs)
        settings.checkpoint = checkpoint.map { URL(fileURLWithPath: $0) }
        settings.detector = detector.map { URL(fileURLWithPath: $0) }
        settings.threads = data.threads
        let shownHost = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host
        let address = "http://\(shownHost):\(port)/"
        let application = try Result {
            try buildApplication(settings) {
                print("swift-lenet is serving on \(address)  (Ctrl-C to stop)")
                fflush(nil)
            }
        }.mapError { CommandFailure($0) }.get()
        do {
            try await application.runService()
        } catch {
            throw CommandFailure("cannot serve on \(host):\(port): \(error)")
        }
    }
}
