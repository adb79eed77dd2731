import Datasets

extension IDXDataset {
    /// 3,000 training and 1,000 test images of the bundled MNIST, loaded once: enough to train
    /// a few quick epochs in a test.
    public static let small: IDXDataset = {
        // The bundled files are checked by their own tests; a failure here is the package's.
        guard let mnist = try? IDXDataset(directory: IDXDataset.bundledMNIST) else { preconditionFailure("the bundled MNIST does not load") }
        return IDXDataset(train: mnist.train.slice(0..<3000), test: mnist.test.slice(0..<1000))
    }()
}
