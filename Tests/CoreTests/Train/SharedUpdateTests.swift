import Dispatch
import Foundation
import XCTest

@testable import Core

/// Spawned workers split each update (`ParameterShare`, `SharedUpdate`): every element must get the bits
/// of a whole update, whoever computes it, and a member whose share does not come must not stop the others.
final class SharedUpdateTests: XCTestCase {
    private let images = Benchmark.syntheticImages(count: 60)

    /// Real step gradients of 20 samples each (dropout keyed by step), from the seed model.
    private func gradients(_ steps: Int) -> [StepGradient] {
        let engine = CNNEngine(parameters: initialParameters(seed: 5), threads: 2, microBatchSize: 10)
        return (0..<steps).map { step in
            let first = (step * 20) % 60
            let mbs = [Array(first..<first + 10)[...], Array(first + 10..<first + 20)[...]]
            return engine.microBatchGradients(mbs, data: images, epoch: step + 1, seed: 9).0
        }
    }

    /// The weights and Adam state after whole updates, in one process.
    private func whole(_ gradients: [StepGradient]) -> ([Float], AdamState) {
        var parameters = initialParameters(seed: 5)
        var adam = AdamState(count: parameters.count)
        for g in gradients { applyAdam(g, samples: 20, threads: 1, parameters: &parameters, adam: &adam) }
        return (parameters, adam)
    }

    private func temporaryPath() -> String {
        let path = NSTemporaryDirectory() + "glassbox-shared-\(UUID().uuidString)"
        addTeardownBlock { unlink(path) }
        return path
    }

    func testSharesCoverEveryParameterOnce() {
        for members in 1...ParameterShare.maxMembers {
            let shares = ParameterShare.split(members: members)
            var seen = [UInt8](repeating: 0, count: SeedCNN.layout.count)
            for share in shares {
                XCTAssertEqual(share.ranges.map(\.count).reduce(0, +), share.count)
                XCTAssertGreaterThanOrEqual(share.columns.count, 16, "\(members) members: \(share)")
                for range in share.ranges { for i in range { seen[i] += 1 } }
            }
            XCTAssertEqual(seen.filter { $0 != 1 }.count, 0, "\(members) members: elements not in exactly one share")
        }
        XCTAssertEqual(ParameterShare.split(members: 1), [.whole])
        XCTAssertEqual(ParameterShare.split(members: 2).map(\.columns), [0..<256, 256..<512])
    }

    /// The update of one share (`FusedAdam`: the mean formed by blocks of rows, of some columns) against the
    /// readable composition: the whole mean (`StepGradient.mean`), then Adam's `apply`. Elements of the
    /// share must have its bits, the others must not be touched.
    func testAnUpdateOfAShareHasTheBitsOfTheWholeMeanThenAdamOnEveryKernelPath() {
        let g = gradients(1)[0]
        let start = initialParameters(seed: 5)
        for path in KernelPath.supported {
            var expected = start
            var expectedAdam = AdamState(count: start.count)
            let mean = g.mean(samples: 20, threads: 2, kernels: path)
            mean.withUnsafeBufferPointer { m in
                expected.withUnsafeMutableBufferPointer {
                    expectedAdam.apply(gradient: m.baseAddress!, to: $0.baseAddress!, count: $0.count, threads: 2)
                }
            }
            for members in [2, 3, 7] {
                for share in ParameterShare.split(members: members) {
                    var part = start
                    var adam = AdamState(count: start.count)
                    adam.update(adam.beginStep(), gradient: g, samples: 20, shares: [share], parameters: &part, threads: 1,
                                kernels: path)
                    var inShare = [Bool](repeating: false, count: start.count)
                    for range in share.ranges { for i in range { inShare[i] = true } }
                    let wrong = (0..<start.count).filter { (i: Int) -> Bool in
                        let (w, m, v): (Float, Float, Float) = inShare[i] ? (expected[i], expectedAdam.m[i], expectedAdam.v[i])
                                                                           : (start[i], 0, 0)
                        return part[i].bitPattern != w.bitPattern || adam.m[i].bitPattern != m.bitPattern
                            || adam.v[i].bitPattern != v.bitPattern
                    }
                    XCTAssertEqual(wrong.count, 0, "\(path), \(members) members, \(share): first wrong element \(wrong.first ?? -1)")
                }
            }
        }
    }

    func testAdamBySharesInAnyOrderEqualsAWholeUpdate() {
        let g = gradients(2)
        let (expected, expectedAdam) = whole(g)
        var parameters = initialParameters(seed: 5)
        var adam = AdamState(count: parameters.count)
        for gradient in g {
            let step = adam.beginStep()
            for share in ParameterShare.split(members: 3).reversed() {
                applyAdam(gradient, samples: 20, threads: 2, parameters: &parameters, adam: &adam, shares: [share], step: step)
            }
        }
        XCTAssertEqual(parameters.map(\.bitPattern), expected.map(\.bitPattern))
        XCTAssertEqual(adam, expectedAdam)
    }

    /// `members` members on threads of this process, each applying `steps` updates through one file from the
    /// seed model (version 1); the members in `skip` only take the seed model (as if they died before the
    /// first update). Each returns its weights, its moments gathered from the file, and the outcomes.
    private func runMembers(_ members: Int, steps g: [StepGradient], timeout: Double = 5,
                            skip: Set<Int> = []) throws -> [(parameters: [Float], adam: AdamState, outcomes: [SharedUpdate.Outcome])] {
        let path = temporaryPath()
        try SharedUpdate.create(path: path, members: members, rowsCapacity: 100)
        let results = SharedArray<([Float], AdamState, [SharedUpdate.Outcome])?>(repeating: nil, count: members)
        let sharings = try (0..<members).map { try SharedUpdate(path: path, rank: $0, members: members, timeout: timeout) }
        // As the coordinator does, no update goes out before every member has applied the one before.
        let barrier = StepBarrier(members - skip.count)
        // A thread each (a concurrent loop on two cores could run them one after another).
        let done = DispatchSemaphore(value: 0)
        for rank in skip { sharings[rank].seed(version: 1, parameters: initialParameters(seed: 5), adam: AdamState(count: SeedCNN.layout.count)) }
        for rank in 0..<members where !skip.contains(rank) {
            Thread {
                member(rank)
                done.signal()
            }.start()
        }
        for _ in 0..<(members - skip.count) { done.wait() }
        return results.array.compactMap { $0 }.map { (parameters: $0.0, adam: $0.1, outcomes: $0.2) }

        @Sendable func member(_ rank: Int) {
            var parameters = initialParameters(seed: 5)
            var adam = AdamState(count: parameters.count)
            var outcomes: [SharedUpdate.Outcome] = []
            for (i, gradient) in g.enumerated() {
                barrier.wait()
                outcomes.append(sharings[rank].apply(gradient, samples: 20, version: UInt64(i + 2), threads: 1,
                                                     parameters: &parameters, adam: &adam))
            }
            if !sharings[rank].gather(version: UInt64(g.count + 1), into: &adam) { outcomes.append(.lost(reason: "gather")) }
            results[rank] = (parameters, adam, outcomes)
        }
    }

    func testMembersSplittingEachUpdateHoldTheWeightsAndMomentsOfWholeUpdates() throws {
        let g = gradients(3)
        let (expected, expectedAdam) = whole(g)
        for members in [2, 3] {
            let results = try runMembers(members, steps: g)
            XCTAssertEqual(results.count, members)
            for (rank, r) in results.enumerated() {
                XCTAssertEqual(r.outcomes, [.shared, .shared, .shared], "\(members) members, member \(rank)")
                XCTAssertEqual(r.parameters.map(\.bitPattern), expected.map(\.bitPattern), "\(members) members, member \(rank)")
                XCTAssertEqual(r.adam, expectedAdam, "\(members) members, member \(rank)")
            }
        }
    }

    func testAMemberWhoseShareNeverComesIsDoneLocallyAndTheSharingEnds() throws {
        let g = gradients(2)
        let (expected, expectedAdam) = whole(g)
        let results = try runMembers(2, steps: g, timeout: 0.05, skip: [1])
        XCTAssertEqual(results.count, 1)
        XCTAssertEqual(results[0].outcomes, [.alone(missing: [1]), .whole])
        XCTAssertEqual(results[0].parameters.map(\.bitPattern), expected.map(\.bitPattern))
        XCTAssertEqual(results[0].adam, expectedAdam)
    }

    func testAMemberWithoutItsPartnersMomentsSaysItsStateIsLost() throws {
        // The partner never put its share in the file: the step cannot be completed here.
        let path = temporaryPath()
        try SharedUpdate.create(path: path, members: 2, rowsCapacity: 100)
        let sharing = try SharedUpdate(path: path, rank: 0, members: 2, timeout: 0.05)
        var parameters = initialParameters(seed: 5)
        var adam = AdamState(count: parameters.count)
        let outcome = sharing.apply(gradients(1)[0], samples: 20, version: 2, threads: 1, parameters: &parameters, adam: &adam)
        guard case .lost(let reason) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertTrue(reason.contains("local worker 1's share of version 1 is not whole"), reason)
        XCTAssertFalse(sharing.isActive)
    }

    func testFilesThatAreNotSharedUpdateFilesAreRefusedWithThePath() throws {
        let path = temporaryPath()
        XCTAssertThrowsError(try SharedUpdate(path: path, rank: 0, members: 2)) {
            XCTAssertTrue("\($0)".contains(path) && "\($0)".contains("cannot open"), "\($0)")
        }
        FileManager.default.createFile(atPath: path, contents: Data(count: 100))
        XCTAssertThrowsError(try SharedUpdate(path: path, rank: 0, members: 2)) {
            XCTAssertTrue("\($0)".contains("\(path) holds 100 bytes"), "\($0)")
        }
        unlink(path)
        try SharedUpdate.create(path: path, members: 3, rowsCapacity: 100)
        XCTAssertThrowsError(try SharedUpdate(path: path, rank: 0, members: 2)) {
            XCTAssertTrue("\($0)".contains("not a shared-update file for 2 members"), "\($0)")
        }
        XCTAssertThrowsError(try SharedUpdate(path: path, rank: 3, members: 3))
        XCTAssertThrowsError(try SharedUpdate.create(path: path, members: 3, rowsCapacity: 100)) {  // exists
            XCTAssertTrue("\($0)".contains("cannot create \(path)"), "\($0)")
        }
    }
}

/// Threads wait at `wait()` until `count` of them have arrived, again and again.
private final class StepBarrier: @unchecked Sendable {
    private let condition = NSCondition()
    private let count: Int
    private var arrived = 0
    private var round = 0

    init(_ count: Int) { self.count = count }

    func wait() {
        condition.lock()
        defer { condition.unlock() }
        let myRound = round
        arrived += 1
        if arrived == count {
            arrived = 0
            round += 1
            condition.broadcast()
        } else {
            while round == myRound { condition.wait() }
        }
    }
}
