import Dispatch
import Foundation

/// Runs `body(block, thread)` for every block in 0..<blockCount on at most `threads` threads.
///
/// Thread t takes blocks t, t + threads, t + 2·threads, ...: a fixed assignment, so per-thread
/// scratch indexed by `thread` is never shared, and results depend only on how each block is computed.
func forEachBlock(_ blockCount: Int, threads: Int, _ body: (_ block: Int, _ thread: Int) -> Void) {
    FlushToZero.enable()
    let t = max(1, min(threads, blockCount))
    if t == 1 {
        for block in 0..<blockCount { body(block, 0) }
        return
    }
    withoutActuallyEscaping(body) { escapable in
        let box = UncheckedSendable(value: escapable)
        concurrentPerform(iterations: t) { thread in
            FlushToZero.enable()
            var block = thread
            while block < blockCount {
                box.value(block, thread)
                block += t
            }
        }
    }
}

/// Runs `body(block)` for every block in 0..<blockCount on at most `threads` threads, each taking
/// the next block not yet taken: for blocks whose results do not depend on the thread that runs them,
/// so a thread held up by the machine's other work does not hold up the blocks it has not started.
func forEachBlockAsTaken(_ blockCount: Int, threads: Int, _ body: (_ block: Int) -> Void) {
    FlushToZero.enable()
    let t = max(1, min(threads, blockCount))
    if t == 1 {
        for block in 0..<blockCount { body(block) }
        return
    }
    let counter = BlockCounter()
    withoutActuallyEscaping(body) { escapable in
        let box = UncheckedSendable(value: escapable)
        concurrentPerform(iterations: t) { _ in
            FlushToZero.enable()
            while case let block = counter.take(), block < blockCount { box.value(block) }
        }
    }
}

/// `body(i)` for each i in 0..<iterations, in parallel where the calling thread's `ParallelContext` says:
/// Dispatch's pool, an `IdleCompute`'s helpers (its low priority), or in order on this thread.
private func concurrentPerform(iterations: Int, _ body: @Sendable (Int) -> Void) {
    switch ParallelContext.current {
    case .normal: DispatchQueue.concurrentPerform(iterations: iterations, execute: body)
    case .idle(let helpers): helpers.perform(iterations: iterations, body)
    case .inline: for i in 0..<iterations { body(i) }
    }
}

/// The next block number, for `forEachBlockAsTaken`.
private final class BlockCounter: @unchecked Sendable {
    private var next = 0
    private let lock = NSLock()

    func take() -> Int {
        lock.lock()
        defer { lock.unlock() }
        next += 1
        return next - 1
    }
}

/// Splits 0..<count into `blocks` contiguous ranges of near-equal size.
func blockRange(_ block: Int, of blocks: Int, count: Int) -> Range<Int> {
    let lo = count * block / blocks
    let hi = count * (block + 1) / blocks
    return lo..<hi
}
