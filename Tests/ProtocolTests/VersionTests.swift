import XCTest
@testable import Protocol

final class VersionTests: XCTestCase {
    func testVersionIsOne() { XCTAssertEqual(ProtocolVersion.major, 1) }
}
