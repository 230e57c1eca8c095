// The neighbours family: the pieces of the UMAP neighbour search a worker holds or works on, and its
// answers (see docs/DISTRIBUTED.md, "UMAP neighbour search on the workers"). Each type's payload writer
// stands beside its reader.

/// A piece of the UMAP neighbour search for a worker (see docs/DISTRIBUTED.md, "UMAP neighbour search on
/// the workers"). Rows and neighbour indices are the search's own row order (locality positions).
public enum UMAPRequest: Equatable, Sendable {
    /// Rows of a search's matrix; the chunk at row 0 starts the search.
    case matrix(NeighbourMatrixRows)
    /// The cells of a fresh search, for `cellStart` work.
    case cells(NeighbourCells)
    /// Rows of the graph that a refinement pass reads.
    case graph(NeighbourGraphChunk)
    /// A start or a refinement pass for a block of query rows.
    case work(NeighbourWork)
}


/// UMAP request kinds on the wire (the first payload byte).
private enum UMAPRequestKind: UInt8 {
    case matrix = 1, cells = 2, graph = 3, work = 4
}

extension UMAPRequest {
    /// The kind byte, then the piece's fields.
    func write(to w: inout PayloadWriter) {
        switch self {
        case .matrix(let m):
            w.write(UMAPRequestKind.matrix.rawValue)
            m.write(to: &w)
        case .cells(let m):
            w.write(UMAPRequestKind.cells.rawValue)
            m.write(to: &w)
        case .graph(let m):
            w.write(UMAPRequestKind.graph.rawValue)
            m.write(to: &w)
        case .work(let m):
            w.write(UMAPRequestKind.work.rawValue)
            m.write(to: &w)
        }
    }

    static func read(from r: inout PayloadReader) throws(WireError) -> UMAPRequest {
        let kindOffset = r.offset
        let raw = try r.read(UInt8.self, "kind")
        guard let kind = UMAPRequestKind(rawValue: raw) else {
            throw r.invalid("kind", "unknown UMAP request kind \(raw)", at: kindOffset)
        }
        switch kind {
        case .matrix: return .matrix(try NeighbourMatrixRows.read(from: &r))
        case .cells: return .cells(try NeighbourCells.read(from: &r))
        case .graph: return .graph(try NeighbourGraphChunk.read(from: &r))
        case .work: return .work(try NeighbourWork.read(from: &r))
        }
    }
}

/// Rows `firstRow ..< firstRow + rowCount` of search `search`'s matrix (`totalRows` x `dimension`): Float16
/// bit patterns in `half` or float32 in `single` (the other empty), and their projections.
public struct NeighbourMatrixRows: Equatable, Sendable {
    /// Identifies the search (a coordinator counter).
    public var search: UInt64
    public var totalRows: UInt32
    public var dimension: UInt32
    public var firstRow: UInt32
    /// rowCount x dimension Float16 bit patterns, or empty.
    public var half: [UInt16]
    /// rowCount x dimension float32 values, or empty.
    public var single: [Float]
    public var projectionDimension: UInt32
    /// rowCount x projectionDimension.
    public var projection: [Float]

    /// Rows in this chunk.
    public var rowCount: Int { dimension == 0 ? 0 : max(half.count, single.count) / Int(dimension) }

    /// A chunk.
    public init(search: UInt64, totalRows: UInt32, dimension: UInt32, firstRow: UInt32, half: [UInt16], single: [Float],
                projectionDimension: UInt32, projection: [Float]) {
        self.search = search
        self.totalRows = totalRows
        self.dimension = dimension
        self.firstRow = firstRow
        self.half = half
        self.single = single
        self.projectionDimension = projectionDimension
        self.projection = projection
    }
}

extension NeighbourMatrixRows {
    func write(to w: inout PayloadWriter) {
        w.write(search)
        w.write(totalRows)
        w.write(dimension)
        w.write(firstRow)
        w.writeArray(half)
        w.writeArray(single)
        w.write(projectionDimension)
        w.writeArray(projection)
    }

    /// Whole rows in exactly one of `half` and `single`, within the matrix, each with its projection.
    static func read(from r: inout PayloadReader) throws(WireError) -> NeighbourMatrixRows {
        let search = try r.read(UInt64.self, "search")
        let totalRows = try r.read(UInt32.self, "totalRows")
        let dimensionOffset = r.offset
        let dimension = try r.read(UInt32.self, "dimension")
        guard dimension >= 1 else { throw r.invalid("dimension", "must be at least 1", at: dimensionOffset) }
        let firstRow = try r.read(UInt32.self, "firstRow")
        let valuesOffset = r.offset
        let half = try r.readArray(of: UInt16.self, "half")
        let single = try r.readArray(of: Float.self, "single")
        let values = max(half.count, single.count)
        guard half.isEmpty != single.isEmpty, values % Int(dimension) == 0 else {
            throw r.invalid("half", "\(half.count) Float16 and \(single.count) float32 values: expected whole rows "
                            + "of \(dimension) in exactly one of them", at: valuesOffset)
        }
        guard UInt64(firstRow) + UInt64(values / Int(dimension)) <= UInt64(totalRows) else {
            throw r.invalid("firstRow", "rows \(firstRow) + \(values / Int(dimension)) exceed the \(totalRows) rows",
                            at: valuesOffset)
        }
        let projectionDimension = try r.read(UInt32.self, "projectionDimension")
        let projectionOffset = r.offset
        let projection = try r.readArray(of: Float.self, "projection")
        guard UInt64(projection.count) == UInt64(values / Int(dimension)) * UInt64(projectionDimension) else {
            throw r.invalid("projection", "\(projection.count) values for \(values / Int(dimension)) rows of "
                            + "\(projectionDimension)", at: projectionOffset)
        }
        return NeighbourMatrixRows(search: search, totalRows: totalRows, dimension: dimension, firstRow: firstRow,
                                   half: half, single: single, projectionDimension: projectionDimension,
                                   projection: projection)
    }
}

/// The cells of search `search`: cell c holds rows cellStart[c] ..< cellStart[c + 1]; its centroid is
/// centroids[c * dimension ..< (c + 1) * dimension] (in the projection).
public struct NeighbourCells: Equatable, Sendable {
    public var search: UInt64
    public var dimension: UInt32
    public var cellStart: [UInt32]
    public var centroids: [Float]

    /// The cells.
    public init(search: UInt64, dimension: UInt32, cellStart: [UInt32], centroids: [Float]) {
        self.search = search
        self.dimension = dimension
        self.cellStart = cellStart
        self.centroids = centroids
    }
}

extension NeighbourCells {
    func write(to w: inout PayloadWriter) {
        w.write(search)
        w.write(dimension)
        w.writeArray(cellStart)
        w.writeArray(centroids)
    }

    /// At least one cell, row numbers non-decreasing from 0, one centroid per cell.
    static func read(from r: inout PayloadReader) throws(WireError) -> NeighbourCells {
        let search = try r.read(UInt64.self, "search")
        let dimension = try r.read(UInt32.self, "dimension")
        let startOffset = r.offset
        let cellStart = try r.readArray(of: UInt32.self, "cellStart")
        guard cellStart.count >= 2, cellStart.first == 0, zip(cellStart, cellStart.dropFirst()).allSatisfy({ $0 <= $1 }) else {
            throw r.invalid("cellStart", "expected at least 2 non-decreasing row numbers from 0", at: startOffset)
        }
        let centroidsOffset = r.offset
        let centroids = try r.readArray(of: Float.self, "centroids")
        guard UInt64(centroids.count) == UInt64(cellStart.count - 1) * UInt64(dimension) else {
            throw r.invalid("centroids", "\(centroids.count) values for \(cellStart.count - 1) cells of \(dimension)",
                            at: centroidsOffset)
        }
        return NeighbourCells(search: search, dimension: dimension, cellStart: cellStart, centroids: centroids)
    }
}

/// Rows of a kNN graph, row-major: row `firstRow + r` has neighbours `indices[r * k ..< (r + 1) * k]` at
/// `distances` of the same places; `isNew` (0 or 1) marks the entries new since the previous pass.
public struct NeighbourGraphRows: Equatable, Sendable {
    public var firstRow: UInt32
    public var k: UInt32
    public var indices: [Int32]
    public var distances: [Float]
    public var isNew: [UInt8]

    /// Rows held.
    public var rowCount: Int { k == 0 ? 0 : indices.count / Int(k) }

    /// Rows of a graph.
    public init(firstRow: UInt32, k: UInt32, indices: [Int32], distances: [Float], isNew: [UInt8]) {
        self.firstRow = firstRow
        self.k = k
        self.indices = indices
        self.distances = distances
        self.isNew = isNew
    }

    /// No rows.
    public static let empty = NeighbourGraphRows(firstRow: 0, k: 0, indices: [], distances: [], isNew: [])
}

extension NeighbourGraphRows {
    func write(to w: inout PayloadWriter) {
        w.write(firstRow)
        w.write(k)
        w.writeArray(indices)
        w.writeArray(distances)
        w.writeArray(isNew)
    }

    /// Whole rows of k, a distance and a 0-or-1 flag per neighbour.
    static func read(from r: inout PayloadReader) throws(WireError) -> NeighbourGraphRows {
        let firstRow = try r.read(UInt32.self, "rows.firstRow")
        let k = try r.read(UInt32.self, "rows.k")
        let indicesOffset = r.offset
        let indices = try r.readArray(of: Int32.self, "rows.indices")
        guard indices.isEmpty || (k > 0 && indices.count % Int(k) == 0) else {
            throw r.invalid("rows.indices", "\(indices.count) neighbours are not whole rows of \(k)", at: indicesOffset)
        }
        let distancesOffset = r.offset
        let distances = try r.readArray(of: Float.self, "rows.distances")
        guard distances.count == indices.count else {
            throw r.invalid("rows.distances", "\(distances.count) distances for \(indices.count) neighbours", at: distancesOffset)
        }
        let isNewOffset = r.offset
        let isNew = try r.readArray(of: UInt8.self, "rows.isNew")
        guard isNew.count == indices.count, isNew.allSatisfy({ $0 <= 1 }) else {
            throw r.invalid("rows.isNew", "expected one flag of 0 or 1 for each of \(indices.count) neighbours", at: isNewOffset)
        }
        return NeighbourGraphRows(firstRow: firstRow, k: k, indices: indices, distances: distances, isNew: isNew)
    }
}

/// Rows of the graph (`totalRows` in all) that refinement pass `pass` of search `search` reads.
public struct NeighbourGraphChunk: Equatable, Sendable {
    public var search: UInt64
    public var pass: UInt32
    public var totalRows: UInt32
    public var rows: NeighbourGraphRows

    /// A chunk of a graph.
    public init(search: UInt64, pass: UInt32, totalRows: UInt32, rows: NeighbourGraphRows) {
        self.search = search
        self.pass = pass
        self.totalRows = totalRows
        self.rows = rows
    }
}

extension NeighbourGraphChunk {
    func write(to w: inout PayloadWriter) {
        w.write(search)
        w.write(pass)
        w.write(totalRows)
        rows.write(to: &w)
    }

    /// The rows must lie within the graph.
    static func read(from r: inout PayloadReader) throws(WireError) -> NeighbourGraphChunk {
        let search = try r.read(UInt64.self, "search")
        let pass = try r.read(UInt32.self, "pass")
        let totalRows = try r.read(UInt32.self, "totalRows")
        let rowsOffset = r.offset
        let rows = try NeighbourGraphRows.read(from: &r)
        guard UInt64(rows.firstRow) + UInt64(rows.rowCount) <= UInt64(totalRows) else {
            throw r.invalid("rows", "rows \(rows.firstRow) + \(rows.rowCount) exceed the \(totalRows) rows", at: rowsOffset)
        }
        return NeighbourGraphChunk(search: search, pass: pass, totalRows: totalRows, rows: rows)
    }
}

/// The per-row stages of the neighbour search. Raw values are part of the wire format.
public enum NeighbourStage: UInt8, Sendable {
    /// Each row's `candidates` nearest projections in its `probes` nearest cells, re-measured, cut to k.
    case cellStart = 1
    /// The given neighbours of each row (`NeighbourWork.neighbours`), re-measured, cut to k.
    case graphStart = 2
    /// One refinement pass over the rows, reading the graph of pass `pass`.
    case refine = 3
}

/// A stage for query rows `firstRow ..< firstRow + rowCount` of search `search`, k neighbours each.
public struct NeighbourWork: Equatable, Sendable {
    public var stage: NeighbourStage
    public var search: UInt64
    /// `refine`: the pass whose graph the worker must hold.
    public var pass: UInt32
    public var firstRow: UInt32
    public var rowCount: UInt32
    public var k: UInt32
    /// `cellStart`: cells searched per row, and candidates re-measured.
    public var probes: UInt32
    public var candidates: UInt32
    /// `refine`: how many of a row's nearest neighbours have their lists searched.
    public var expansion: UInt32
    /// `graphStart`: the rows' input neighbours (rowCount x any width, -1 for none); else empty.
    public var neighbours: [Int32]

    /// A piece of work; the fields a stage does not use stay 0 or empty.
    public init(stage: NeighbourStage, search: UInt64, pass: UInt32 = 0, firstRow: UInt32, rowCount: UInt32, k: UInt32,
                probes: UInt32 = 0, candidates: UInt32 = 0, expansion: UInt32 = 0, neighbours: [Int32] = []) {
        self.stage = stage
        self.search = search
        self.pass = pass
        self.firstRow = firstRow
        self.rowCount = rowCount
        self.k = k
        self.probes = probes
        self.candidates = candidates
        self.expansion = expansion
        self.neighbours = neighbours
    }
}

extension NeighbourWork {
    func write(to w: inout PayloadWriter) {
        w.write(stage.rawValue)
        w.write(search)
        w.write(pass)
        w.write(firstRow)
        w.write(rowCount)
        w.write(k)
        w.write(probes)
        w.write(candidates)
        w.write(expansion)
        w.writeArray(neighbours)
    }

    /// A known stage, k of at least 1, and input neighbours exactly for `graphStart` (whole rows).
    static func read(from r: inout PayloadReader) throws(WireError) -> NeighbourWork {
        let stageOffset = r.offset
        let rawStage = try r.read(UInt8.self, "stage")
        guard let stage = NeighbourStage(rawValue: rawStage) else {
            throw r.invalid("stage", "unknown stage \(rawStage)", at: stageOffset)
        }
        let search = try r.read(UInt64.self, "search")
        let pass = try r.read(UInt32.self, "pass")
        let firstRow = try r.read(UInt32.self, "firstRow")
        let rowCount = try r.read(UInt32.self, "rowCount")
        let kOffset = r.offset
        let k = try r.read(UInt32.self, "k")
        guard k >= 1 else { throw r.invalid("k", "must be at least 1", at: kOffset) }
        let probes = try r.read(UInt32.self, "probes")
        let candidates = try r.read(UInt32.self, "candidates")
        let expansion = try r.read(UInt32.self, "expansion")
        let neighboursOffset = r.offset
        let neighbours = try r.readArray(of: Int32.self, "neighbours")
        let fits = stage == .graphStart
            ? rowCount > 0 && !neighbours.isEmpty && neighbours.count % Int(rowCount) == 0
            : neighbours.isEmpty
        guard fits else {
            throw r.invalid("neighbours", "\(neighbours.count) input neighbours for \(rowCount) rows of \(stage) work",
                            at: neighboursOffset)
        }
        return NeighbourWork(stage: stage, search: search, pass: pass, firstRow: firstRow, rowCount: rowCount, k: k,
                             probes: probes, candidates: candidates, expansion: expansion, neighbours: neighbours)
    }
}

/// How a worker answered a `UMAPRequest`. Raw values are part of the wire format.
public enum NeighbourStatus: UInt8, Sendable {
    /// Stored (uploads) or computed (work).
    case done = 1
    /// The worker does not hold the search's matrix, cells or graph the request needs (e.g. it joined after
    /// the upload): the coordinator uploads again.
    case missingState = 2
}

/// A worker's answer to a `UMAPRequest`: for work, the rows' lists and how many entries changed.
public struct UMAPReply: Equatable, Sendable {
    public var search: UInt64
    public var status: NeighbourStatus
    /// The rows computed (empty for uploads).
    public var rows: NeighbourGraphRows
    /// Refinement: entries inserted into the rows' lists.
    public var changes: UInt64
    /// CPU seconds the worker process spent on the request.
    public var cpuSeconds: Double

    /// A reply.
    public init(search: UInt64, status: NeighbourStatus, rows: NeighbourGraphRows = .empty, changes: UInt64 = 0,
                cpuSeconds: Double = 0) {
        self.search = search
        self.status = status
        self.rows = rows
        self.changes = changes
        self.cpuSeconds = cpuSeconds
    }
}

extension UMAPReply {
    func write(to w: inout PayloadWriter) {
        w.write(search)
        w.write(status.rawValue)
        rows.write(to: &w)
        w.write(changes)
        w.write(cpuSeconds)
    }

    static func read(from r: inout PayloadReader) throws(WireError) -> UMAPReply {
        let search = try r.read(UInt64.self, "search")
        let statusOffset = r.offset
        let raw = try r.read(UInt8.self, "status")
        guard let status = NeighbourStatus(rawValue: raw) else {
            throw r.invalid("status", "unknown status \(raw)", at: statusOffset)
        }
        return UMAPReply(search: search, status: status, rows: try NeighbourGraphRows.read(from: &r),
                         changes: try r.read(UInt64.self, "changes"), cpuSeconds: try r.read(Double.self, "cpuSeconds"))
    }
}
