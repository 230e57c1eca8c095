import Core
import Protocol

/// A worker's share of the coordinator's UMAP stage: holds the epoch's activation matrix, sent in row
/// chunks, and finds the exact neighbours of blocks of query rows in it.
///
/// `UMAPRequest` carries two kinds of work (see docs/DISTRIBUTED.md, "UMAP neighbour search"):
/// - `rows.k == 0`: a chunk of the matrix, rows `firstRow ..< firstRow + rowCount` in `values`
///   (row-major float32); a chunk at row 0 starts a new matrix, one that does not continue the matrix
///   held drops it. Answered by an empty `UMAPReply`.
/// - `rows.k > 0`: the k nearest neighbours (row itself first) of the query rows among all rows;
///   `values` is `[rows, dim]` of the matrix the coordinator sent, checked against what arrived; a worker
///   that does not hold that matrix answers with `rowCount` 0.
struct UMAPRowWorker {
    private var matrix: [Float] = []
    private var dim = 0
    private var rowsHeld = 0
    let threads: Int

    init(threads: Int) { self.threads = threads }

    /// The reply to `request`, or an error text for a request that does not fit what this worker holds.
    mutating func handle(_ request: UMAPRequest) -> Result<UMAPReply, UMAPRowError> {
        let rows = request.rows
        let first = Int(rows.firstRow), count = Int(rows.rowCount)
        if rows.k == 0 {
            guard count > 0, request.values.count % count == 0 else {
                return .failure(UMAPRowError("a chunk of \(count) rows with \(request.values.count) values"))
            }
            let width = request.values.count / count
            if first == 0 {
                matrix = []
                dim = width
                rowsHeld = 0
            }
            guard width == dim, first == rowsHeld else {
                // A chunk of a matrix whose start this worker missed: hold nothing until the next start.
                matrix = []
                rowsHeld = 0
                dim = 0
                return .success(UMAPReply(rows: rows, neighbourIndices: [], distances: []))
            }
            matrix += request.values
            rowsHeld += count
            return .success(UMAPReply(rows: rows, neighbourIndices: [], distances: []))
        }
        guard request.values.count == 2, Int(request.values[0]) == rowsHeld, Int(request.values[1]) == dim,
              first + count <= rowsHeld, Int(rows.k) <= rowsHeld else {
            // Not the matrix asked about (e.g. this worker joined after the upload): an empty answer
            // makes the coordinator send the matrix again.
            return .success(UMAPReply(rows: NeighbourRows(firstRow: rows.firstRow, rowCount: 0, k: rows.k),
                                      neighbourIndices: [], distances: []))
        }
        let graph = exactNeighborRowBlock(data: matrix, rows: rowsHeld, dim: dim, k: Int(rows.k),
                                          queryRows: first..<(first + count), threads: threads)
        return .success(UMAPReply(rows: rows, neighbourIndices: graph.indices, distances: graph.distances))
    }
}

/// Why a UMAP request cannot be carried out.
struct UMAPRowError: Error {
    let text: String
    init(_ text: String) { self.text = text }
}
