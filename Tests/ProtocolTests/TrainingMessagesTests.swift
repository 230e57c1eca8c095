import XCTest
@testable import Protocol

final class TrainingMessagesTests: XCTestCase {
    func testFullSizeWeightsRoundTripBitExactly() throws {
        var rng = TestRandom(seed: 4)
        let parameters = (0..<821_002).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
        let bytes = encode(.weights(Weights(version: 3, adamStep: 2, parameters: parameters)))
        XCTAssertEqual(bytes.count, MessageHeader.size + 8 + 8 + 4 + 4 * 821_002 + 4 + 4)
        guard case .weights(let decoded) = try decode(bytes).1 else { return XCTFail("not weights") }
        XCTAssertEqual(decoded.parameters.map(\.bitPattern), parameters.map(\.bitPattern))
    }

    func testPerMicroBatchArraysOfAnotherLengthAreInvalid() {
        let result = StepResult(microBatches: [0, 1], lossSums: [1], correctCounts: [1, 2], sampleCounts: [1, 2],
                                gradient: sampleGradient(rows: 3))
        XCTAssertEqual(decodeError(encode(.stepResult(result))),
                       .invalidField(field: "stepResult.lossSums", offset: 12, reason: "1 values for 2 micro-batches"))
    }

    func testStepResultRowsMustMatchItsSampleCounts() {
        let result = StepResult(microBatches: [0, 1], lossSums: [1, 2], correctCounts: [1, 2], sampleCounts: [1, 2],
                                gradient: sampleGradient(rows: 4))
        XCTAssertEqual(decodeError(encode(.stepResult(result)))?.description,
                       "payload field stepResult.gradient.rows at byte 57: 4 samples, but the micro-batches hold 3")
    }

    func testGradientRowsMustFillTheirShape() {
        var gradient = sampleGradient(rows: 2)
        gradient.deltaRows.removeLast()
        let update = StepUpdate(version: 2, samples: 100, gradient: gradient)
        guard case .invalidField(let field, _, let reason) = decodeError(encode(.stepUpdate(update))) else {
            return XCTFail("expected invalidField")
        }
        XCTAssertEqual(field, "stepUpdate.gradient.deltaRows")
        XCTAssertEqual(reason, "3 values do not fill 2 rows of 2")
    }

    func testOwnRowsMustBeSomeAndStartWithinTheUpdate() {
        for own in [OwnRows(firstMicroBatch: 0, start: 0, count: 0), OwnRows(firstMicroBatch: 1, start: 3, count: 5)] {
            let update = StepUpdate(version: 2, samples: 100, gradient: sampleGradient(rows: 2), ownRows: own)
            guard case .invalidField(let field, _, let reason) = decodeError(encode(.stepUpdate(update))) else {
                return XCTFail("own rows \(own) were accepted")
            }
            XCTAssertEqual(field, "stepUpdate.ownRows.count")
            XCTAssertEqual(reason, "\(own.count) own rows at row \(own.start) of an update with 2 other rows")
        }
        let last = StepUpdate(version: 2, samples: 100, gradient: sampleGradient(rows: 2),
                              ownRows: OwnRows(firstMicroBatch: 1, start: 2, count: 5))
        XCTAssertEqual(try decode(encode(.stepUpdate(last))).1, .stepUpdate(last), "own rows may go after all others")
    }

    func testAssignmentSampleCountsMustCoverTheIndices() {
        let assignment = StepAssignment(weightsVersion: 1, microBatches: [0, 1], sampleCounts: [2, 0],
                                        sampleIndices: [1, 2])
        XCTAssertEqual(decodeError(encode(.stepAssignment(assignment))),
                       .invalidField(field: "stepAssignment.sampleIndices", offset: 32,
                                     reason: "a micro-batch of 0 samples"))
        let short = StepAssignment(weightsVersion: 1, microBatches: [0], sampleCounts: [3], sampleIndices: [1, 2])
        XCTAssertEqual(decodeError(encode(.stepAssignment(short))),
                       .invalidField(field: "stepAssignment.sampleIndices", offset: 24,
                                     reason: "2 samples, but the micro-batches hold 3"))
    }

    func testUnknownStepOptionBitsAreInvalid() {
        let assignment = StepAssignment(weightsVersion: 1, microBatches: [0], sampleCounts: [2], sampleIndices: [1, 2],
                                        options: StepOptions(rawValue: 0x11))
        XCTAssertEqual(decodeError(encode(.stepAssignment(assignment))),
                       .invalidField(field: "stepAssignment.options", offset: 36, reason: "unknown option bits 0x10"))
    }

    func testOmittingTheGradientNeedsTheWorkerToApplyItItself() {
        let assignment = StepAssignment(weightsVersion: 1, microBatches: [0], sampleCounts: [2], sampleIndices: [1, 2],
                                        options: [.omitGradient, .reportState])
        XCTAssertEqual(decodeError(encode(.stepAssignment(assignment))),
                       .invalidField(field: "stepAssignment.options", offset: 36,
                                     reason: "omitGradient without applyOwnGradient would lose the step's gradient"))
        let allowed = StepAssignment(weightsVersion: 1, microBatches: [0], sampleCounts: [2], sampleIndices: [1, 2],
                                     options: [.omitGradient, .applyOwnGradient])
        XCTAssertEqual(try decode(encode(.stepAssignment(allowed))).1, .stepAssignment(allowed))
    }

    func testAResultWithoutGradientStillChecksItsCountsAndFlags() {
        let empty = StepResult(microBatches: [0, 1], lossSums: [1, 2], correctCounts: [1, 2], sampleCounts: [3, 0],
                               gradient: nil)
        XCTAssertEqual(decodeError(encode(.stepResult(empty))),
                       .invalidField(field: "stepResult.sampleCounts", offset: 44, reason: "a micro-batch of 0 samples"))
        let ok = StepResult(microBatches: [0, 1], lossSums: [1, 2], correctCounts: [1, 2], sampleCounts: [3, 4],
                            gradient: nil)
        let bytes = encode(.stepResult(ok))
        XCTAssertEqual(try decode(bytes).1, .stepResult(ok))
        // The presence byte follows the counts; anything but 0 or 1 is refused, not read as "present".
        var payload = Array(bytes.dropFirst(MessageHeader.size))
        XCTAssertEqual(payload[56], 0)
        payload[56] = 2
        XCTAssertEqual(decodeError(frame(.stepResult, payload: payload)),
                       .invalidField(field: "stepResult.hasGradient", offset: 56, reason: "2 is not 0 or 1"))
    }

    func testReportedStateMomentsAreCheckedLikeWeights() {
        let result = StepResult(microBatches: [0], lossSums: [1], correctCounts: [1], sampleCounts: [1],
                                gradient: sampleGradient(rows: 1),
                                state: Weights(version: 3, adamStep: 2, parameters: [1, 2], adamM: [0], adamV: [0]))
        guard case .invalidField(let field, _, let reason) = decodeError(encode(.stepResult(result))) else {
            return XCTFail("a reported state with one moment for two parameters was accepted")
        }
        XCTAssertEqual(field, "stepResult.adamM")
        XCTAssertEqual(reason, "1 first and 1 second moments for 2 parameters (expected none or one each)")
    }

    func testWeightsMomentsAreAbsentOrOnePerParameter() {
        let weights = Weights(version: 1, adamStep: 1, parameters: [1, 2], adamM: [0], adamV: [0])
        XCTAssertEqual(decodeError(encode(.weights(weights)))?.description,
                       "payload field weights.adamM at byte 28: 1 first and 1 second moments for 2 parameters "
                       + "(expected none or one each)")
    }

    func testActivationsThatDoNotFillTheirShapeAreInvalid() {
        let reply = EvalReply(lossSums: [1], correctCounts: [1], sampleCounts: [2], predictions: [1, 2],
                              activations: [1, 2, 3], activationRows: 2, activationDimension: 2)
        let error = decodeError(encode(.evalReply(reply)))
        XCTAssertEqual(error?.description, "payload field evalReply.activations at byte 42: 3 values do not fill 2 rows of 2")
    }

    func testActivationRowsMustMatchThePredictions() {
        let reply = EvalReply(lossSums: [1], correctCounts: [1], sampleCounts: [2], predictions: [1, 2],
                              activations: [1, 2, 3], activationRows: 3, activationDimension: 1)
        XCTAssertEqual(decodeError(encode(.evalReply(reply)))?.description,
                       "payload field evalReply.activationRows at byte 34: 3 rows for 2 samples")
    }

    func testUnknownImageSetIsInvalid() {
        var w = PayloadWriter()
        w.write(UInt8(9))
        w.write(UInt8(0))
        w.write(UInt32(25))
        w.writeArray([Int32]())
        XCTAssertEqual(decodeError(frame(.evalRequest, payload: w.bytes)),
                       .invalidField(field: "evalRequest.imageSet", offset: 0, reason: "unknown image set 9"))
    }
}
