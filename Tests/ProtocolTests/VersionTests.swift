import XCTest
@testable import Protocol

final class VersionTests: XCTestCase {
    // 3.0: a step result's gradient is optional (StepOptions.omitGradient) behind a presence byte, an
    // update may leave out the receiver's own rows (OwnRows), and a state reported with applyOwnGradient
    // is the one after the step; a 2.x peer would misread results and updates, so it must be refused.
    // (2.0 added the step options, the reported state and the UMAP stage messages.)
    func testVersionIsThree() { XCTAssertEqual(ProtocolVersion.major, 3) }
}
