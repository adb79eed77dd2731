// Classifies the pictures named on the command line with swift-lenet's pretrained model.
import Foundation
import LeNet

let classifier = try Classifier.pretrained()
for path in CommandLine.arguments.dropFirst() {
    let answer = try classifier.classify(imageData: Data(contentsOf: URL(fileURLWithPath: path)), name: path)
    let best = answer.ranked[0]
    print("\(path): \(classifier.classNames[best]) (\(String(format: "%.1f", 100 * answer.probabilities[best]))%)")
}
