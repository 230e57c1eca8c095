import Core
import Protocol

/// A worker's share of the coordinator's UMAP neighbour search (see docs/DISTRIBUTED.md, "UMAP neighbour
/// search on the workers"): holds one search's rows (locality order, with their projections), its cells
/// and the graph the current refinement pass reads, all uploaded by the coordinator; computes starts and
/// refinement passes for blocks of query rows with the same Core functions as an in-process search.
///
/// A request this worker cannot answer from what it holds (a search or pass it did not receive in full,
/// e.g. because it joined after the upload) is answered `missingState`, and the coordinator uploads again.
/// Requests that contradict themselves or the search held are errors. A block is split over the worker's
/// threads (one part each: the coordinator's blocks are already small).
struct UMAPRowWorker {
    let threads: Int
    private var search: UInt64 = 0
    private var upload: MatrixUpload?
    private var data: LocalityOrderedRows?
    private var cells: CellIndex?
    private var graphUpload: GraphUpload?
    /// The graph of refinement pass `pass`, complete, and its reverse neighbours.
    private var pass: (number: UInt32, graph: RefinementGraph, reverse: ReverseNeighbors)?

    init(threads: Int) { self.threads = threads }

    /// The reply to `request`, or why the request cannot be carried out.
    mutating func handle(_ request: UMAPRequest) -> Result<UMAPReply, UMAPRowError> {
        let cpu = processCPUSeconds()
        var result = answer(request)
        if case .success(var reply) = result {
            reply.cpuSeconds = processCPUSeconds() - cpu
            result = .success(reply)
        }
        return result
    }

    private mutating func answer(_ request: UMAPRequest) -> Result<UMAPReply, UMAPRowError> {
        switch request {
        case .matrix(let chunk): return store(chunk)
        case .cells(let c):
            guard c.search == search, let data, Int(c.cellStart.last!) == data.rows, Int(c.dimension) == data.projectionDim else {
                return .success(UMAPReply(search: c.search, status: .missingState))
            }
            cells = data.projection.withUnsafeBufferPointer {
                CellIndex(points: $0.baseAddress!, dim: Int(c.dimension), cellStart: c.cellStart.map(Int.init),
                          centroids: c.centroids)
            }
            return .success(UMAPReply(search: c.search, status: .done))
        case .graph(let chunk): return store(chunk)
        case .work(let work): return compute(work)
        }
    }

    /// Rows of a matrix; the chunk at row 0 starts a new search.
    private mutating func store(_ chunk: NeighbourMatrixRows) -> Result<UMAPReply, UMAPRowError> {
        if chunk.firstRow == 0 {
            search = chunk.search
            upload = MatrixUpload(chunk)
            data = nil
            cells = nil
            graphUpload = nil
            pass = nil
        } else if chunk.search == search, var u = upload, u.accepts(chunk) {
            upload = nil  // no copy on append
            u.append(chunk)
            upload = u
        } else {
            upload = nil  // a chunk of a search whose start this worker missed
            return .success(UMAPReply(search: chunk.search, status: .missingState))
        }
        if let u = upload, u.rowsHeld == u.totalRows {
            data = u.rows()
            upload = nil
        }
        return .success(UMAPReply(search: chunk.search, status: .done))
    }

    /// Rows of the graph a refinement pass reads; the chunk at row 0 starts the pass.
    private mutating func store(_ chunk: NeighbourGraphChunk) -> Result<UMAPReply, UMAPRowError> {
        guard chunk.search == search, let data, Int(chunk.totalRows) == data.rows else {
            return .success(UMAPReply(search: chunk.search, status: .missingState))
        }
        if chunk.rows.firstRow == 0 {
            graphUpload = GraphUpload(pass: chunk.pass, rows: data.rows, k: Int(chunk.rows.k))
        }
        guard var g = graphUpload, g.pass == chunk.pass, g.accepts(chunk.rows) else {
            graphUpload = nil
            return .success(UMAPReply(search: chunk.search, status: .missingState))
        }
        graphUpload = nil
        g.append(chunk.rows)
        if g.rowsHeld == data.rows {
            let graph = g.graph()
            pass = (g.pass, graph, ReverseNeighbors(graph, cap: graph.graph.k))
        } else {
            graphUpload = g
        }
        return .success(UMAPReply(search: chunk.search, status: .done))
    }

    private func compute(_ work: NeighbourWork) -> Result<UMAPReply, UMAPRowError> {
        let missing = UMAPReply(search: work.search, status: .missingState)
        guard work.search == search, let data else { return .success(missing) }
        let rows = Int(work.firstRow)..<(Int(work.firstRow) + Int(work.rowCount))
        let k = Int(work.k)
        guard rows.upperBound <= data.rows, k <= data.rows else {
            return .failure(UMAPRowError("rows \(rows) with k \(k) of a search of \(data.rows) rows"))
        }
        let computed: (graph: RefinementGraph, changes: Int)
        switch work.stage {
        case .cellStart:
            guard let cells else { return .success(missing) }
            guard work.probes >= 1, Int(work.candidates) >= k, Int(work.candidates) <= data.rows else {
                return .failure(UMAPRowError("cell start with \(work.probes) probes and \(work.candidates) candidates for k \(k)"))
            }
            computed = rowBlocksOnThreads(rows, k: k, threads: threads, blocksPerThread: 1, alignment: cellSearchBlockRows) { part in
                (cellStartRows(part, cells: cells, data: data, probes: Int(work.probes), candidates: Int(work.candidates),
                               keep: k), 0)
            }
        case .graphStart:
            let inputK = work.neighbours.count / rows.count
            guard work.neighbours.allSatisfy({ $0 >= -1 && Int($0) < data.rows }) else {
                return .failure(UMAPRowError("graph start with neighbours outside the \(data.rows) rows"))
            }
            computed = rowBlocksOnThreads(rows, k: k, threads: threads, blocksPerThread: 1) { part in
                let at = ((part.lowerBound - rows.lowerBound) * inputK)..<((part.upperBound - rows.lowerBound) * inputK)
                return (graphStartRows(part, neighbors: work.neighbours[at], inputK: inputK, data: data, keep: k), 0)
            }
        case .refine:
            guard let pass, pass.number == work.pass else { return .success(missing) }
            guard pass.graph.graph.k == k else {
                return .failure(UMAPRowError("refinement with k \(k) of a graph of k \(pass.graph.graph.k)"))
            }
            computed = rowBlocksOnThreads(rows, k: k, threads: threads, blocksPerThread: 1) { part in
                refineNeighborRowBlock(part, current: pass.graph, reverse: pass.reverse, data: data,
                                       expansion: Int(work.expansion))
            }
        }
        let g = computed.graph
        return .success(UMAPReply(
            search: work.search, status: .done,
            rows: NeighbourGraphRows(firstRow: work.firstRow, k: work.k, indices: g.graph.indices,
                                     distances: g.graph.distances, isNew: g.isNew.map { $0 ? 1 : 0 }),
            changes: UInt64(computed.changes)))
    }
}

/// A search's matrix as its chunks arrive.
private struct MatrixUpload {
    let totalRows: Int
    let dim: Int
    let projectionDim: Int
    var rowsHeld = 0
    var half: [Float16] = []
    var single: [Float] = []
    var projection: [Float] = []

    init(_ first: NeighbourMatrixRows) {
        totalRows = Int(first.totalRows)
        dim = Int(first.dimension)
        projectionDim = Int(first.projectionDimension)
        append(first)
    }

    func accepts(_ chunk: NeighbourMatrixRows) -> Bool {
        Int(chunk.firstRow) == rowsHeld && Int(chunk.totalRows) == totalRows && Int(chunk.dimension) == dim
            && Int(chunk.projectionDimension) == projectionDim && chunk.half.isEmpty == half.isEmpty
    }

    mutating func append(_ chunk: NeighbourMatrixRows) {
        half += chunk.half.map { Float16(bitPattern: $0) }
        single += chunk.single
        projection += chunk.projection
        rowsHeld += chunk.rowCount
    }

    func rows() -> LocalityOrderedRows {
        LocalityOrderedRows(rows: totalRows, dim: dim, half: half, single: single, projection: projection,
                            projectionDim: projectionDim)
    }
}

/// A refinement pass's graph as its chunks arrive.
private struct GraphUpload {
    let pass: UInt32
    let rows: Int
    let k: Int
    var rowsHeld = 0
    var indices: [Int32] = []
    var distances: [Float] = []
    var isNew: [Bool] = []

    init(pass: UInt32, rows: Int, k: Int) {
        self.pass = pass
        self.rows = rows
        self.k = k
        indices.reserveCapacity(rows * k)
        distances.reserveCapacity(rows * k)
        isNew.reserveCapacity(rows * k)
    }

    func accepts(_ chunk: NeighbourGraphRows) -> Bool {
        Int(chunk.firstRow) == rowsHeld && Int(chunk.k) == k && rowsHeld + chunk.rowCount <= rows
            && chunk.indices.allSatisfy { $0 >= -1 && Int($0) < rows }
    }

    mutating func append(_ chunk: NeighbourGraphRows) {
        indices += chunk.indices
        distances += chunk.distances
        isNew += chunk.isNew.map { $0 == 1 }
        rowsHeld += chunk.rowCount
    }

    func graph() -> RefinementGraph {
        RefinementGraph(graph: KNNGraph(rows: rows, k: k, indices: indices, distances: distances), isNew: isNew)
    }
}

/// Why a UMAP request cannot be carried out.
struct UMAPRowError: Error {
    let text: String
    init(_ text: String) { self.text = text }
}
