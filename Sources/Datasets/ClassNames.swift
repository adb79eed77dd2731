import Foundation

/// Names of the 10 classes of an IDX data set.
public enum ClassNames {
    public static let digits = (0..<10).map(String.init)
    public static let fashionMNIST = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]

    /// FNV-1a of Fashion-MNIST's 10,000 test labels, which tells it apart from MNIST.
    static let fashionMNISTTestLabels: UInt64 = 0x25BD_F812_3F06_FAC3

    /// Fashion-MNIST's names when `dataset` is Fashion-MNIST, else the digits.
    public static func recognized(_ dataset: IDXDataset) -> [String] {
        recognized(test: dataset.test)
    }

    /// Fashion-MNIST's names when `test` is its test set, else the digits.
    public static func recognized(test: LabeledImages) -> [String] {
        fnv1a(test.labels) == fashionMNISTTestLabels ? fashionMNIST : digits
    }

    /// Reads one name per line (blank lines ignored); there must be exactly 10.
    public static func read(contentsOf path: String) throws(ClassNamesError) -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ClassNamesError(path: path, reason: "cannot read it as UTF-8 text") }
        let names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard names.count == LabeledImages.classCount else {
            throw ClassNamesError(path: path, reason: "expected \(LabeledImages.classCount) names, one per line; found \(names.count)")
        }
        return names
    }

    /// `names` as one metadata string (a JSON array), and back.
    public static func encode(_ names: [String]) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: names)) ?? Data("[]".utf8), as: UTF8.self)
    }

    public static func decode(_ text: String?) -> [String]? {
        guard let text, let names = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String],
            names.count == LabeledImages.classCount
        else { return nil }
        return names
    }
}

public struct ClassNamesError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "class names file \(path): \(reason)" }
}
