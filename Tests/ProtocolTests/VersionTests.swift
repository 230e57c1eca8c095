import XCTest
@testable import Protocol

final class VersionTests: XCTestCase {
    // 2.0: step assignments carry options (a worker applies its own gradient, reports its state), step
    // results may carry that state, and the UMAP messages carry the approximate search's stages; a 1.x
    // peer would misread them, so it must be refused.
    func testVersionIsTwo() { XCTAssertEqual(ProtocolVersion.major, 2) }
}
