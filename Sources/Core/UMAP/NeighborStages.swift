// The row-block stages of the approximate neighbour search, and where they run.
//
// `approximateNearestNeighbors` decides what runs (PCA, cells, locality order, which start, how many
// refinement passes, when to stop); a `NeighborSearchStages` decides where the per-row stages run:
// on this process' threads (`ThreadedNeighborStages`) or on worker processes (the coordinator's
// `ClusterNeighborStages`). Every stage computes each row from inputs it is given (the locality-ordered
// rows, the cells, the graph of the previous pass), never from another row's result of the same stage,
// so any split of the rows gives the same bits.
//
// Rows and neighbour indices are locality positions throughout (see `LocalityOrderedRows`).

/// Where the per-row stages of an approximate neighbour search run.
public protocol NeighborSearchStages: AnyObject {
    associatedtype Failure: Error
    /// Makes `rows` the data that the stages which follow read (one search).
    func load(_ rows: LocalityOrderedRows) throws(Failure)
    /// Fresh start (`cellStartRows` of every row).
    func cellStart(_ cells: CellIndex, probes: Int, candidates: Int, keep k: Int) throws(Failure) -> RefinementGraph
    /// Warm start (`graphStartRows` of every row): `graph`'s neighbours re-measured.
    func graphStart(_ graph: KNNGraph, keep k: Int) throws(Failure) -> RefinementGraph
    /// One refinement pass over every row (`refineNeighborRowBlock`): the next graph and the number of
    /// entries that changed.
    func refinementPass(_ current: RefinementGraph, expansion: Int) throws(Failure) -> (next: RefinementGraph, changes: Int)
}

/// Query rows per sub-block of the cell search (`CellIndex.search`): row blocks of `cellStartRows` that
/// start at multiples of this run the same sgemm shapes as a whole search, so give the same bits.
public let cellSearchBlockRows = 256

/// The stages on this process' threads, in blocks of rows.
public final class ThreadedNeighborStages: NeighborSearchStages {
    public typealias Failure = Never
    let threads: Int
    private var data: LocalityOrderedRows?

    public init(threads: Int) { self.threads = max(1, threads) }

    public func load(_ rows: LocalityOrderedRows) { data = rows }

    /// The rows `load` gave.
    private var rows: LocalityOrderedRows {
        guard let data else { preconditionFailure("ThreadedNeighborStages: load the rows before a stage") }
        return data
    }

    public func cellStart(_ cells: CellIndex, probes: Int, candidates: Int, keep k: Int) -> RefinementGraph {
        let data = rows
        return rowBlocksOnThreads(0..<data.rows, k: k, threads: threads, alignment: cellSearchBlockRows) { rows in
            (cellStartRows(rows, cells: cells, data: data, probes: probes, candidates: candidates, keep: k), 0)
        }.graph
    }

    public func graphStart(_ graph: KNNGraph, keep k: Int) -> RefinementGraph {
        let data = rows
        return rowBlocksOnThreads(0..<data.rows, k: k, threads: threads) { rows in
            let neighbors = graph.indices[(rows.lowerBound * graph.k)..<(rows.upperBound * graph.k)]
            return (graphStartRows(rows, neighbors: neighbors, inputK: graph.k, data: data, keep: k), 0)
        }.graph
    }

    public func refinementPass(_ current: RefinementGraph, expansion: Int) -> (next: RefinementGraph, changes: Int) {
        let data = rows
        let reverse = ReverseNeighbors(current, cap: current.graph.k)
        let (next, changes) = rowBlocksOnThreads(0..<data.rows, k: current.graph.k, threads: threads) { rows in
            refineNeighborRowBlock(rows, current: current, reverse: reverse, data: data, expansion: expansion)
        }
        return (next, changes)
    }
}

/// Computes the rows `rows` as `blocksPerThread` blocks per thread (each starting at a multiple of
/// `alignment`, or at `rows.lowerBound`) on `threads` threads; returns the blocks' rows as one graph of
/// rows.count rows and the sum of their changes.
public func rowBlocksOnThreads(
    _ rows: Range<Int>, k: Int, threads: Int, blocksPerThread: Int = 16, alignment: Int = 1,
    _ block: (Range<Int>) -> (rows: RefinementGraph, changes: Int)
) -> (graph: RefinementGraph, changes: Int) {
    let parts = max(1, min(rows.count, threads * blocksPerThread))
    var bounds = (0...parts).map { rows.lowerBound + rows.count * $0 / parts }
    for p in 1..<parts { bounds[p] = max(rows.lowerBound, bounds[p] / alignment * alignment) }
    var pieces = [(rows: RefinementGraph, changes: Int)?](repeating: nil, count: parts)
    pieces.withUnsafeMutableBufferPointer { p in
        let out = UncheckedSendable(value: p.baseAddress!)
        forEachBlock(parts, threads: threads) { b, _ in
            if bounds[b] < bounds[b + 1] { out.value[b] = block(bounds[b]..<bounds[b + 1]) }
        }
    }
    var blocks: [(firstRow: Int, block: RefinementGraph)] = []
    var changes = 0
    for (b, piece) in pieces.enumerated() {
        guard let piece else { continue }
        blocks.append((bounds[b] - rows.lowerBound, piece.rows))
        changes += piece.changes
    }
    return (RefinementGraph(rowBlocks: blocks, rows: rows.count, k: k), changes)
}
