// Neighbours-of-neighbours refinement of a kNN graph, in the full dimension (NN-descent's local
// join, done from each row's side so rows are independent): a row's candidates are the neighbours of
// its nearest neighbours and the rows that point at it; a candidate replaces the row's worst
// neighbour if nearer. Passes are Jacobi-style (read the current graph, write the next), so row
// blocks can run on any thread or worker with one barrier per pass. Only pairs involving an entry
// that is new since the last pass are compared again.
//
// Rows are read from `LocalityOrderedRows` (LocalityOrderedRows.swift).

/// Neighbour lists in refinement form: graph in locality positions, plus which entries are new since
/// the previous pass (only pairs involving a new entry are compared again).
public struct RefinementGraph: Sendable, Equatable {
    public var graph: KNNGraph
    public var isNew: [Bool]

    public init(graph: KNNGraph, isNew: [Bool]) {
        precondition(isNew.count == graph.indices.count)
        self.graph = graph
        self.isNew = isNew
    }

    /// The graph of all rows from row blocks `(firstRow, rows firstRow ..< firstRow + block.graph.rows)` that
    /// together cover `0 ..< rows` exactly once, in any order.
    public init(rowBlocks: [(firstRow: Int, block: RefinementGraph)], rows: Int, k: Int) {
        var indices = [Int32](repeating: -1, count: rows * k)
        var distances = [Float](repeating: .infinity, count: rows * k)
        var isNew = [Bool](repeating: false, count: rows * k)
        var covered = 0
        for (firstRow, block) in rowBlocks {
            precondition(block.graph.k == k && firstRow >= 0 && firstRow + block.graph.rows <= rows,
                         "row block \(firstRow) + \(block.graph.rows) x \(block.graph.k) does not fit \(rows) x \(k)")
            let at = (firstRow * k)..<((firstRow + block.graph.rows) * k)
            indices.replaceSubrange(at, with: block.graph.indices)
            distances.replaceSubrange(at, with: block.graph.distances)
            isNew.replaceSubrange(at, with: block.isNew)
            covered += block.graph.rows
        }
        precondition(covered == rows, "row blocks cover \(covered) of \(rows) rows")
        self.init(graph: KNNGraph(rows: rows, k: k, indices: indices, distances: distances), isNew: isNew)
    }
}

struct RefinementPointers: @unchecked Sendable {
    let k: Int
    let indices: UnsafeMutablePointer<Int32>
    let distances: UnsafeMutablePointer<Float>
    let isNew: UnsafeMutablePointer<Bool>
}

/// The entries pointing at each row, restricted to new entries and at most `cap` per row
/// (CSR: `items[start[i]..<start[i + 1]]` are rows r with i among r's new neighbours).
public struct ReverseNeighbors: Sendable {
    public let start: [Int32]
    public let items: [Int32]

    public init(_ g: RefinementGraph, cap: Int) {
        let n = g.graph.rows, k = g.graph.k
        var count = [Int32](repeating: 0, count: n + 1)
        for i in 0..<n {
            for j in 1..<k where g.isNew[i * k + j] {
                let l = Int(g.graph.indices[i * k + j])
                if l >= 0 && count[l + 1] < cap { count[l + 1] += 1 }
            }
        }
        for i in 0..<n { count[i + 1] += count[i] }
        var fill = Array(count[0..<n])
        var items = [Int32](repeating: 0, count: Int(count[n]))
        for i in 0..<n {
            for j in 1..<k where g.isNew[i * k + j] {
                let l = Int(g.graph.indices[i * k + j])
                if l >= 0 && fill[l] < count[l + 1] {
                    items[Int(fill[l])] = Int32(i)
                    fill[l] += 1
                }
            }
        }
        start = count
        self.items = items
    }
}

/// One neighbours-of-neighbours pass for the rows `rows` of `current` (all in locality positions):
/// each row's candidates are the neighbours of its `expansion` nearest neighbours and the rows that
/// newly point at it (`reverse`, of `current`); candidates are compared in the full dimension and the
/// row's k best kept. Pure: reads `current`, `reverse` and `data`. Returns the rows' next lists
/// (rows.count x k) and the number of entries that changed.
public func refineNeighborRowBlock(
    _ rows: Range<Int>, current: RefinementGraph, reverse: ReverseNeighbors, data: LocalityOrderedRows, expansion: Int
) -> (rows: RefinementGraph, changes: Int) {
    let k = current.graph.k, first = rows.lowerBound
    precondition(first >= 0 && rows.upperBound <= current.graph.rows)
    var indices = [Int32](repeating: -1, count: rows.count * k)
    var distances = [Float](repeating: .infinity, count: rows.count * k)
    var isNew = [Bool](repeating: false, count: rows.count * k)
    let scratch = RefinementScratch(rows: current.graph.rows, dim: data.dim)
    defer { scratch.deallocate() }
    let changes = current.graph.indices.withUnsafeBufferPointer { ci in
        current.graph.distances.withUnsafeBufferPointer { cd in
            current.isNew.withUnsafeBufferPointer { cn in
                indices.withUnsafeMutableBufferPointer { ni in
                    distances.withUnsafeMutableBufferPointer { nd in
                        isNew.withUnsafeMutableBufferPointer { nn in
                            reverse.start.withUnsafeBufferPointer { rs in
                                reverse.items.withUnsafeBufferPointer { ri in
                                    data.withStorage { store in
                                        // Read-only views of `current`; `next` is addressed by absolute row.
                                        let cur = RefinementPointers(
                                            k: k, indices: UnsafeMutablePointer(mutating: ci.baseAddress!),
                                            distances: UnsafeMutablePointer(mutating: cd.baseAddress!),
                                            isNew: UnsafeMutablePointer(mutating: cn.baseAddress!))
                                        let next = RefinementPointers(
                                            k: k, indices: ni.baseAddress! - first * k, distances: nd.baseAddress! - first * k,
                                            isNew: nn.baseAddress! - first * k)
                                        return refineNeighborRows(rows, current: cur, reverseStart: rs.baseAddress!,
                                                                  reverseItems: ri.baseAddress!, store: store, data: data,
                                                                  expansion: expansion, next: next, scratch: scratch)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return (RefinementGraph(graph: KNNGraph(rows: rows.count, k: k, indices: indices, distances: distances), isNew: isNew),
            changes)
}

/// Per-thread buffers of a refinement pass.
struct RefinementScratch: @unchecked Sendable {
    /// stamps[c] == i: candidate c was already seen for row i.
    let stamps: UnsafeMutablePointer<Int32>
    let query: UnsafeMutablePointer<Float>

    init(rows: Int, dim: Int) {
        stamps = .allocate(capacity: rows)
        stamps.initialize(repeating: -1, count: rows)
        query = .allocate(capacity: dim)
    }

    func deallocate() {
        stamps.deallocate()
        query.deallocate()
    }
}

func refineNeighborRows(
    _ rows: Range<Int>, current: RefinementPointers, reverseStart: UnsafePointer<Int32>,
    reverseItems: UnsafePointer<Int32>, store: RowStorage, data: LocalityOrderedRows, expansion: Int,
    next: RefinementPointers, scratch: RefinementScratch
) -> Int {
    let k = current.k
    let indices = current.indices, distances = current.distances, isNew = current.isNew
    let stamps = scratch.stamps, query = scratch.query
    var changes = 0
    let expand = min(expansion, k - 1)
    for i in rows {
        let row = i * k
        let li = next.indices + row, ld = next.distances + row, ln = next.isNew + row
        // The row's list as it stands: self at 0, then ascending, all old.
        for s in 0..<k {
            li[s] = indices[row + s]
            ld[s] = distances[row + s]
            ln[s] = false
            if li[s] >= 0 { stamps[Int(li[s])] = Int32(i) }
        }
        stamps[i] = Int32(i)
        data.load(i, into: query, store)
        var worst = ld[k - 1]

        @inline(__always) func consider(_ c: Int) {
            stamps[c] = Int32(i)
            // The projections' distance bounds the full one from below (0.1% slack for Float16).
            if store.bound != nil && store.squaredLowerBound(i, c) * 0.999 >= worst * worst { return }
            let d = store.squaredDistance(query, c).squareRoot()
            if d < worst {
                var s = k - 1
                while s > 1 && ld[s - 1] > d {
                    li[s] = li[s - 1]
                    ld[s] = ld[s - 1]
                    ln[s] = ln[s - 1]
                    s -= 1
                }
                li[s] = Int32(c)
                ld[s] = d
                ln[s] = true
                worst = ld[k - 1]
                changes += 1
            }
        }

        // Neighbours of the nearest neighbours (a pair is compared again only if an entry is new).
        if expand > 0 {
            for s in 1...expand {
                let j = Int(indices[row + s])
                if j < 0 { continue }
                let jNew = isNew[row + s]
                let jrow = j * k
                for t in 1..<k {
                    let c = Int(indices[jrow + t])
                    if c < 0 || stamps[c] == Int32(i) { continue }
                    if !(jNew || isNew[jrow + t]) { continue }
                    consider(c)
                }
            }
        }
        // Rows that newly found this one.
        for r in Int(reverseStart[i])..<Int(reverseStart[i + 1]) {
            let c = Int(reverseItems[r])
            if stamps[c] != Int32(i) { consider(c) }
        }
    }
    return changes
}

/// The start of refinement for the rows `rows` (locality positions): `neighbors` holds their input
/// neighbours (rows.count x inputK, locality positions; -1 for none), re-measured in the full
/// dimension; each row sorted (ties by index), cut to its `keep` nearest, itself first, all entries new.
public func graphStartRows(
    _ rows: Range<Int>, neighbors: ArraySlice<Int32>, inputK kIn: Int, data: LocalityOrderedRows, keep k: Int
) -> RefinementGraph {
    precondition(neighbors.count == rows.count * kIn && rows.upperBound <= data.rows)
    var indices = [Int32](repeating: -1, count: rows.count * k)
    var distances = [Float](repeating: .infinity, count: rows.count * k)
    let query = UnsafeMutablePointer<Float>.allocate(capacity: data.dim)
    defer { query.deallocate() }
    var entries = [(Float, Int32)]()
    entries.reserveCapacity(kIn)
    data.withStorage { store in
        neighbors.withUnsafeBufferPointer { gi in
            for (r, i) in rows.enumerated() {
                data.load(i, into: query, store)
                entries.removeAll(keepingCapacity: true)
                for s in 0..<kIn {
                    let j = gi[r * kIn + s]
                    if j < 0 || Int(j) == i || entries.contains(where: { $0.1 == j }) { continue }
                    entries.append((store.squaredDistance(query, Int(j)).squareRoot(), j))
                }
                entries.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
                indices[r * k] = Int32(i)
                distances[r * k] = 0
                for s in 1..<k where s - 1 < entries.count {
                    indices[r * k + s] = entries[s - 1].1
                    distances[r * k + s] = entries[s - 1].0
                }
            }
        }
    }
    return RefinementGraph(graph: KNNGraph(rows: rows.count, k: k, indices: indices, distances: distances),
                           isNew: [Bool](repeating: true, count: rows.count * k))
}

/// The fresh start of refinement for the rows `rows` (locality positions): each row's `candidates`
/// nearest projections among the rows of its `probes` nearest cells, then `graphStartRows` of them.
/// The same bits as a search of all rows when `rows.lowerBound` is a multiple of `cellSearchBlockRows`.
public func cellStartRows(
    _ rows: Range<Int>, cells: CellIndex, data: LocalityOrderedRows, probes: Int, candidates: Int, keep k: Int
) -> RefinementGraph {
    precondition(data.projectionDim == cells.dim && rows.upperBound <= data.rows)
    let found = data.projection.withUnsafeBufferPointer { pp in
        cells.search(pp.baseAddress! + rows.lowerBound * cells.dim, queryRows: rows.count, probes: probes, k: candidates,
                     selfPositions: rows.lowerBound, threads: 1)
    }
    return graphStartRows(rows, neighbors: found.indices[...], inputK: candidates, data: data, keep: k)
}

/// Runs refinement passes from `start` on `stages` (one barrier per pass), stopping early once a pass
/// changes fewer than `convergence` of the entries.
func refine<Stages: NeighborSearchStages>(
    _ start: RefinementGraph, passes: Int, expansion: Int, convergence: Double, stages: Stages
) throws(Stages.Failure) -> RefinementGraph {
    var current = start
    let entries = current.graph.rows * current.graph.k
    for _ in 0..<passes {
        let (next, changes) = try stages.refinementPass(current, expansion: expansion)
        current = next
        if Double(changes) < convergence * Double(entries) { break }
    }
    return current
}

/// A graph cut or padded to k neighbours per row.
func resized(_ g: KNNGraph, k: Int) -> KNNGraph {
    var indices = [Int32](repeating: -1, count: g.rows * k)
    var distances = [Float](repeating: .infinity, count: g.rows * k)
    for i in 0..<g.rows {
        for s in 0..<min(k, g.k) {
            indices[i * k + s] = g.indices[i * g.k + s]
            distances[i * k + s] = g.distances[i * g.k + s]
        }
    }
    return KNNGraph(rows: g.rows, k: k, indices: indices, distances: distances)
}
