// The fuzzy simplicial set: the directed membership graph A (rows, k weights) combined with its
// transpose by the fuzzy union  P = A + Aᵀ - A∘Aᵀ  (set_op_mix_ratio 1; in general
// mix·(A + Aᵀ - A∘Aᵀ) + (1 - mix)·A∘Aᵀ), zeros dropped: umap-learn's `fuzzy_simplicial_set`.

/// A sparse weighted graph in CSR form, rows sorted by column: row i's edges are
/// `columns[rowStart[i]..<rowStart[i + 1]]` with `weights` alongside.
public struct FuzzyGraph: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    public var rowStart: [Int]
    public var targets: [Int32]
    public var weights: [Float]

    public init(rows: Int, columns: Int, rowStart: [Int], targets: [Int32], weights: [Float]) {
        precondition(rowStart.count == rows + 1 && targets.count == weights.count)
        self.rows = rows
        self.columns = columns
        self.rowStart = rowStart
        self.targets = targets
        self.weights = weights
    }

    public var edgeCount: Int { targets.count }

    /// The weight of edge (i, j), 0 if absent.
    public func weight(_ i: Int, _ j: Int) -> Float {
        for e in rowStart[i]..<rowStart[i + 1] where Int(targets[e]) == j { return weights[e] }
        return 0
    }

    /// The graph with the edges whose weight fails `keep` removed.
    public func filtered(_ keep: (Float) -> Bool) -> FuzzyGraph {
        var start = [Int](repeating: 0, count: rows + 1)
        var t = [Int32](), w = [Float]()
        t.reserveCapacity(edgeCount)
        w.reserveCapacity(edgeCount)
        for i in 0..<rows {
            for e in rowStart[i]..<rowStart[i + 1] where keep(weights[e]) {
                t.append(targets[e])
                w.append(weights[e])
            }
            start[i + 1] = t.count
        }
        return FuzzyGraph(rows: rows, columns: columns, rowStart: start, targets: t, weights: w)
    }
}

/// The directed membership graph as CSR (rows sorted by target, zero weights dropped).
public func directedMembershipGraph(_ knn: KNNGraph, strengths: [Float], columns: Int? = nil) -> FuzzyGraph {
    let n = knn.rows, k = knn.k
    var start = [Int](repeating: 0, count: n + 1)
    var targets = [Int32](), weights = [Float]()
    targets.reserveCapacity(n * k)
    weights.reserveCapacity(n * k)
    var row = [(Int32, Float)]()
    for i in 0..<n {
        row.removeAll(keepingCapacity: true)
        for j in 0..<k {
            let idx = knn.indices[i * k + j], w = strengths[i * k + j]
            if idx >= 0 && w != 0 { row.append((idx, w)) }
        }
        row.sort { $0.0 < $1.0 }
        // A duplicate neighbour (possible only in a malformed graph) is summed, as scipy's COO does.
        var last: Int32 = -1
        for (idx, w) in row {
            if idx == last { weights[weights.count - 1] += w; continue }
            targets.append(idx)
            weights.append(w)
            last = idx
        }
        start[i + 1] = targets.count
    }
    return FuzzyGraph(rows: n, columns: columns ?? n, rowStart: start, targets: targets, weights: weights)
}

/// The transpose of a CSR graph (rows of the result sorted by target).
public func transposed(_ g: FuzzyGraph) -> FuzzyGraph {
    var start = [Int](repeating: 0, count: g.columns + 1)
    for t in g.targets { start[Int(t) + 1] += 1 }
    for i in 0..<g.columns { start[i + 1] += start[i] }
    var fill = Array(start[0..<g.columns])
    var targets = [Int32](repeating: 0, count: g.edgeCount)
    var weights = [Float](repeating: 0, count: g.edgeCount)
    for i in 0..<g.rows {
        for e in g.rowStart[i]..<g.rowStart[i + 1] {
            let c = Int(g.targets[e])
            targets[fill[c]] = Int32(i)
            weights[fill[c]] = g.weights[e]
            fill[c] += 1
        }
    }
    return FuzzyGraph(rows: g.columns, columns: g.rows, rowStart: start, targets: targets, weights: weights)
}

/// The fuzzy union of the kNN membership graph with its transpose (see the file comment).
public func fuzzySimplicialSet(_ knn: KNNGraph, strengths: [Float], setOpMixRatio: Float = 1) -> FuzzyGraph {
    let a = directedMembershipGraph(knn, strengths: strengths)
    let at = transposed(a)
    let n = a.rows
    var start = [Int](repeating: 0, count: n + 1)
    var targets = [Int32](), weights = [Float]()
    targets.reserveCapacity(a.edgeCount * 2)
    weights.reserveCapacity(a.edgeCount * 2)
    let mix = setOpMixRatio
    for i in 0..<n {
        var p = a.rowStart[i], q = at.rowStart[i]
        let pEnd = a.rowStart[i + 1], qEnd = at.rowStart[i + 1]
        while p < pEnd || q < qEnd {
            let cp = p < pEnd ? a.targets[p] : Int32.max
            let cq = q < qEnd ? at.targets[q] : Int32.max
            var x: Float = 0, y: Float = 0
            let c: Int32
            if cp == cq { x = a.weights[p]; y = at.weights[q]; c = cp; p += 1; q += 1 }
            else if cp < cq { x = a.weights[p]; c = cp; p += 1 }
            else { y = at.weights[q]; c = cq; q += 1 }
            let product = x * y
            let w = mix * (x + y - product) + (1 - mix) * product
            if w != 0 {
                targets.append(c)
                weights.append(w)
            }
        }
        start[i + 1] = targets.count
    }
    return FuzzyGraph(rows: n, columns: n, rowStart: start, targets: targets, weights: weights)
}
