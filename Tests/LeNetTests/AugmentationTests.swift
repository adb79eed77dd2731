import Datasets
import Foundation
import Kernels
import TestSupport
import Training
import XCTest
@testable import LeNet

final class AugmentationTests: XCTestCase {
    private let normalization = Normalization(mean: 0.1, standardDeviation: 0.3)
    private let plane = LeNet5.inputSide * LeNet5.inputSide

    /// `augmentation` applied with `draw` to `pixels`, as the network's input plane.
    private func distorted(_ pixels: [UInt8], _ augmentation: Augmentation, _ draw: Augmentation.Draw) -> [Float] {
        var out = [Float](repeating: .nan, count: plane)
        var random = SplitMix64(seed: 3)
        pixels.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { augmentation.apply(draw, to: p.baseAddress!, into: $0.baseAddress!, normalization: normalization, random: &random) }
        }
        return out
    }

    private func undistorted(_ pixels: [UInt8]) -> [Float] {
        var out = [Float](repeating: .nan, count: plane)
        pixels.withUnsafeBufferPointer { p in out.withUnsafeMutableBufferPointer { normalization.fill($0.baseAddress!, fromPixels: p.baseAddress!) } }
        return out
    }

    func testIdentityParametersGiveBackTheIdenticalImage() throws {
        let test = IDXDataset.small.test
        for index in [0, 1, 7] {
            let pixels = Array(test.pixels[index * 784..<(index + 1) * 784])
            // Ranges of zero, drawn from: every draw is the identity.
            var random = SplitMix64(seed: 11)
            var out = [Float](repeating: .nan, count: plane)
            pixels.withUnsafeBufferPointer { p in
                out.withUnsafeMutableBufferPointer { Augmentation().apply(to: p.baseAddress!, into: $0.baseAddress!, normalization: normalization, random: &random) }
            }
            XCTAssertEqual(out.map(\.bitPattern), undistorted(pixels).map(\.bitPattern), "image \(index)")
            XCTAssertEqual(distorted(pixels, .standard, Augmentation.Draw()).map(\.bitPattern), undistorted(pixels).map(\.bitPattern))
        }
    }

    /// One lit pixel, turned a quarter clockwise (as seen) about the plane's centre (15.5, 15.5):
    /// image (20, 10) is plane (22, 12), 6.5 right of the centre and 3.5 above it; a quarter turn
    /// clockwise puts it 3.5 right and 6.5 below, at plane (19, 22).
    func testAQuarterTurnMovesAKnownPixelWhereItShould() {
        var pixels = [UInt8](repeating: 0, count: 784)
        pixels[10 * 28 + 20] = 255
        var draw = Augmentation.Draw()
        draw.angle = .pi / 2
        let out = distorted(pixels, Augmentation(), draw)
        let background = normalization.value(0)
        let lit = out.indices.filter { out[$0] > background + 1e-3 }
        XCTAssertEqual(lit.map { [$0 % 32, $0 / 32] }, [[19, 22]])
        XCTAssertEqual(out[22 * 32 + 19], normalization.value(255), accuracy: 1e-3)

        // Shifted by (2, -1) as well: one more step along each axis.
        draw.shiftX = 2
        draw.shiftY = -1
        let moved = distorted(pixels, Augmentation(), draw)
        XCTAssertEqual(moved.indices.filter { moved[$0] > background + 1e-3 }.map { [$0 % 32, $0 / 32] }, [[21, 21]])
    }

    /// A stroke thickened covers more ink, thinned less, and blur spreads it without adding any.
    func testStrokeAndBlurChangeTheInkAsTheySay() {
        let pixels = Array(IDXDataset.small.test.pixels[0..<784])
        func ink(_ plane: [Float]) -> Float { plane.reduce(0) { $0 + ($1 - normalization.value(0)) } }
        var draw = Augmentation.Draw()
        let plain = ink(undistorted(pixels))
        draw.stroke = 0.8
        XCTAssertGreaterThan(ink(distorted(pixels, Augmentation(), draw)), plain * 1.3)
        draw.stroke = -0.8
        XCTAssertLessThan(ink(distorted(pixels, Augmentation(), draw)), plain * 0.7)
        draw.stroke = 0
        draw.blur = 1
        XCTAssertEqual(ink(distorted(pixels, Augmentation(), draw)), plain, accuracy: plain * 0.01)
    }

    /// The distortions depend on (seed, epoch, position) only: one thread or three give the same
    /// gradient up to the summation order, while another epoch's distortions give another.
    func testTheSameSeedGivesTheSameBatchWhateverTheThreadCount() {
        let train = IDXDataset.small.train
        let model = Model.random(seed: 2)
        let indices = Array(0..<96)[...]
        func gradient(threads: Int, epoch: Int) -> [Float] {
            var gradients = [Float](repeating: .nan, count: ParameterLayout.count)
            _ = Runner(threads: threads).gradient(
                of: model, on: train, indices: indices, distortion: Distortion(augmentation: .standard, seed: 5, epoch: epoch), into: &gradients)
            return gradients
        }
        let one = gradient(threads: 1, epoch: 0), three = gradient(threads: 3, epoch: 0), later = gradient(threads: 1, epoch: 1)
        let scale = one.map(abs).max() ?? 1
        XCTAssertLessThan(zip(one, three).map { abs($0 - $1) }.max() ?? 1, 1e-5 * scale)
        XCTAssertGreaterThan(zip(one, later).map { abs($0 - $1) }.max() ?? 0, 1e-2 * scale)
    }

    /// A run with augmentation stopped mid-epoch and resumed from its checkpoint ends where the
    /// uninterrupted run does, bit for bit, with each optimiser (Adam's second moments included),
    /// and with a schedule that changes every step and label smoothing.
    func testResumeWithAugmentationAndEachOptimizerIsBitExact() throws {
        for (optimizer, perStep) in Optimizer.allCases.map({ ($0, false) }) + [(.sgd, true)] {
            var configuration = TrainingConfiguration()
            (configuration.epochs, configuration.batchSize, configuration.validationSize, configuration.threads) = (2, 32, 500, 2)
            configuration.augmentation = .standard
            configuration.optimizer = optimizer
            if optimizer.isAdam { configuration.schedule = .cosine(base: 0.001) }
            if perStep { (configuration.schedule, configuration.labelSmoothing) = (.oneCycle(peak: 0.05), 0.1) }
            let straight = try Trainer(configuration: configuration, dataset: IDXDataset.small)
            _ = try straight.trainEpoch()
            _ = try straight.trainEpoch()

            let first = try Trainer(configuration: configuration, dataset: IDXDataset.small)
            XCTAssertNil(try first.trainEpoch(shouldStop: { first.batchInEpoch == 30 }))
            let batches = first.batchesPerEpoch
            XCTAssertEqual(first.learningRate, configuration.schedule.rate(step: 30, stepsPerEpoch: batches, epochs: 2))
            let saved = try Checkpoint(decoding: first.resumeCheckpoint().encoded(), path: "resume")
            XCTAssertEqual(saved.secondMoment != nil, optimizer.isAdam, "\(optimizer)")
            let resumed = try Trainer(resuming: saved, dataset: IDXDataset.small)
            XCTAssertEqual(resumed.configuration, configuration)
            _ = try resumed.trainEpoch()
            _ = try resumed.trainEpoch()
            XCTAssertEqual(resumed.model.parameters.map(\.bitPattern), straight.model.parameters.map(\.bitPattern), "\(optimizer), \(configuration.schedule)")
            XCTAssertNotEqual(straight.model.parameters, try Trainer(configuration: configuration, dataset: IDXDataset.small).model.parameters)
        }
    }

    func testTextFormRoundTripsAndRefusesWhatItCannotRead() throws {
        XCTAssertEqual(try Augmentation(parsing: Augmentation.standard.token), .standard)
        XCTAssertEqual(try Augmentation(parsing: "standard"), .standard)
        var changed = Augmentation.standard
        changed.rotation = 20
        XCTAssertEqual(try Augmentation(parsing: "standard,rotate=20"), changed)
        XCTAssertEqual(try Augmentation(parsing: "blur=1"), Augmentation(blur: 1))
        XCTAssertEqual(try Augmentation(parsing: "light"), Augmentation(rotation: 10, scale: 0.1, shift: 2))
        // The shortest text for each: a named set's name, else every parameter.
        XCTAssertEqual([Augmentation.standard.spec, Augmentation.light.spec], ["standard", "light"])
        XCTAssertEqual(changed.spec, changed.token)
        XCTAssertEqual(try Augmentation(parsing: changed.spec), changed)
        XCTAssertEqual(try Augmentation(parsing: "light,shear=0.1"), Augmentation(rotation: 10, scale: 0.1, shear: 0.1, shift: 2))
        XCTAssertThrowsError(try Augmentation(parsing: "rotate=5,light")) { XCTAssertTrue("\($0)".contains("'light' is not one of rotate=")) }
        XCTAssertThrowsError(try Augmentation(parsing: "spin=3")) { XCTAssertTrue("\($0)".contains("'spin=3' is not one of rotate=")) }
        XCTAssertThrowsError(try Augmentation(parsing: "rotate=400")) { XCTAssertTrue("\($0)".contains("rotate must be a number from 0.0 to 180.0")) }
        XCTAssertThrowsError(try Augmentation(parsing: "blur=nan")) { XCTAssertTrue("\($0)".contains("got 'nan'")) }
        var c = TrainingConfiguration.best
        XCTAssertEqual(try TrainingConfiguration(metadata: c.metadata), c)
        c.augmentation = nil
        XCTAssertEqual(try TrainingConfiguration(metadata: c.metadata), c)
    }
}
