/// Where the engine notes what happens to a run (workers joining, leaving or refused, replicas that
/// drifted): the coordinator's event log (`events.jsonl`), or nothing.
public protocol EventRecording: AnyObject, Sendable {
    /// Notes event `name` with `fields`, whose values must be JSON-serialisable.
    func record(_ name: String, _ fields: [String: Any])
}
