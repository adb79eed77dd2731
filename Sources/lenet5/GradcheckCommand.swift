import ArgumentParser
import LeNet

struct GradcheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradcheck",
        abstract: "Check every hand-written gradient against central differences, and print how close each is.",
        discussion: """
            Each layer on random inputs with the loss sum(output * R), element by element; then the \
            whole network on 4 random images, tensor by tensor. The exit status is non-zero if any \
            check fails. See docs/how-it-works.md for how a numerical gradient check works in float32.
            """)

    func run() throws {
        let layers = GradientCheck.layers()
        let model = GradientCheck.model()
        print("Numerical gradient checks: central differences in float32 (docs/how-it-works.md)")
        print()
        print("Each layer, element by element. score = |analytic - numerical| / (1e-3 + 1e-2 |numerical|)")
        print("(1e-4 absolute for the softmax); the worst element's score must be at most 1.")
        print()
        print("  " + "check".padding(toLength: 48, withPad: " ", startingAt: 0) + "gradient  worst score  analytic     numerical")
        for r in layers {
            print("  " + r.check.padding(toLength: 48, withPad: " ", startingAt: 0) + r.tensor.padding(toLength: 8, withPad: " ", startingAt: 0)
                + rightAligned(String(format: "%.4f", r.worst), 12) + rightAligned(String(format: "%.6f", r.analytic ?? .nan), 12)
                + rightAligned(String(format: "%.6f", r.numerical ?? .nan), 12) + (r.passed ? "   ok" : "   FAILED"))
        }
        print()
        print("The whole network on 4 random images: ||analytic - numerical|| / ||numerical|| of each tensor's")
        print(String(format: "sampled gradient (points where a difference straddles a kink are skipped), at most %.2f:", GradientCheck.modelTolerance))
        print()
        for r in model {
            print("  " + r.tensor.padding(toLength: 14, withPad: " ", startingAt: 0) + rightAligned(String(format: "%.5f", r.worst), 10)
                + (r.passed ? "   ok" : "   FAILED"))
        }
        let failed = (layers + model).filter { !$0.passed }.count
        print()
        print("\(layers.count + model.count - failed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode(1) }
    }
}
