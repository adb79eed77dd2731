import Foundation
import LeNet
import Reports
import Training

/// A one-line progress bar redrawn in place on a terminal; silent when output is not one.
struct ProgressBar {
    let enabled: Bool
    private var lastDraw = 0.0
    private var drawn = false

    init(enabled: Bool) {
        self.enabled = enabled
    }

    /// Redraws at most ten times a second, and always on the last batch.
    mutating func update(_ p: BatchProgress) {
        guard enabled, p.elapsed - lastDraw >= 0.1 || p.batch == p.batches else { return }
        lastDraw = p.batch == p.batches ? 0 : p.elapsed
        let width = 30
        let filled = width * p.batch / p.batches
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let remaining = p.elapsed / Double(p.batch) * Double(p.batches - p.batch)
        let status = p.batch == p.batches ? "evaluating..." : String(format: "ETA %.1fs", remaining)
        let line = String(
            format: "epoch %d [%@] %@/%@  loss %.4f  %@ img/s  %@", p.epoch, bar, grouped(p.batch),
            grouped(p.batches), p.runningLoss, grouped(Int(p.imagesPerSecond)), status)
        print("\r\u{1B}[2K" + line, terminator: "")
        fflush(nil)
        drawn = true
    }

    /// Erases the bar so a normal line can be printed.
    mutating func clear() {
        guard drawn else { return }
        print("\r\u{1B}[2K", terminator: "")
        fflush(nil)
        drawn = false
    }
}
