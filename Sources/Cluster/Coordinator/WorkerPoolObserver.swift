/// What a `WorkerPool` reports about each worker as it serves, for monitoring (`train --metrics-listen`).
/// The pool calls it on its own thread, so an observer must be cheap and thread-safe; it changes nothing
/// the pool decides.
public protocol WorkerPoolObserver: AnyObject, Sendable {
    /// A message of `bytes` bytes went to (`sent`) or came from the worker named `worker`.
    func worker(_ worker: String, transferred bytes: Int, sent: Bool)
    /// The worker named `worker` answered a piece of work (a step share, an evaluation chunk, a block of
    /// neighbour rows) `seconds` after it was sent.
    func worker(_ worker: String, answeredAfter seconds: Double)
}
