/// Comma-separated values as RFC 4180 writes them: fields holding a comma, quote or line break
/// are quoted, quotes doubled, lines ended by "\n".
public enum CSV {
    public static func encode(header: [String], rows: [[String]]) -> String {
        ([header] + rows).map { $0.map(field).joined(separator: ",") + "\n" }.joined()
    }

    /// The records of `text`, header included; quoted fields may hold commas, quotes and line breaks.
    public static func decode(_ text: String) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var quoted = false
        var previousWasQuote = false
        for c in text {
            if quoted {
                if c == "\"" { quoted = false; previousWasQuote = true } else { field.append(c) }
                continue
            }
            switch c {
            case "\"":
                // A quote right after a closing quote is an escaped quote inside the field.
                if previousWasQuote { field.append("\"") }
                quoted = true
            case ",":
                record.append(field)
                field = ""
            case "\n", "\r\n":
                record.append(field)
                records.append(record)
                (record, field) = ([], "")
            default:
                field.append(c)
            }
            previousWasQuote = false
        }
        if !field.isEmpty || !record.isEmpty {
            record.append(field)
            records.append(record)
        }
        return records
    }

    private static func field(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
