import Foundation
import TestSupport
import XCTest
@testable import LeNetServer

/// The pixels body read byte by byte (`APIRequest.plainPixelsBody`) is what JSONDecoder reads,
/// on every body it accepts; what it does not accept goes to JSONDecoder.
final class APIRequestTests: XCTestCase {
    private func decoded(_ text: String) -> APIRequest.PixelsBody? {
        try? JSONDecoder().decode(APIRequest.PixelsBody.self, from: Data(text.utf8))
    }

    func testThePlainFormsAreReadAsJSONDecoderReadsThem() {
        let plain = [
            #"{"pixels":[0,255,3]}"#, #"{ "pixels" : [ 0 , 12 ,255 ] }"#, "{\n\t\"width\": 2,\r\n\"height\":1, \"pixels\":[7,8]}\n",
            #"{"pixels":[]}"#, #"{"height":3,"pixels":[1,2,3],"width":1}"#, #"{"pixels":[9999]}"#, #"{"width":123456789,"pixels":[0]}"#,
        ]
        for body in plain {
            let ours = APIRequest.plainPixelsBody(Data(body.utf8))
            XCTAssertNotNil(ours, body)
            XCTAssertEqual(ours, decoded(body), body)
        }
        // Left to JSONDecoder: each of these is another form, valid or not.
        let other = [
            #"{"pixels":[1.0]}"#, #"{"pixels":[1e2]}"#, #"{"pixels":[-1]}"#, #"{"pixels":[01]}"#, #"{"pixels":[12345]}"#,
            #"{"pixels":[1],"pixels":[2]}"#, #"{"pixels":[1],"extra":1}"#, #"{"pix\u0065ls":[1]}"#, #"{"pixels":[1],}"#,
            #"{"pixels":[1,]}"#, #"{"pixels":[1]} x"#, #"{"width":null,"pixels":[1]}"#, #"[1]"#, "", #"{"pixels":[1]"#,
            #"{"width":1234567890,"pixels":[0]}"#,
        ]
        for body in other { XCTAssertNil(APIRequest.plainPixelsBody(Data(body.utf8)), body) }
    }

    /// Thousands of bodies, plain and mutated byte by byte: whatever the plain reader accepts,
    /// JSONDecoder reads the same.
    func testEveryBodyThePlainReaderAcceptsDecodesTheSame() {
        var random = TestRandom(seed: 5).generator
        let alphabet = Array(#"{}[],:" 0123456789.e-+"#.utf8)
        var accepted = 0
        for trial in 0..<4000 {
            let count = Int(random.next() % 12)
            let values = (0..<count).map { _ in String(random.next() % 300) }
            let space = [" ", "", "\n", "\t "][trial % 4]
            var members = ["\"pixels\":\(space)[\(values.joined(separator: "," + space))]"]
            if trial % 3 == 0 { members.append("\"width\":\(random.next() % 40)") }
            if trial % 5 == 0 { members.append("\"height\":\(random.next() % 40)") }
            members.shuffle(using: &random)
            var body = Array(("{" + space + members.joined(separator: "," + space) + space + "}").utf8)
            // Most bodies get one to three random bytes changed, inserted or removed.
            if trial % 4 != 0 {
                for _ in 0..<(1 + Int(random.next() % 3)) {
                    let at = Int(random.next() % UInt64(body.count))
                    let byte = alphabet[Int(random.next() % UInt64(alphabet.count))]
                    switch random.next() % 3 {
                    case 0: body[at] = byte
                    case 1: body.insert(byte, at: at)
                    default: body.remove(at: at)
                    }
                    if body.isEmpty { break }
                }
            }
            guard let ours = APIRequest.plainPixelsBody(Data(body)) else { continue }
            accepted += 1
            XCTAssertEqual(ours, try? JSONDecoder().decode(APIRequest.PixelsBody.self, from: Data(body)), String(decoding: body, as: UTF8.self))
        }
        XCTAssertGreaterThan(accepted, 1000)
    }
}
