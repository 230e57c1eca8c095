import CKernels
import Foundation

/// A serial queue of jobs on a thread of its own at a low priority (nice 10 by default): work that may
/// wait, such as a run's figures and report, takes mostly what the training leaves idle, and about a tenth
/// of a core against busy threads (a nice-19 thread would get 1.5 % of one: a one-process run, whose
/// threads leave nothing idle, would see its figures minutes late). On a shared pool
/// thread (Dispatch) it would run at the trainer's priority, and a core taken from a worker mid-step
/// holds up every replica at the step's end. Its own thread, because Linux sets priority per thread and
/// a pool thread would keep the low priority for whatever it runs next. The thread lives until `close()`.
public final class BackgroundLane: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var running = false
    private var closed = false

    /// `name` names the thread (seen in `top -H`); `nice` from 0 (normal) to 19 (lowest).
    public init(name: String, nice: Int32 = 10) {
        let thread = Thread { [self] in self.serve(nice: nice) }
        thread.name = name
        thread.start()
    }

    /// Queues `job` after every job queued before it.
    public func async(_ job: @escaping @Sendable () -> Void) {
        condition.lock(); defer { condition.unlock() }
        precondition(!closed, "BackgroundLane: job queued after close()")
        jobs.append(job)
        condition.broadcast()
    }

    /// Returns once every job queued so far has run.
    public func drain() {
        condition.lock(); defer { condition.unlock() }
        while !jobs.isEmpty || running { condition.wait() }
    }

    /// Lets the thread end once its queued jobs have run.
    public func close() {
        condition.lock(); defer { condition.unlock() }
        closed = true
        condition.broadcast()
    }

    private func serve(nice: Int32) {
        // Best effort: a thread that keeps the normal priority still runs every job.
        _ = glassbox_set_thread_nice(nice)
        while true {
            condition.lock()
            while jobs.isEmpty && !closed { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()  // a handful queued at most: the shift costs nothing
            running = true
            condition.unlock()
            job()
            condition.lock()
            running = false
            condition.broadcast()
            condition.unlock()
        }
    }
}
