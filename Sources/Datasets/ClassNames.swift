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

    /// The longest name accepted, in characters: room for any data set's labels ("T-shirt/top"),
    /// and a bound on the charts that print them.
    public static let maximumLength = 40

    /// Why `names` cannot name the classes, or nil: exactly 10 names of 1 to `maximumLength`
    /// characters, none of them a control character (which a report's SVG could not hold).
    public static func problem(_ names: [String]) -> String? {
        guard names.count == LabeledImages.classCount else {
            return "expected \(LabeledImages.classCount) names, one per line; found \(names.count)"
        }
        for (index, name) in names.enumerated() {
            guard (1...maximumLength).contains(name.count) else {
                return "name \(index + 1) has \(name.count) characters; at most \(maximumLength) are allowed"
            }
            guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                return "name \(index + 1) holds a control character"
            }
        }
        return nil
    }

    /// Reads one name per line (blank lines ignored); there must be exactly 10, each as `problem`
    /// allows.
    public static func read(contentsOf path: String) throws(ClassNamesError) -> [String] {
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
        guard let size, size <= 64 << 10 else {
            throw ClassNamesError(path: path, reason: size.map { "it is \($0) bytes; ten names take at most 64 KB" } ?? "cannot read it")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ClassNamesError(path: path, reason: "cannot read it as UTF-8 text") }
        let names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if let problem = problem(names) { throw ClassNamesError(path: path, reason: problem) }
        return names
    }

    /// `names` as one metadata string (a JSON array), and back.
    public static func encode(_ names: [String]) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: names)) ?? Data("[]".utf8), as: UTF8.self)
    }

    /// The names `encode` wrote, or nil when they are not names `problem` allows.
    public static func decode(_ text: String?) -> [String]? {
        guard let text, let names = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String],
            problem(names) == nil
        else { return nil }
        return names
    }
}

/// A class names file that cannot be used, and why.
public struct ClassNamesError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "class names file \(path): \(reason)" }
}
