import XCTest
@testable import Protocol

final class VersionTests: XCTestCase {
    // 2.0: step assignments carry options (a worker applies its own gradient, reports its state) and step
    // results may carry that state; a 1.x peer would ignore them, so it must be refused.
    func testVersionIsTwo() { XCTAssertEqual(ProtocolVersion.major, 2) }
}
