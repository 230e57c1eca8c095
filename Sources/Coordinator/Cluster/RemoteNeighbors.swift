import Core
import Protocol

extension ClusterBackend {
    /// Rows of the activation matrix per `UMAPRequest` chunk sent to the workers (8 MiB of float32 at 512 wide).
    static let umapUploadRows = 4096
    /// Query rows per neighbour-search unit; a multiple of `exactSearchBlockRows`, so the merged graph equals
    /// a single-process exact search bit for bit.
    static let umapQueryRows = 16 * exactSearchBlockRows

    /// The exact k nearest neighbours (row itself first) of every row of `data` (rows, dim), searched by the
    /// workers: every ready worker receives the matrix in chunks, then blocks of query rows are handed to
    /// workers as they become free and the coordinator merges the blocks' answers. Blocks answered empty
    /// (by a worker that joined after the upload) are asked again after a fresh upload, up to 3 times.
    func remoteNearestNeighbors(data: [Float], rows: Int, dim: Int, k: Int) throws -> KNNGraph {
        precondition(data.count == rows * dim && k >= 1 && k <= rows)
        let units = (rows + Self.umapQueryRows - 1) / Self.umapQueryRows
        var missing = Array(0..<units)
        var blocks: [(firstRow: Int, graph: KNNGraph)] = []
        for _ in 0..<3 where !missing.isEmpty {
            let t0 = now()
            try uploadForNeighbors(data: data, rows: rows, dim: dim)
            let t1 = now()
            let found = try searchRowBlocks(missing, rows: rows, dim: dim, k: k)
            log("UMAP neighbours on the workers: \(rows) x \(dim) sent in \(fmt(t1 - t0, 1)) s, \(missing.count) "
                + "blocks of \(Self.umapQueryRows) rows searched in \(fmt(now() - t1, 1)) s", .debug)
            blocks += found
            let done = Set(found.map { $0.firstRow / Self.umapQueryRows })
            missing.removeAll { done.contains($0) }
        }
        guard missing.isEmpty else {
            throw ClusterError("the workers did not find the UMAP neighbours of \(missing.count) row blocks in 3 tries")
        }
        return KNNGraph(rowBlocks: blocks, rows: rows, k: k)
    }

    /// Sends every ready worker the matrix, `umapUploadRows` rows per message.
    private func uploadForNeighbors(data: [Float], rows: Int, dim: Int) throws {
        for first in stride(from: 0, to: rows, by: Self.umapUploadRows) {
            let count = min(Self.umapUploadRows, rows - first)
            let request = UMAPRequest(rows: NeighbourRows(firstRow: UInt32(first), rowCount: UInt32(count), k: 0),
                                      values: Array(data[(first * dim)..<((first + count) * dim)]))
            let job = PoolJob(name: "UMAP activations", epoch: 0, unitCount: 1, split: .perWorker) { _ in
                .umapRequest(request)
            }
            for result in try pool.run(job, provideState: replicaState) {
                guard case .umapReply(let r) = result.message, r.rows == request.rows else {
                    throw ClusterError("\(result.worker) answered UMAP activations with \(result.message.type)")
                }
            }
        }
    }

    /// The neighbours of the query-row units `units` (each `umapQueryRows` rows), one unit per request;
    /// units answered empty are left out.
    private func searchRowBlocks(_ units: [Int], rows: Int, dim: Int, k: Int) throws -> [(firstRow: Int, graph: KNNGraph)] {
        let blockRows = Self.umapQueryRows
        @Sendable func rowRange(_ slot: Int) -> Range<Int> {
            let unit = units[slot]
            return (unit * blockRows)..<min(rows, (unit + 1) * blockRows)
        }
        let shape: [Float] = [Float(rows), Float(dim)]
        let job = PoolJob(name: "UMAP neighbour rows", epoch: 0, unitCount: units.count, split: .chunks(1)) { slots in
            let r = rowRange(slots.lowerBound)
            return .umapRequest(UMAPRequest(
                rows: NeighbourRows(firstRow: UInt32(r.lowerBound), rowCount: UInt32(r.count), k: UInt32(k)),
                values: shape))
        }
        var blocks: [(firstRow: Int, graph: KNNGraph)] = []
        for result in try pool.run(job, provideState: replicaState) {
            let r = rowRange(result.range.lowerBound)
            guard case .umapReply(let reply) = result.message, Int(reply.rows.firstRow) == r.lowerBound,
                  Int(reply.rows.k) == k else {
                throw ClusterError("\(result.worker) answered the UMAP neighbours of rows \(r) with \(result.message.type)")
            }
            if reply.rows.rowCount == 0 {
                log("\(result.worker) does not hold this epoch's activations; rows \(r) will be asked again", .warning)
                continue
            }
            guard Int(reply.rows.rowCount) == r.count, reply.neighbourIndices.count == r.count * k,
                  reply.distances.count == r.count * k else {
                throw ClusterError("\(result.worker) answered the UMAP neighbours of rows \(r) with "
                                   + "\(reply.neighbourIndices.count) neighbours")
            }
            blocks.append((r.lowerBound, KNNGraph(rows: r.count, k: k, indices: reply.neighbourIndices,
                                                  distances: reply.distances)))
        }
        return blocks
    }
}
