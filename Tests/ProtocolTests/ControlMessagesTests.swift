import XCTest
@testable import Protocol

final class ControlMessagesTests: XCTestCase {
    func testSettingsAreEncodedInKeyOrder() {
        let a = Welcome(rank: 1, runNonce: 2, seed: 3, settings: ["b": "2", "a": "1", "c": "3"])
        var b = a
        b.settings = [:]
        for key in ["c", "a", "b"] { b.settings[key] = a.settings[key] }
        XCTAssertEqual(encode(.welcome(a)), encode(.welcome(b)))
    }

    func testDuplicateSettingIsInvalid() {
        var w = PayloadWriter()
        w.write(UInt32(1))
        w.write(UInt64(2))
        w.write(UInt64(3))
        w.write(UInt32(2))
        for _ in 0..<2 {
            w.write("lr")
            w.write("0.1")
        }
        XCTAssertEqual(decodeError(frame(.welcome, payload: w.bytes)),
                       .invalidField(field: "welcome.settings.key", offset: 37, reason: "duplicate setting \"lr\""))
    }
}
