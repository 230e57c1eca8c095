import CKernels
import Foundation

/// Work that should take only what the rest of the machine leaves idle, e.g. an epoch's map while the
/// workers train the next epoch: a thread of its own at the lowest CPU priority (Linux SCHED_IDLE: it
/// runs only on a core no other thread wants; nice 19 where that is refused), and `threads - 1` helper
/// threads at the same priority that run the parallel loops (`forEachBlock`, `forEachBlockAsTaken`)
/// started from it. The threads are this object's own because Linux sets priority per thread and an
/// unprivileged thread cannot raise itself back: a lowered Dispatch pool thread would stay low for
/// whatever it ran next. Results do not depend on which thread runs a block, so the bits are those of
/// the same work on Dispatch's threads. The threads live as long as the process.
public final class IdleCompute: @unchecked Sendable {
    private let helpers: IdleHelpers
    private let condition = NSCondition()
    private var queued: (() -> Void)?
    /// What the threads got: "SCHED_IDLE", "nice 19", or "normal priority" where both were refused.
    public private(set) var priority = "SCHED_IDLE"

    /// `threads`: the parallel loops' width (the map's `--threads`).
    public init(threads: Int) {
        helpers = IdleHelpers(count: max(0, threads - 1))
        let thread = Thread { [self] in serve() }
        thread.name = "glassbox-idle"
        thread.start()
    }

    /// Starts `work` on the idle thread; the previous job must have been waited for.
    public func start<T>(_ work: @escaping () throws -> T) -> IdleJob<T> {
        let job = IdleJob<T>()
        condition.lock(); defer { condition.unlock() }
        precondition(queued == nil, "IdleCompute: a job started before the previous one was taken")
        queued = {
            let result = Result { try work() }
            job.finish(result)
        }
        condition.broadcast()
        return job
    }

    private func serve() {
        let got = glassbox_set_thread_idle()
        condition.lock()
        priority = got == 1 ? "SCHED_IDLE" : got == 2 ? "nice 19" : "normal priority"
        condition.unlock()
        ParallelContext.set(.idle(helpers))
        while true {
            condition.lock()
            while queued == nil { condition.wait() }
            let work = queued!
            queued = nil
            condition.unlock()
            work()
        }
    }
}

/// The result of one `IdleCompute.start`.
public final class IdleJob<T>: @unchecked Sendable {
    private let condition = NSCondition()
    private var result: Result<T, Error>?

    fileprivate init() {}

    fileprivate func finish(_ result: Result<T, Error>) {
        condition.lock(); defer { condition.unlock() }
        self.result = result
        condition.broadcast()
    }

    /// Whether the work has ended (returned or thrown).
    public var isDone: Bool {
        condition.lock(); defer { condition.unlock() }
        return result != nil
    }

    /// Blocks until the work ends; its value, or rethrows its error.
    public func wait() throws -> T {
        condition.lock()
        while result == nil { condition.wait() }
        let r = result!
        condition.unlock()
        return try r.get()
    }
}

/// How the parallel loops run on the calling thread: on Dispatch's pool (normal), on an `IdleCompute`'s
/// helpers, or one block after another (a helper itself, or a loop nested in a helpers' loop).
enum ParallelContext {
    case normal
    case idle(IdleHelpers)
    case inline

    private final class Box { let context: ParallelContext; init(_ c: ParallelContext) { context = c } }
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// The calling thread's context (threads that never set one: normal).
    static var current: ParallelContext {
        guard let raw = pthread_getspecific(key) else { return .normal }
        return Unmanaged<Box>.fromOpaque(raw).takeUnretainedValue().context
    }

    /// Sets the calling thread's context for the rest of its life.
    static func set(_ context: ParallelContext) {
        pthread_setspecific(key, Unmanaged.passRetained(Box(context)).toOpaque())
    }
}

/// The helper threads of an `IdleCompute`: `perform` runs each iteration once, on the caller or a helper.
final class IdleHelpers: @unchecked Sendable {
    private let condition = NSCondition()
    private var body: ((Int) -> Void)?
    private var iterations = 0
    private var next = 0
    private var running = 0
    private var busy = false

    init(count: Int) {
        for h in 0..<count {
            let thread = Thread { [self] in serve() }
            thread.name = "glassbox-idle-\(h + 1)"
            thread.start()
        }
    }

    /// Runs `body(i)` for every i in 0..<iterations, each once, on this thread and the helpers; returns
    /// when all have run. A call nested in another (from a block of it) runs its iterations here in order.
    func perform(iterations count: Int, _ body: (Int) -> Void) {
        condition.lock()
        if busy {
            condition.unlock()
            for i in 0..<count { body(i) }
            return
        }
        busy = true
        condition.unlock()
        withoutActuallyEscaping(body) { escapable in
            condition.lock()
            self.body = escapable
            iterations = count
            next = 0
            condition.broadcast()
            condition.unlock()
            runIterations(escapable)
            condition.lock()
            while running > 0 { condition.wait() }
            self.body = nil
            busy = false
            condition.unlock()
        }
    }

    /// Takes iterations until none is left.
    private func runIterations(_ body: (Int) -> Void) {
        while true {
            condition.lock()
            let i = next, count = iterations
            next += 1
            condition.unlock()
            if i >= count { return }
            body(i)
        }
    }

    private func serve() {
        _ = glassbox_set_thread_idle()
        ParallelContext.set(.inline)
        condition.lock()
        while true {
            while body == nil || next >= iterations { condition.wait() }
            let work = body!
            running += 1
            condition.unlock()
            runIterations(work)
            condition.lock()
            running -= 1
            if running == 0 { condition.broadcast() }
        }
    }
}
