import Foundation

/// Gray-scale images with one class label each, kept as bytes (0 = background).
public struct LabeledImages: Sendable {
    public let count: Int
    public let height: Int
    public let width: Int
    /// (count, height, width), row-major.
    public let pixels: [UInt8]
    public let labels: [UInt8]

    /// The classes every label must fall in: 0..<classCount.
    public static let classCount = 10

    /// Pairs an image array (rank 3) with a label array (rank 1), checking that they agree.
    /// - Parameters: imagesPath, labelsPath: the files they came from, named in errors.
    public init(images: IDXArray, labels: IDXArray, imagesPath: String = "the image file", labelsPath: String = "the label file") throws(IDXError) {
        guard images.dimensions[0] == labels.dimensions[0] else {
            throw .countMismatch(imagesPath: imagesPath, images: images.dimensions[0], labelsPath: labelsPath, labels: labels.dimensions[0])
        }
        if let bad = labels.bytes.firstIndex(where: { Int($0) >= Self.classCount }) {
            throw .labelOutOfRange(path: labelsPath, index: bad, label: labels.bytes[bad], classes: Self.classCount)
        }
        self.init(
            count: images.dimensions[0], height: images.dimensions[1], width: images.dimensions[2],
            pixels: images.bytes, labels: labels.bytes)
    }

    /// - Precondition: `pixels` holds count x height x width bytes and `labels` count labels below `classCount`.
    public init(count: Int, height: Int, width: Int, pixels: [UInt8], labels: [UInt8]) {
        precondition(pixels.count == count * height * width && labels.count == count)
        precondition(labels.allSatisfy { Int($0) < Self.classCount })
        self.count = count
        self.height = height
        self.width = width
        self.pixels = pixels
        self.labels = labels
    }

    /// The images in `range`, in order.
    public func slice(_ range: Range<Int>) -> LabeledImages {
        let size = height * width
        return LabeledImages(
            count: range.count, height: height, width: width,
            pixels: Array(pixels[range.lowerBound * size..<range.upperBound * size]),
            labels: Array(labels[range]))
    }
}

/// A training set and a test set read from one directory of standard IDX files.
public struct IDXDataset: Sendable {
    public let train: LabeledImages
    public let test: LabeledImages

    /// The standard file names (MNIST, Fashion-MNIST), each also accepted gzipped or with a dot
    /// before `idx` as some mirrors spell it.
    static let fileNames = (
        trainImages: "train-images-idx3-ubyte", trainLabels: "train-labels-idx1-ubyte",
        testImages: "t10k-images-idx3-ubyte", testLabels: "t10k-labels-idx1-ubyte"
    )

    public init(train: LabeledImages, test: LabeledImages) {
        self.train = train
        self.test = test
    }

    /// Reads the four files of `directory`.
    /// - Throws: `IDXError` for a missing or malformed file, or train and test image sizes that differ.
    public init(directory: URL) throws(IDXError) {
        let names = Self.fileNames
        train = try Self.load(names.trainImages, names.trainLabels, in: directory)
        test = try Self.load(names.testImages, names.testLabels, in: directory)
        guard train.height == test.height, train.width == test.width else {
            throw .badDimensions(
                path: directory.path, dimensions: [test.height, test.width],
                reason: "test images must have the training images' size \(train.height)x\(train.width)")
        }
    }

    /// Reads only the test images and labels of `directory`, for what never trains.
    public static func testSet(in directory: URL) throws(IDXError) -> LabeledImages {
        try load(fileNames.testImages, fileNames.testLabels, in: directory)
    }

    /// The path of file `name` in `directory`, in any of its accepted spellings.
    private static func find(_ name: String, in directory: URL) throws(IDXError) -> String {
        let dotted = name.replacingOccurrences(of: "-idx", with: ".idx")
        let candidates = [name, name + ".gz", dotted, dotted + ".gz"]
        for candidate in candidates {
            let path = directory.appendingPathComponent(candidate).path
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        throw .missingFile(directory: directory.path, candidates: candidates)
    }

    private static func load(_ images: String, _ labels: String, in directory: URL) throws(IDXError) -> LabeledImages {
        let imagePath = try find(images, in: directory), labelPath = try find(labels, in: directory)
        let imageArray = try IDXArray.read(contentsOf: imagePath, expectedRank: 3)
        let labelArray = try IDXArray.read(contentsOf: labelPath, expectedRank: 1)
        return try LabeledImages(images: imageArray, labels: labelArray, imagesPath: imagePath, labelsPath: labelPath)
    }

    /// The directory of the four official MNIST files bundled with the package.
    public static var bundledMNIST: URL {
        (Bundle.module.resourceURL ?? Bundle.module.bundleURL).appendingPathComponent("mnist")
    }
}
