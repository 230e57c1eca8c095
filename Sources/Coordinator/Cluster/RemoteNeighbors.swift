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
    /// workers as they become free and the coordinator merges the blocks' answers.
    func remoteNearestNeighbors(data: [Float], rows: Int, dim: Int, k: Int) throws -> KNNGraph {
        precondition(data.count == rows * dim && k >= 1 && k <= rows)
        for first in stride(from: 0, to: rows, by: Self.umapUploadRows) {
            let count = min(Self.umapUploadRows, rows - first)
            let chunk = Array(data[(first * dim)..<((first + count) * dim)])
            let request = UMAPRequest(rows: NeighbourRows(firstRow: UInt32(first), rowCount: UInt32(count), k: 0),
                                      values: chunk)
            let job = PoolJob(name: "UMAP activations", epoch: 0, unitCount: 1, split: .perWorker) { _ in
                .umapRequest(request)
            }
            for result in try pool.run(job, provideState: replicaState) {
                guard case .umapReply(let r) = result.message, r.rows == request.rows else {
                    throw ClusterError("\(result.worker) answered UMAP activations with \(result.message.type)")
                }
            }
        }
        let units = (rows + Self.umapQueryRows - 1) / Self.umapQueryRows
        let shape: [Float] = [Float(rows), Float(dim)]
        @Sendable func rowRange(_ units: Range<Int>) -> Range<Int> {
            (units.lowerBound * Self.umapQueryRows)..<min(rows, units.upperBound * Self.umapQueryRows)
        }
        let job = PoolJob(name: "UMAP neighbour rows", epoch: 0, unitCount: units, split: .chunks(1)) { range in
            let r = rowRange(range)
            return .umapRequest(UMAPRequest(
                rows: NeighbourRows(firstRow: UInt32(r.lowerBound), rowCount: UInt32(r.count), k: UInt32(k)),
                values: shape))
        }
        var blocks: [(firstRow: Int, graph: KNNGraph)] = []
        for result in try pool.run(job, provideState: replicaState) {
            let r = rowRange(result.range)
            guard case .umapReply(let reply) = result.message, Int(reply.rows.firstRow) == r.lowerBound,
                  Int(reply.rows.rowCount) == r.count, Int(reply.rows.k) == k,
                  reply.neighbourIndices.count == r.count * k, reply.distances.count == r.count * k else {
                throw ClusterError("\(result.worker) answered the UMAP neighbours of rows \(r) with a reply that "
                                   + "does not fit them (\(result.message.type))")
            }
            blocks.append((r.lowerBound, KNNGraph(rows: r.count, k: k, indices: reply.neighbourIndices,
                                                  distances: reply.distances)))
        }
        return KNNGraph(rowBlocks: blocks, rows: rows, k: k)
    }
}
