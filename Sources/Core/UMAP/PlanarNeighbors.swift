// Exact k nearest neighbours in the plane (the 2-D maps), through a uniform grid of the reference points:
// each query looks at the cells in growing square rings around its own and stops once no unseen cell can
// hold a point closer than its k-th. About a hundred distances per query instead of every reference (the
// blocked product of ExactNeighbors.swift does 60,000 per test point for the map's 10-NN accuracy).
//
// Distances are (dx² + dy²) in Float, ties go to the smaller reference index, so the result is one
// well-defined set for any grid and thread count. `planarNeighborsByScan` is the plain reference the
// tests hold it to. Non-finite coordinates take the scan, which gives such points no neighbours.

/// Exact k nearest references (rows of `references`, (referenceRows, 2)) of each query ((queryRows, 2)):
/// a (queryRows, k) graph, nearest first, -1 / infinity past the references' count.
public func planarNearestNeighbors(queries: [Float], references: [Float], k: Int,
                                   threads: Int = UMAPOptions.defaultThreads) -> KNNGraph {
    planarNeighbors(queries: queries, references: references, k: k, excludingSelf: false, threads: threads)
}

/// Exact k nearest neighbours of every row of `points` ((rows, 2)) among the others, each row itself
/// first (the convention of `exactNearestNeighbors(data:…)`): a (rows, k) graph.
public func planarNearestNeighbors(points: [Float], k: Int, threads: Int = UMAPOptions.defaultThreads) -> KNNGraph {
    planarNeighbors(queries: points, references: points, k: k, excludingSelf: true, threads: threads)
}

/// The reference: every reference against every query. Same result as the grid search.
func planarNeighborsByScan(queries: [Float], references: [Float], k: Int, excludingSelf: Bool) -> KNNGraph {
    let queryRows = queries.count / 2, referenceRows = references.count / 2
    var indices = [Int32](repeating: -1, count: queryRows * k)
    var distances = [Float](repeating: .infinity, count: queryRows * k)
    indices.withUnsafeMutableBufferPointer { ip in
        distances.withUnsafeMutableBufferPointer { dp in
            for q in 0..<queryRows {
                var best = PlanarTopK(k: excludingSelf ? k - 1 : k)
                for r in 0..<referenceRows where !(excludingSelf && r == q) {
                    best.offer(planarDistance(queries[2 * q], queries[2 * q + 1], references, r), Int32(r))
                }
                best.write(selfIndex: excludingSelf ? q : nil, k: k, indices: ip.baseAddress! + q * k,
                           distances: dp.baseAddress! + q * k)
            }
        }
    }
    return KNNGraph(rows: queryRows, k: k, indices: indices, distances: distances)
}

private func planarNeighbors(queries: [Float], references: [Float], k: Int, excludingSelf: Bool,
                             threads: Int) -> KNNGraph {
    precondition(queries.count % 2 == 0 && references.count % 2 == 0 && k >= 1)
    guard queries.allSatisfy(\.isFinite), references.allSatisfy(\.isFinite), !references.isEmpty else {
        return planarNeighborsByScan(queries: queries, references: references, k: k, excludingSelf: excludingSelf)
    }
    let grid = PlanarGrid(references)
    let queryRows = queries.count / 2
    var indices = [Int32](repeating: -1, count: queryRows * k)
    var distances = [Float](repeating: .infinity, count: queryRows * k)
    let blockRows = 512
    indices.withUnsafeMutableBufferPointer { ip in
        distances.withUnsafeMutableBufferPointer { dp in
            let out = UncheckedSendable(value: (ip, dp))
            forEachBlock((queryRows + blockRows - 1) / blockRows, threads: threads) { b, _ in
                for q in (b * blockRows)..<min(queryRows, (b + 1) * blockRows) {
                    let best = grid.search(queries[2 * q], queries[2 * q + 1], k: excludingSelf ? k - 1 : k,
                                           excluding: excludingSelf ? q : -1)
                    best.write(selfIndex: excludingSelf ? q : nil, k: k, indices: out.value.0.baseAddress! + q * k,
                               distances: out.value.1.baseAddress! + q * k)
                }
            }
        }
    }
    return KNNGraph(rows: queryRows, k: k, indices: indices, distances: distances)
}

/// The squared distance from (x, y) to point `j` of `points` ((rows, 2)): what both searches compare.
@inline(__always)
private func planarDistance(_ x: Float, _ y: Float, _ points: [Float], _ j: Int) -> Float {
    let dx = x - points[2 * j], dy = y - points[2 * j + 1]
    return dx * dx + dy * dy
}

/// The k smallest (squared distance, index) pairs offered, ties to the smaller index, kept sorted.
struct PlanarTopK {
    let k: Int
    private(set) var keys: [Float] = []
    private(set) var items: [Int32] = []

    init(k: Int) {
        self.k = k
        keys.reserveCapacity(k + 1)
        items.reserveCapacity(k + 1)
    }

    /// The k-th smallest key so far (infinity until k are held).
    var bound: Float { keys.count == k ? keys[k - 1] : .infinity }

    @inline(__always)
    mutating func offer(_ key: Float, _ item: Int32) {
        if k == 0 || key.isNaN { return }
        if keys.count == k {
            let last = keys[k - 1]
            if key > last || (key == last && item > items[k - 1]) { return }
        }
        var p = keys.count
        while p > 0 && (keys[p - 1] > key || (keys[p - 1] == key && items[p - 1] > item)) { p -= 1 }
        keys.insert(key, at: p)
        items.insert(item, at: p)
        if keys.count > k {
            keys.removeLast()
            items.removeLast()
        }
    }

    /// Writes one row of a graph with `k` columns at `indices`/`distances`: the point itself first when
    /// `selfIndex` is given, then the held pairs as distances, then -1 / infinity.
    func write(selfIndex: Int?, k: Int, indices: UnsafeMutablePointer<Int32>, distances: UnsafeMutablePointer<Float>) {
        var o = 0
        if let selfIndex {
            indices[0] = Int32(selfIndex)
            distances[0] = 0
            o = 1
        }
        for (key, item) in zip(keys, items) {
            indices[o] = item
            distances[o] = key.squareRoot()
            o += 1
        }
        while o < k {
            indices[o] = -1
            distances[o] = .infinity
            o += 1
        }
    }
}

/// The reference points bucketed into a square grid of about 4 points per cell, each cell's points in
/// index order.
private struct PlanarGrid {
    let x0: Float, y0: Float, cellSize: Float
    let columns: Int, rows: Int
    /// Points of cell c: order[start[c]..<start[c + 1]], cells row-major.
    let start: [Int]
    let order: [Int32]
    /// The points as given ((rows, 2)).
    let points: [Float]

    init(_ points: [Float]) {
        let n = points.count / 2
        var minX = Float.infinity, maxX = -Float.infinity, minY = Float.infinity, maxY = -Float.infinity
        for i in 0..<n {
            minX = min(minX, points[2 * i]); maxX = max(maxX, points[2 * i])
            minY = min(minY, points[2 * i + 1]); maxY = max(maxY, points[2 * i + 1])
        }
        let width = max(maxX - minX, maxY - minY, Float.leastNormalMagnitude)
        let side = max(1, min(2048, Int((Double(n) / 4).squareRoot().rounded(.up))))
        // A hair wider than the extent, so the maximum coordinate falls inside the last cell.
        cellSize = width / Float(side) * (1 + 1e-5)
        x0 = minX; y0 = minY
        columns = min(side, Int((maxX - minX) / cellSize) + 1)
        rows = min(side, Int((maxY - minY) / cellSize) + 1)
        self.points = points
        var counts = [Int](repeating: 0, count: columns * rows + 1)
        var cellOf = [Int](repeating: 0, count: n)
        for i in 0..<n {
            let cx = min(columns - 1, Int((points[2 * i] - minX) / cellSize))
            let cy = min(rows - 1, Int((points[2 * i + 1] - minY) / cellSize))
            cellOf[i] = cy * columns + cx
            counts[cellOf[i] + 1] += 1
        }
        for c in 0..<(columns * rows) { counts[c + 1] += counts[c] }
        start = counts
        var fill = counts
        var order = [Int32](repeating: 0, count: n)
        for i in 0..<n {
            order[fill[cellOf[i]]] = Int32(i)
            fill[cellOf[i]] += 1
        }
        self.order = order
    }

    /// The k nearest points to (x, y), `excluding` one index (or -1).
    func search(_ x: Float, _ y: Float, k: Int, excluding: Int) -> PlanarTopK {
        var best = PlanarTopK(k: k)
        if k == 0 { return best }
        let fx = (x - x0) / cellSize, fy = (y - y0) / cellSize
        let cx = min(columns - 1, max(0, Int(fx.rounded(.down)))), cy = min(rows - 1, max(0, Int(fy.rounded(.down))))
        func visit(_ cell: Int) {
            for p in start[cell]..<start[cell + 1] {
                let i = Int(order[p])
                if i == excluding { continue }
                best.offer(planarDistance(x, y, points, i), Int32(i))
            }
        }
        // What rounding can move a point across a cell edge, in coordinate units.
        let slack = (abs(x0) + abs(y0) + abs(x) + abs(y) + cellSize * Float(max(columns, rows))) * 8 * .ulpOfOne
        var ring = 0
        while true {
            let left = cx - ring, right = cx + ring, bottom = cy - ring, top = cy + ring
            for gy in max(0, bottom)...min(rows - 1, top) {
                if gy == bottom || gy == top {
                    for gx in max(0, left)...min(columns - 1, right) { visit(gy * columns + gx) }
                } else {
                    // Between the ring's first and last rows only its two side cells are new.
                    if left >= 0 { visit(gy * columns + left) }
                    if right < columns && right != left { visit(gy * columns + right) }
                }
            }
            if left <= 0 && bottom <= 0 && right >= columns - 1 && top >= rows - 1 { return best }
            // Any point outside the square of cells seen is at least this far from (x, y) on one axis.
            var gap = Float.infinity
            if left > 0 { gap = min(gap, x - (x0 + Float(left) * cellSize)) }
            if right < columns - 1 { gap = min(gap, x0 + Float(right + 1) * cellSize - x) }
            if bottom > 0 { gap = min(gap, y - (y0 + Float(bottom) * cellSize)) }
            if top < rows - 1 { gap = min(gap, y0 + Float(top + 1) * cellSize - y) }
            // Strictly closer than anything unseen (with a margin for the rounding of the cell edges and
            // of the distances): a tie outside could have a smaller index.
            let margin = gap * (1 - 1e-4) - slack
            if margin > 0 && best.bound < margin * margin { return best }
            ring += 1
        }
    }
}
