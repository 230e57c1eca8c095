import XCTest
@testable import Protocol

final class VersionTests: XCTestCase {
    func testVersionIsTwo() { XCTAssertEqual(ProtocolVersion.major, 2) }
}
