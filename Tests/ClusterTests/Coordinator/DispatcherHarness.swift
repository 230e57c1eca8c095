@testable import Cluster
import Core
import Protocol
import XCTest

/// A `PoolDispatcher` driven by hand, as `WorkerPool`'s server thread drives it, but with a fake clock
/// (`t`, moved only by `pass`) and no socket: sends are recorded (and always succeed unless a test says
/// otherwise), finished jobs and failures kept.
final class DispatcherHarness {
    private(set) var t = 0.0
    let dispatcher: PoolDispatcher
    /// Every send, in order.
    private(set) var sends: [(to: WorkerID, message: Outgoing)] = []
    /// The outcome of the last finished job.
    private(set) var outcome: Result<[PoolResult], ClusterError>?
    private(set) var failure: ClusterError?
    /// Event-log entries, by name.
    private(set) var events: [String] = []
    /// Sends to these workers fail (their connection is gone).
    var unreachable: Set<WorkerID> = []

    init(minWorkers: Int = 1, heartbeatTimeout: Double = 10, stepDeadline: Double = 60, workerTimeout: Double = 60,
         welcomeSettings: [String: String] = [:]) {
        dispatcher = PoolDispatcher(settings: PoolSettings(
            bind: "inproc://test", curveKeysDirectory: nil, heartbeatTimeout: heartbeatTimeout, stepDeadline: stepDeadline,
            minWorkers: minWorkers, workerTimeout: workerTimeout, datasetFingerprint: "fingerprint", expectedBuildID: nil,
            seed: 1, welcomeSettings: welcomeSettings), runNonce: 7)
    }

    /// Carries out `actions` as `WorkerPool.perform` does.
    func perform(_ actions: [PoolAction]) {
        for action in actions {
            switch action {
            case .send(let message, let id):
                guard dispatcher.isLive(id) else { continue }
                if unreachable.contains(id) {
                    perform(dispatcher.sendFailed(to: id, because: "its connection closed"))
                } else {
                    sends.append((id, message))
                    dispatcher.sent(to: id, at: t)
                }
            case .finish(let result): outcome = result
            case .fail(let error): failure = error
            case .record(let name, _): events.append(name)
            case .reply, .log: break
            }
        }
    }

    /// Moves the clock on by `seconds` and lets the dispatcher act on it.
    func pass(_ seconds: Double) {
        t += seconds
        perform(dispatcher.tick(at: t))
    }

    /// A worker with `threads` threads says hello; its id is its name.
    @discardableResult
    func join(_ name: String, threads: Int = 1) -> WorkerID {
        let id = Array(name.utf8)
        perform(dispatcher.hello(Hello(buildID: "test", datasetFingerprint: "fingerprint", hostName: name,
                                       processID: 1, threadCount: UInt32(threads)), from: id, at: t))
        return id
    }

    /// Workers named `names` join, and the state of version 1 is published so they can take work.
    func start(_ names: [String], threads: [Int]? = nil) -> [WorkerID] {
        let ids = names.indices.map { join(names[$0], threads: threads?[$0] ?? 1) }
        perform(dispatcher.publish(version: 1))
        return ids
    }

    /// Submits `job` and lets the dispatcher hand out its ranges.
    func submit(_ job: PoolJob) {
        outcome = nil
        perform(dispatcher.submit(job))
        pass(0)
    }

    /// The requests sent to `id` so far, with their envelopes.
    func requests(to id: WorkerID) -> [(message: Message, envelope: Envelope)] {
        sends.compactMap { send in
            guard send.to == id, case .request(let message, let envelope) = send.message else { return nil }
            return (message, envelope)
        }
    }

    /// The range of the last request sent to `id`.
    func lastRange(of id: WorkerID) -> Range<Int>? {
        guard let (_, envelope) = requests(to: id).last else { return nil }
        let start = Int(envelope.chunkIndex)
        return start..<(start + units(of: requests(to: id).last!.message))
    }

    /// Answers `id`'s last request as a worker would (a step result naming its micro-batches), then ticks.
    func answer(_ id: WorkerID) {
        guard let (message, envelope) = requests(to: id).last else { return XCTFail("no request to answer") }
        let microBatches: [Int32]
        if case .stepAssignment(let a) = message { microBatches = a.microBatches } else { microBatches = [] }
        let result = StepResult(microBatches: microBatches, lossSums: microBatches.map { _ in 0 },
                                correctCounts: microBatches.map { _ in 0 }, sampleCounts: microBatches.map { _ in 1 },
                                gradient: nil)
        perform(dispatcher.received(.stepResult(result), envelope, from: id, at: t))
        pass(0)
    }

    /// Sends that carry the current state, to `id`.
    func stateSends(to id: WorkerID) -> Int {
        sends.count { if $0.to == id, case .state = $0.message { true } else { false } }
    }

    private func units(of message: Message) -> Int {
        if case .stepAssignment(let a) = message { return a.microBatches.count }
        return 1
    }
}

/// A training step of `count` micro-batches of one sample each, as `ClusterBackend` builds it.
func stepJob(_ count: Int, report: Bool = false) -> PoolJob {
    ClusterBackend.trainingJob((0..<count).map { [$0][...] }, epoch: 0, version: 1, gradientSync: true,
                               reportState: report)
}

/// The options of an assignment.
func options(_ message: Message) -> StepOptions {
    if case .stepAssignment(let a) = message { return a.options }
    return []
}
