import Core
import Protocol

/// The per-row stages of the approximate UMAP neighbour search on the workers (`--umap-neighbors workers`).
///
/// The coordinator runs the search (`approximateNearestNeighbors(...stages:)`): PCA, k-means cells and the
/// locality order here; every ready worker receives the search's rows (locality order, Float16, with their
/// projections) once, the cells for a fresh start, and before each refinement pass the graph that pass
/// reads; blocks of query rows then go to workers as they become free, and the coordinator merges the
/// blocks' rows. Each row is computed by the same Core function from the same inputs as in-process, so the
/// merged graph is the in-process one bit for bit. Units the workers answer `missingState` (a worker that
/// joined after an upload) are asked again after a fresh upload, up to 3 times.
public final class ClusterNeighborStages: NeighborSearchStages {
    public typealias Failure = any Error
    /// Rows per upload message (16 MiB of Float16 at 512 wide).
    static let uploadRows = 16_384
    /// Query rows per unit of work: a multiple of `cellSearchBlockRows`, so cell starts match in-process bits.
    static let unitRows = 4 * cellSearchBlockRows

    private let cluster: ClusterBackend
    private var search: UInt64 = 0
    private var data: LocalityOrderedRows?
    private var cells: CellIndex?
    private var pass: UInt32 = 0
    private var passGraph: RefinementGraph?
    /// CPU seconds each worker reported for its UMAP requests, all searches together.
    public private(set) var cpuSecondsByWorker: [String: Double] = [:]
    /// CPU seconds of all workers together.
    var workerCPUSeconds: Double { cpuSecondsByWorker.values.reduce(0, +) }

    /// Runs the per-row stages on `cluster`'s workers.
    public init(cluster: ClusterBackend) { self.cluster = cluster }

    public func load(_ rows: LocalityOrderedRows) throws {
        search += 1
        data = rows
        cells = nil
        passGraph = nil
        let t0 = now()
        try uploadRows()
        cluster.log("UMAP neighbours on the workers: \(rows.rows) x \(rows.dim) rows sent in \(fmt(now() - t0, 2)) s", .debug)
    }

    public func cellStart(_ cells: CellIndex, probes: Int, candidates: Int, keep k: Int) throws -> RefinementGraph {
        self.cells = cells
        try uploadCells()
        let search = self.search
        return try runUnits("cell start", k: k, reupload: { try uploadRows(); try uploadCells() }) { rows in
            NeighbourWork(stage: .cellStart, search: search, firstRow: UInt32(rows.lowerBound), rowCount: UInt32(rows.count),
                          k: UInt32(k), probes: UInt32(probes), candidates: UInt32(candidates))
        }.graph
    }

    public func graphStart(_ graph: KNNGraph, keep k: Int) throws -> RefinementGraph {
        let search = self.search
        return try runUnits("graph start", k: k, reupload: uploadRows) { rows in
            NeighbourWork(stage: .graphStart, search: search, firstRow: UInt32(rows.lowerBound), rowCount: UInt32(rows.count),
                          k: UInt32(k), neighbours: Array(graph.indices[(rows.lowerBound * graph.k)..<(rows.upperBound * graph.k)]))
        }.graph
    }

    public func refinementPass(_ current: RefinementGraph, expansion: Int) throws -> (next: RefinementGraph, changes: Int) {
        pass += 1
        passGraph = current
        let t0 = now()
        try uploadGraph()
        cluster.log("UMAP neighbours on the workers: graph of pass \(pass) sent in \(fmt(now() - t0, 2)) s", .debug)
        let k = current.graph.k
        let (search, pass) = (self.search, self.pass)
        let (next, changes) = try runUnits("refinement pass \(pass)", k: k, reupload: { try uploadRows(); try uploadGraph() }) {
            rows in
            NeighbourWork(stage: .refine, search: search, pass: pass, firstRow: UInt32(rows.lowerBound),
                          rowCount: UInt32(rows.count), k: UInt32(k), expansion: UInt32(expansion))
        }
        return (next, changes)
    }

    // MARK: uploads (every ready worker, one message per chunk)

    private func uploadRows() throws {
        let data = data!
        let dim = data.dim, pdim = data.projectionDim
        for first in stride(from: 0, to: data.rows, by: Self.uploadRows) {
            let rows = first..<min(data.rows, first + Self.uploadRows)
            let values = (rows.lowerBound * dim)..<(rows.upperBound * dim)
            let half = data.half.isEmpty ? [] : data.half[values].map(\.bitPattern)
            let single = data.half.isEmpty ? Array(data.single[values]) : []
            try broadcast(.matrix(NeighbourMatrixRows(
                search: search, totalRows: UInt32(data.rows), dimension: UInt32(dim), firstRow: UInt32(first), half: half,
                single: single, projectionDimension: UInt32(pdim),
                projection: Array(data.projection[(rows.lowerBound * pdim)..<(rows.upperBound * pdim)]))))
        }
    }

    private func uploadCells() throws {
        let cells = cells!
        try broadcast(.cells(NeighbourCells(search: search, dimension: UInt32(cells.dim),
                                            cellStart: cells.cellStart.map { UInt32($0) }, centroids: cells.centroids)))
    }

    private func uploadGraph() throws {
        let graph = passGraph!
        let n = graph.graph.rows, k = graph.graph.k
        for first in stride(from: 0, to: n, by: Self.uploadRows) {
            let entries = (first * k)..<(min(n, first + Self.uploadRows) * k)
            try broadcast(.graph(NeighbourGraphChunk(
                search: search, pass: pass, totalRows: UInt32(n),
                rows: NeighbourGraphRows(firstRow: UInt32(first), k: UInt32(k), indices: Array(graph.graph.indices[entries]),
                                         distances: Array(graph.graph.distances[entries]),
                                         isNew: graph.isNew[entries].map { $0 ? 1 : 0 }))))
        }
    }

    private func broadcast(_ request: UMAPRequest) throws {
        let job = PoolJob(name: "UMAP upload", epoch: 0, unitCount: 1, split: .perWorker) { _, _ in .umapRequest(request) }
        for result in try cluster.pool.run(job, provideState: cluster.replicaState) {
            guard case .umapReply(let reply) = result.message, reply.search == search else {
                throw ClusterError("\(result.worker) answered a UMAP upload with \(result.message.type)")
            }
            cpuSecondsByWorker[result.worker, default: 0] += reply.cpuSeconds
        }
    }

    // MARK: work on blocks of query rows

    /// Runs `work(rows)` for every unit of `unitRows` query rows on the workers and merges the rows; units
    /// answered `missingState` are asked again after `reupload`.
    private func runUnits(_ name: String, k: Int, reupload: () throws -> Void,
                          work: @escaping @Sendable (Range<Int>) -> NeighbourWork) throws -> (graph: RefinementGraph, changes: Int) {
        let n = data!.rows
        let unitCount = (n + Self.unitRows - 1) / Self.unitRows
        @Sendable func rows(_ unit: Int) -> Range<Int> { (unit * Self.unitRows)..<min(n, (unit + 1) * Self.unitRows) }
        var missing = Array(0..<unitCount)
        var blocks: [(firstRow: Int, block: RefinementGraph)] = []
        var changes = 0
        let t0 = now(), cpu0 = workerCPUSeconds
        for attempt in 0..<3 where !missing.isEmpty {
            if attempt > 0 { try reupload() }
            let units = missing
            let job = PoolJob(name: "UMAP \(name)", epoch: 0, unitCount: units.count, split: .chunks(1)) { slots, _ in
                .umapRequest(.work(work(rows(units[slots.lowerBound]))))
            }
            for result in try cluster.pool.run(job, provideState: cluster.replicaState) {
                let unit = units[result.range.lowerBound], r = rows(unit)
                guard case .umapReply(let reply) = result.message, reply.search == search else {
                    throw ClusterError("\(result.worker) answered the UMAP \(name) of rows \(r) with \(result.message.type)")
                }
                cpuSecondsByWorker[result.worker, default: 0] += reply.cpuSeconds
                if reply.status == .missingState {
                    cluster.log("\(result.worker) does not hold this UMAP search's data; rows \(r) will be asked again",
                                .warning)
                    continue
                }
                let g = reply.rows
                guard Int(g.firstRow) == r.lowerBound, g.rowCount == r.count, Int(g.k) == k,
                      g.indices.allSatisfy({ $0 >= -1 && Int($0) < n }) else {
                    throw ClusterError("\(result.worker) answered the UMAP \(name) of rows \(r) with rows \(g.firstRow) + "
                                       + "\(g.rowCount) of \(g.k) neighbours")
                }
                blocks.append((r.lowerBound, RefinementGraph(
                    graph: KNNGraph(rows: r.count, k: k, indices: g.indices, distances: g.distances),
                    isNew: g.isNew.map { $0 == 1 })))
                changes += Int(reply.changes)
                missing.removeAll { $0 == unit }
            }
        }
        guard missing.isEmpty else {
            throw ClusterError("the workers did not compute the UMAP \(name) of \(missing.count) row blocks in 3 tries")
        }
        cluster.log("UMAP neighbours on the workers: \(name) of \(n) rows in \(unitCount) blocks, \(fmt(now() - t0, 2)) s "
                    + "(workers' CPU \(fmt(workerCPUSeconds - cpu0, 2)) s)", .debug)
        return (RefinementGraph(rowBlocks: blocks, rows: n, k: k), changes)
    }
}
