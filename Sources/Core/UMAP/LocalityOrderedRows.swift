// The rows a neighbour search reads at random, held in locality order (neighbours near in memory) as
// Float16 or Float, with their projections on orthonormal axes: the projections' distance is a lower
// bound of the full one, which rules most candidates out at a fraction of the cost. Also the order
// itself and the renumbering of graphs between original rows and locality positions.

/// The rows of a data set in locality order (neighbours near each other in memory), as Float16 or
/// Float, for the refinement passes' random row reads. `order[p]` is the original row at position p;
/// `position[i]` the position of original row i. With `axes`, also the rows' projections on them
/// (orthonormal, e.g. principal axes): the distance between projections is a lower bound of the full
/// distance, which rules most candidates out at a fraction of the cost.
public struct LocalityOrderedRows: @unchecked Sendable {
    public let rows: Int
    public let dim: Int
    public let order: [Int32]
    public let position: [Int32]
    /// The rows (rows, dim) in locality order as Float16, or empty when stored as Float.
    public let half: [Float16]
    /// The rows (rows, dim) in locality order as Float, or empty when stored as Float16.
    public let single: [Float]
    /// Projections (rows, projectionDim) in locality order, or empty.
    public let projection: [Float]
    public let projectionDim: Int

    public var isHalfPrecision: Bool { !half.isEmpty }

    /// `projected`: the rows' projections on `axes` in original order, if already computed.
    init(data: UnsafePointer<Float>, rows: Int, dim: Int, order: [Int32], halfPrecision: Bool,
         axes: PrincipalComponents? = nil, projected known: [Float]? = nil, threads: Int = 1) {
        self.rows = rows
        self.dim = dim
        self.order = order
        var position = [Int32](repeating: 0, count: rows)
        for (p, i) in order.enumerated() { position[Int(i)] = Int32(p) }
        self.position = position
        if let axes {
            var projected = known ?? []
            if projected.isEmpty {
                projected = [Float](repeating: 0, count: rows * axes.count)
                projected.withUnsafeMutableBufferPointer { axes.project(data, rows: rows, into: $0.baseAddress!, threads: threads) }
            }
            var inOrder = [Float](repeating: 0, count: rows * axes.count)
            for p in 0..<rows {
                let i = Int(order[p])
                for d in 0..<axes.count { inOrder[p * axes.count + d] = projected[i * axes.count + d] }
            }
            projection = inOrder
            projectionDim = axes.count
        } else {
            projection = []
            projectionDim = 0
        }
        // Float16 only if every value fits (|x| < 65504); Glassbox activations and pixels do.
        var fits = halfPrecision
        if fits {
            for i in 0..<(rows * dim) where !(abs(data[i]) < 60_000) { fits = false; break }
        }
        if fits {
            var h = [Float16](repeating: 0, count: rows * dim)
            h.withUnsafeMutableBufferPointer { hp in
                for p in 0..<rows {
                    let src = data + Int(order[p]) * dim, dst = hp.baseAddress! + p * dim
                    for d in 0..<dim { dst[d] = Float16(src[d]) }
                }
            }
            half = h
            single = []
        } else {
            var s = [Float](repeating: 0, count: rows * dim)
            s.withUnsafeMutableBufferPointer { sp in
                for p in 0..<rows {
                    (sp.baseAddress! + p * dim).update(from: data + Int(order[p]) * dim, count: dim)
                }
            }
            half = []
            single = s
        }
    }

    /// Rows already in locality order (e.g. received by a worker), numbered by position: `order` is the
    /// identity. Exactly one of `half` and `single` holds the (rows, dim) values.
    public init(rows: Int, dim: Int, half: [Float16], single: [Float], projection: [Float], projectionDim: Int) {
        precondition((half.count == rows * dim && single.isEmpty) || (single.count == rows * dim && half.isEmpty))
        precondition(projection.count == rows * projectionDim)
        self.rows = rows
        self.dim = dim
        order = (0..<rows).map(Int32.init)
        position = order
        self.half = half
        self.single = single
        self.projection = projection
        self.projectionDim = projectionDim
    }

    /// Row p (locality order) as Float, into `out` (dim).
    @inline(__always)
    func load(_ p: Int, into out: UnsafeMutablePointer<Float>, _ store: RowStorage) {
        if let h = store.half {
            let src = h + p * dim
            for d in 0..<dim { out[d] = Float(src[d]) }
        } else {
            out.update(from: store.single! + p * dim, count: dim)
        }
    }

    func withStorage<R>(_ body: (RowStorage) -> R) -> R {
        projection.withUnsafeBufferPointer { pp in
            let bound = projectionDim > 0 ? pp.baseAddress : nil
            if isHalfPrecision {
                return half.withUnsafeBufferPointer {
                    body(RowStorage(half: $0.baseAddress!, single: nil, dim: dim, bound: bound, boundDim: projectionDim))
                }
            }
            return single.withUnsafeBufferPointer {
                body(RowStorage(half: nil, single: $0.baseAddress!, dim: dim, bound: bound, boundDim: projectionDim))
            }
        }
    }
}

/// Raw pointers to locality-ordered rows, for the hot loops.
struct RowStorage: @unchecked Sendable {
    let half: UnsafePointer<Float16>?
    let single: UnsafePointer<Float>?
    let dim: Int
    let bound: UnsafePointer<Float>?
    let boundDim: Int

    /// Squared distance between the projections of rows p and q: a lower bound of their squared
    /// distance (up to Float16 rounding of the stored rows).
    @inline(__always)
    func squaredLowerBound(_ p: Int, _ q: Int) -> Float {
        let a = bound! + p * boundDim, b = bound! + q * boundDim
        var acc = SIMD8<Float>()
        var d = 0
        while d + 8 <= boundDim {
            let e = UnsafeRawPointer(a + d).loadUnaligned(as: SIMD8<Float>.self) - UnsafeRawPointer(b + d).loadUnaligned(as: SIMD8<Float>.self)
            acc.addProduct(e, e)
            d += 8
        }
        var s = acc.sum()
        while d < boundDim { let e = a[d] - b[d]; s += e * e; d += 1 }
        return s
    }

    /// Squared Euclidean distance between the Float vector q (dim) and stored row p.
    @inline(__always)
    func squaredDistance(_ q: UnsafePointer<Float>, _ p: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var d = 0
        if let h = half {
            let row = UnsafeRawPointer(h + p * dim), qr = UnsafeRawPointer(q)
            while d + 16 <= dim {
                let x0 = SIMD8<Float>(row.loadUnaligned(fromByteOffset: 2 * d, as: SIMD8<Float16>.self))
                let x1 = SIMD8<Float>(row.loadUnaligned(fromByteOffset: 2 * d + 16, as: SIMD8<Float16>.self))
                let y0 = qr.loadUnaligned(fromByteOffset: 4 * d, as: SIMD8<Float>.self)
                let y1 = qr.loadUnaligned(fromByteOffset: 4 * d + 32, as: SIMD8<Float>.self)
                let e0 = x0 - y0, e1 = x1 - y1
                acc0.addProduct(e0, e0)
                acc1.addProduct(e1, e1)
                d += 16
            }
            var s = (acc0 + acc1).sum()
            while d < dim {
                let e = Float(h[p * dim + d]) - q[d]
                s += e * e
                d += 1
            }
            return s
        }
        let base = single! + p * dim
        let row = UnsafeRawPointer(base), qr = UnsafeRawPointer(q)
        while d + 16 <= dim {
            let x0 = row.loadUnaligned(fromByteOffset: 4 * d, as: SIMD8<Float>.self)
            let x1 = row.loadUnaligned(fromByteOffset: 4 * d + 32, as: SIMD8<Float>.self)
            let y0 = qr.loadUnaligned(fromByteOffset: 4 * d, as: SIMD8<Float>.self)
            let y1 = qr.loadUnaligned(fromByteOffset: 4 * d + 32, as: SIMD8<Float>.self)
            let e0 = x0 - y0, e1 = x1 - y1
            acc0.addProduct(e0, e0)
            acc1.addProduct(e1, e1)
            d += 16
        }
        var s = (acc0 + acc1).sum()
        while d < dim {
            let e = base[d] - q[d]
            s += e * e
            d += 1
        }
        return s
    }
}

/// A breadth-first order of a kNN graph's rows (nearest neighbours first): rows close in the graph
/// end up close in the order, so a pass over consecutive rows reads nearby memory.
public func localityOrder(_ graph: KNNGraph) -> [Int32] {
    let n = graph.rows, k = graph.k
    var order = [Int32]()
    order.reserveCapacity(n)
    var seen = [Bool](repeating: false, count: n)
    var head = 0
    for start in 0..<n where !seen[start] {
        seen[start] = true
        order.append(Int32(start))
        while head < order.count {
            let u = Int(order[head])
            head += 1
            for j in 0..<k {
                let v = Int(graph.indices[u * k + j])
                if v >= 0 && !seen[v] {
                    seen[v] = true
                    order.append(Int32(v))
                }
            }
        }
    }
    return order
}

/// Maps a graph in locality positions back to original row numbering.
func originalOrder(_ g: KNNGraph, data: LocalityOrderedRows) -> KNNGraph {
    renumbered(g, sourceRow: { Int(data.position[$0]) }, label: { data.order[Int($0)] })
}

/// Maps a graph in original numbering to locality positions.
func localityPositions(_ g: KNNGraph, data: LocalityOrderedRows) -> KNNGraph {
    renumbered(g, sourceRow: { Int(data.order[$0]) }, label: { data.position[Int($0)] })
}

/// Row r of the result is row `sourceRow(r)` of `g`, with every neighbour j written as `label(j)`
/// (missing neighbours, -1, stay missing).
private func renumbered(_ g: KNNGraph, sourceRow: (Int) -> Int, label: (Int32) -> Int32) -> KNNGraph {
    let n = g.rows, k = g.k
    var indices = [Int32](repeating: -1, count: n * k)
    var distances = [Float](repeating: .infinity, count: n * k)
    for r in 0..<n {
        let src = sourceRow(r)
        for s in 0..<k {
            let j = g.indices[src * k + s]
            indices[r * k + s] = j < 0 ? -1 : label(j)
            distances[r * k + s] = g.distances[src * k + s]
        }
    }
    return KNNGraph(rows: n, k: k, indices: indices, distances: distances)
}
