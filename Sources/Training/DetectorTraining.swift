import Datasets
import Foundation
import Imaging
import LeNet

/// Trains `DigitDetector`'s network: LeNet-5, by the same `Trainer` as the digit models, on a
/// data set of MNIST's images labelled 1 ("digit") and as many `Scribbles` labelled 0 ("not a
/// digit"), each prepared as a drawing on the page is.
public enum DetectorTraining {
    /// MNIST's train and test images relabelled 1, each set joined by as many scribbles
    /// labelled 0 (those of the test set from another seed), in an order that alternates.
    public static func dataset(digits: IDXDataset, seed: UInt64) -> IDXDataset {
        IDXDataset(
            train: mixed(digits.train, scribbles: scribbles(digits.train.count, seed: seed)),
            test: mixed(digits.test, scribbles: scribbles(digits.test.count, seed: seed &+ 1_000_003)))
    }

    /// `count` scribbles, prepared as `DigitPreprocessing` prepares a drawing, made on every core.
    public static func scribbles(_ count: Int, seed: UInt64) -> [GrayImage] {
        let side = LeNet5.imageSide
        let blank = GrayImage(width: side, height: side, pixels: [UInt8](repeating: 0, count: side * side))
        // Each thread writes only its own indices.
        nonisolated(unsafe) let made = UnsafeMutableBufferPointer<GrayImage>.allocate(capacity: count)
        made.initialize(repeating: blank)
        defer { made.deallocate() }
        let threads = ProcessInfo.processInfo.activeProcessorCount
        DispatchQueue.concurrentPerform(iterations: threads) { part in
            for index in stride(from: part, to: count, by: threads) {
                // A scribble always has ink; were one blank, it stays the blank image.
                if let image = try? DigitPreprocessing.prepare(Scribbles.drawing(index, seed: seed)) { made[index] = image }
            }
        }
        return Array(made)
    }

    static func mixed(_ digits: LabeledImages, scribbles: [GrayImage]) -> LabeledImages {
        var pixels: [UInt8] = []
        var labels: [UInt8] = []
        let size = digits.height * digits.width
        pixels.reserveCapacity(2 * digits.pixels.count)
        for k in 0..<digits.count {
            pixels += digits.pixels[k * size..<(k + 1) * size]
            labels.append(1)
            if k < scribbles.count {
                pixels += scribbles[k].pixels
                labels.append(0)
            }
        }
        return LabeledImages(count: labels.count, height: digits.height, width: digits.width, pixels: pixels, labels: labels)
    }

    /// The configuration it trains with: the default run's batch, momentum and weight decay for
    /// `epochs`, with per-epoch cosine rates from 0.03 and one-hot targets (the bundled detector's
    /// recipe: label smoothing would cap the probability its threshold is set on), and with the
    /// standard distortions, so that a digit drawn askew is still a digit.
    public static func configuration(epochs: Int, seed: UInt64, threads: Int) -> TrainingConfiguration {
        var configuration = TrainingConfiguration()
        configuration.epochs = epochs
        (configuration.schedule, configuration.labelSmoothing) = (.cosine(base: 0.03), 0)
        configuration.augmentation = .standard
        configuration.seed = seed
        configuration.threads = threads
        return configuration
    }
}
