import ArgumentParser
import Foundation
import Imaging
import Kernels
import LeNet
import Reports

/// Draws what training's distortions do to one digit, each on its own and all together.
struct AugmentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "augment",
        abstract: "Draw one training image under each of --augment's distortions, and under all of them (PNG).")

    @Option(help: ArgumentHelp("The distortions, as train's --augment.", valueName: "spec"))
    var augment = "standard"

    @Option(parsing: .unconditional, help: "Which test image to distort.")
    var image = 0

    @Option(parsing: .unconditional, help: "Random draws per distortion.")
    var samples = 6

    @Option(help: ArgumentHelp("Where to write the picture.", valueName: "path"))
    var output = "augmentation.png"

    @OptionGroup var data: DataOptions

    func validate() throws {
        guard (1...20).contains(samples) else { throw ValidationError("--samples must be between 1 and 20, got \(samples)") }
        do {
            _ = try Augmentation(parsing: augment)
        } catch {
            throw ValidationError("--augment \(error.message)")
        }
    }

    func run() throws {
        let full = try Augmentation(parsing: augment)
        let test = try data.loadTestSet()
        guard (0..<test.count).contains(image) else { throw CommandFailure("--image must be between 0 and \(test.count - 1), got \(image)") }
        let size = test.width * test.height
        let digit = GrayImage(width: test.width, height: test.height, pixels: Array(test.pixels[image * size..<(image + 1) * size]))
        // One row per distortion: the spec with everything else off.
        var rows: [(String, Augmentation, (Augmentation.Draw) -> String)] = [
            ("rotate", Augmentation(rotation: full.rotation), { String(format: "%+.1f deg", $0.angle * 180 / .pi) }),
            ("scale", Augmentation(scale: full.scale), { String(format: "x %.2f", $0.scale) }),
            ("shear", Augmentation(shear: full.shear), { String(format: "%+.2f", $0.shear) }),
            ("shift", Augmentation(shift: full.shift), { String(format: "%+.1f, %+.1f px", $0.shiftX, $0.shiftY) }),
            ("elastic", Augmentation(elasticAlpha: full.elasticAlpha, elasticSigma: full.elasticSigma), { String(format: "alpha %.0f", $0.elasticAlpha) }),
            ("stroke", Augmentation(thickness: full.thickness), { $0.stroke >= 0 ? String(format: "%.2f thicker", $0.stroke) : String(format: "%.2f thinner", -$0.stroke) }),
            ("blur", Augmentation(blur: full.blur), { String(format: "sigma %.2f", $0.blur) }),
        ]
        rows = rows.filter { $0.1 != Augmentation() }
        rows.append(("all", full, { _ in "" }))
        var tiles: [(GrayImage, [String])] = []
        var unused = SplitMix64(seed: 0)  // the undistorted picture draws nothing
        let original = Augmentation().picture(of: digit, Augmentation.Draw(), random: &unused)
        for (name, augmentation, describe) in rows {
            tiles.append((original, [name, "original"]))
            for sample in 0..<samples {
                var random = Augmentation.generator(seed: 1, epoch: 0, position: sample)
                let draw = augmentation.draw(&random)
                tiles.append((augmentation.picture(of: digit, draw, random: &random), [name, describe(draw)]))
            }
        }
        let columns = samples + 1, side = LeNet5.inputSide, scale = 3
        let (width, height) = Charts.imageGridSize(count: tiles.count, columns: columns, scale: scale, side: side)
        let canvas = Canvas(width: width, height: height)
        Charts.imageGrid(canvas, title: "test image \(image) as train --augment \(augment) distorts it", tiles: tiles, columns: columns, scale: scale, side: side)
        do {
            try canvas.writePNG(to: URL(fileURLWithPath: output))
        } catch {
            throw CommandFailure(error)
        }
        print("wrote \(output): \(rows.count) rows of \(samples) draws")
    }
}
