import Foundation
import XCTest

/// The handbook's links into the code stay true: every relative link in README.md and docs/
/// names a file that exists, and a link to a line (`File.swift#L42`) lands on the line that
/// declares what the link's text names (`[`Reference.convolutionForward`](...#L30)` on a line
/// holding `convolutionForward`), so moving code without moving its links fails here;
/// `scripts/doc_anchors.py` moves them.
final class DocumentationLinkTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private struct Link {
        let document: String
        let text: String
        let target: String
    }

    private func links() throws -> [Link] {
        let docs = try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent("docs").path)
            .filter { $0.hasSuffix(".md") }.map { "docs/" + $0 }
        let pattern = try NSRegularExpression(pattern: #"\[([^\]]*)\]\(([^)\s]+)\)"#)
        return try (["README.md"] + docs.sorted()).flatMap { document -> [Link] in
            let text = try String(contentsOf: Self.root.appendingPathComponent(document), encoding: .utf8)
            return pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
                guard let label = Range(match.range(at: 1), in: text), let target = Range(match.range(at: 2), in: text) else { return nil }
                return Link(document: document, text: String(text[label]), target: String(text[target]))
            }
        }
    }

    func testEveryLinkedFileExists() throws {
        let local = try links().filter { !$0.target.contains("://") && !$0.target.hasPrefix("#") && !$0.target.hasPrefix("mailto:") }
        XCTAssertGreaterThan(local.count, 50)
        for link in local {
            let path = String(link.target.split(separator: "#", maxSplits: 1)[0])
            let file = Self.root.appendingPathComponent(link.document).deletingLastPathComponent().appendingPathComponent(path)
            XCTAssertTrue(FileManager.default.fileExists(atPath: file.standardizedFileURL.path), "\(link.document): \(link.target)")
        }
    }

    func testEveryLineAnchorLandsOnWhatItNames() throws {
        let anchored = try links().filter { $0.target.contains(".swift#L") }
        XCTAssertGreaterThanOrEqual(anchored.count, 40, "how-it-works.md links its functions by line")
        for link in anchored {
            let parts = link.target.split(separator: "#L")
            let file = Self.root.appendingPathComponent(link.document).deletingLastPathComponent().appendingPathComponent(String(parts[0]))
            let lines = try String(contentsOf: file, encoding: .utf8).components(separatedBy: "\n")
            let number = try XCTUnwrap(Int(parts[1]), link.target)
            XCTAssertTrue((1...lines.count).contains(number), "\(link.document): \(link.target) is past the end")
            guard (1...lines.count).contains(number) else { continue }
            // `Normalization(statisticsOf:)` names an initialiser by its label; `A.b` names b.
            var name = link.text.trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            if let open = name.firstIndex(of: "("), let colon = name.firstIndex(of: ":") {
                name = String(name[name.index(after: open)..<colon])
            }
            name = String(name.split(separator: ".").last ?? "")
            XCTAssertTrue(lines[number - 1].contains(name), "\(link.document): \(link.target) should land on \(name), is '\(lines[number - 1])' (python3 scripts/doc_anchors.py moves it)")
        }
    }
}
