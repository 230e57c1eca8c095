import Cluster
import Core
import Foundation
import Protocol
import XCTest

/// A real `glassbox-worker` process driven message by message by this test acting as the coordinator,
/// its answers compared bit for bit with the same computation in this process.
final class WorkerProtocolTests: XCTestCase {
    override func setUpWithError() throws {
        #if DEBUG
        throw XCTSkip("WorkerProtocolTests compute real gradients in another process: run them in a release build")
        #endif
    }

    func testWorkerAnswersEvaluationsStepsUpdatesAndDigestsLikeThisProcess() throws {
        let data = try DatasetSource.load(.directory(try mnistDirectory()))
        let root = try temporaryDirectory(self, "worker-protocol")
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, type: .router)
        try router.bind("tcp://127.0.0.1:*")
        let worker = try startWorker(try router.lastEndpoint(), ["--threads", "2"], logPath: root + "/worker.log")
        let nonce: UInt64 = 0x5EED
        var peer: [UInt8] = []

        /// The next message other than a heartbeat.
        func receive(_ what: String) throws -> (MessageHeader, Message) {
            while true {
                let frames = try XCTUnwrap(router.receive(timeoutMs: 60_000), "no \(what) from the worker:\n\(worker.output)")
                peer = frames[0]
                let decoded = try decode(frames[1])
                if case .heartbeat = decoded.1 { continue }
                return decoded
            }
        }
        func send(_ message: Message, epoch: UInt32 = 0, step: UInt32 = 1, chunk: UInt32 = 0) throws {
            try router.send(frames: [peer, encode(message, envelope: Envelope(runNonce: nonce, epoch: epoch, step: step,
                                                                               chunkIndex: chunk, chunkCount: chunk + 1))])
        }

        guard case .hello(let hello) = try receive("hello").1 else { return XCTFail("expected hello") }
        XCTAssertEqual(hello.datasetFingerprint, data.fingerprint)
        XCTAssertEqual(hello.threadCount, 2)
        XCTAssertEqual(hello.processID, worker.pid)
        let seed: UInt64 = 3
        var adam = AdamState(count: SeedCNN.layout.count)
        var parameters = initialParameters(seed: seed)
        try send(.welcome(Welcome(rank: 1, runNonce: nonce, seed: seed, settings: [
            "microBatch": "25", "heartbeatSeconds": "1", "learningRate": "\(adam.learningRate)",
            "beta1": "\(adam.beta1)", "beta2": "\(adam.beta2)", "epsilon": "\(adam.epsilon)"])))
        try send(.weights(Weights(version: 1, adamStep: 0, parameters: parameters, adamM: adam.m, adamV: adam.v)))
        let engine = CNNEngine(parameters: parameters, threads: 1, microBatchSize: 25)

        // Evaluation with hidden activations: 60 training images in micro-batches of 25, 25, 10.
        let indices = (0..<60).map { ($0 * 997 + 13) % data.train.count }
        try send(.evalRequest(EvalRequest(imageSet: .train, includeActivations: true, microBatchSize: 25,
                                          sampleIndices: indices.map { Int32($0) })), chunk: 7)
        let (evalHeader, evalMessage) = try receive("evaluation")
        guard case .evalReply(let reply) = evalMessage else { return XCTFail("expected evalReply, got \(evalMessage)") }
        XCTAssertEqual(evalHeader.envelope.chunkIndex, 7, "replies carry the request's envelope")
        let expected = microBatches(of: indices[...], size: 25).map { engine.evaluate(Array($0), data: data.train, hidden: true) }
        XCTAssertEqual(reply.sampleCounts, [25, 25, 10])
        XCTAssertEqual(reply.lossSums, expected.map(\.stats.lossSum))
        XCTAssertEqual(reply.correctCounts, expected.map { Int32($0.stats.correct) })
        XCTAssertEqual(reply.predictions, expected.flatMap(\.predictions))
        XCTAssertEqual(reply.activationRows, 60)
        XCTAssertEqual(reply.activationDimension, 512)
        XCTAssertEqual(reply.activations.map(\.bitPattern), expected.flatMap(\.hidden).map(\.bitPattern))

        // A step share: micro-batches 2 and 3 of a step (25 and 10 samples), epoch 4.
        let mbs = microBatches(of: indices[10..<45], size: 25)
        try send(.stepAssignment(StepAssignment(weightsVersion: 1, microBatches: [2, 3], sampleCounts: [25, 10],
                                                sampleIndices: indices[10..<45].map { Int32($0) })), epoch: 4, step: 2)
        guard case .stepResult(let result) = try receive("step result").1 else { return XCTFail("expected stepResult") }
        let (gradient, _) = engine.gradients(microBatches: mbs, data: data.train, epoch: 4, seed: seed)
        let stats = mbs.map { engine.gradients(microBatches: [$0], data: data.train, epoch: 4, seed: seed).1 }
        XCTAssertEqual(result.microBatches, [2, 3])
        XCTAssertEqual(result.lossSums, stats.map(\.lossSum))
        let factors = try XCTUnwrap(result.gradient, "a share of a step carries its gradient")
        XCTAssertNil(result.state, "no state was asked for")
        XCTAssertEqual(factors.sums, gradient.sums.values)
        XCTAssertEqual(factors.flatRows.map(\.bitPattern), gradient.flatRows.map(\.bitPattern))
        XCTAssertEqual(factors.deltaRows.map(\.bitPattern), gradient.deltaRows.map(\.bitPattern))

        // The worker applies a broadcast update itself and ends up with this process' weights. The update
        // leaves out the rows of the worker's own share, which it puts back from what it computed.
        let update = StepUpdate(version: 2, samples: 35, gradient: factors)
            .leavingOut(OwnRows(firstMicroBatch: 2, start: 0, count: 35))
        XCTAssertEqual(update.gradient.rows, 0)
        try send(.stepUpdate(update), step: 2)
        applyAdam(gradient, samples: 35, threads: 2, parameters: &parameters, adam: &adam)
        let digest = parameters.withUnsafeBytes { sha256Hex($0) }
        try send(.weightsDigest(WeightsDigest(version: 2, sha256: digest)), step: 3)
        guard case .weightsDigest(let held) = try receive("digest").1 else { return XCTFail("expected weightsDigest") }
        XCTAssertEqual(held, WeightsDigest(version: 2, sha256: digest))

        // A whole step that the worker applies itself: it keeps the gradient and reports the state after it.
        let whole = microBatches(of: indices[0..<50], size: 25)
        try send(.stepAssignment(StepAssignment(weightsVersion: 2, microBatches: [0, 1], sampleCounts: [25, 25],
                                                sampleIndices: indices[0..<50].map { Int32($0) },
                                                options: [.applyOwnGradient, .omitGradient, .reportState])),
                 epoch: 5, step: 4)
        guard case .stepResult(let own) = try receive("whole step result").1 else { return XCTFail("expected stepResult") }
        XCTAssertNil(own.gradient, "the gradient stays on the worker")
        engine.setParameters(parameters)
        let (wholeGradient, wholeStats) = engine.gradients(microBatches: whole, data: data.train, epoch: 5, seed: seed)
        XCTAssertEqual(own.lossSums.reduce(0, +), wholeStats.lossSum, accuracy: 1e-9)
        XCTAssertEqual(own.correctCounts.reduce(0, +), Int32(wholeStats.correct))
        applyAdam(wholeGradient, samples: 50, threads: 1, parameters: &parameters, adam: &adam)
        let state = try XCTUnwrap(own.state, "the state was asked for")
        XCTAssertEqual(state.version, 3, "the state after the step")
        XCTAssertEqual(state.adamStep, UInt64(adam.step))
        XCTAssertEqual(state.parameters.map(\.bitPattern), parameters.map(\.bitPattern))
        XCTAssertEqual(state.adamM.map(\.bitPattern), adam.m.map(\.bitPattern))
        XCTAssertEqual(state.adamV.map(\.bitPattern), adam.v.map(\.bitPattern))

        // Work for weights it does not hold is refused, naming the versions.
        try send(.stepAssignment(StepAssignment(weightsVersion: 9, microBatches: [0], sampleCounts: [1], sampleIndices: [0])))
        guard case .error(let code, let text) = try receive("error").1 else { return XCTFail("expected an error") }
        XCTAssertEqual(code, ErrorCode.wrongWeightsVersion.rawValue)
        XCTAssertTrue(text.contains("version 3") && text.contains("needs 9"), text)

        try send(.shutdown(reason: "test over"))
        var acknowledged = false
        while !acknowledged, let frames = try router.receive(timeoutMs: 10_000) {
            if case .shutdown = try decode(frames[1]).1 { acknowledged = true }
        }
        XCTAssertTrue(acknowledged, "the worker acknowledges the shutdown")
        XCTAssertEqual(worker.wait(timeout: 30), 0, worker.output)
        XCTAssertTrue(worker.output.contains("rank 1"), worker.output)
    }
}
