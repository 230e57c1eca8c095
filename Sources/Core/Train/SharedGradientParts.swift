import CKernels

/// The step gradients of processes on one host that share a `SharedUpdate` file, exchanged through it
/// instead of through the coordinator: a member writes the gradient of its part of a step (fixed-point
/// sums and factor rows, about 1 MB at batch 100) into its own region of the file and tells the
/// coordinator only where it is; the coordinator's commit then names the parts in micro-batch order, and
/// every member (and the coordinator, which keeps the step's gradient) reads them from the file.
///
/// Each member has two regions, one per parity of the weights version the part was computed from, so that a
/// member can write its next part while the others still read this one (a member computes version V+1's
/// part only after the commit of V+1, which every other member reads before it computes its own part of V+1,
/// and the coordinator commits V+2 only when all parts of V+1 are in). A region: a 64-byte header
/// (sequence number, weights version, first micro-batch, rows), the sums, the flat rows, the delta rows. The
/// writer makes the sequence number odd while it writes and even when done; a reader copies a part only if
/// the number is even and the header names the part it expects, and checks afterwards that the number has
/// not moved, so that a part rewritten meanwhile (a member the coordinator had given up on, running again)
/// is never taken for the expected one.
public final class SharedGradientParts: @unchecked Sendable {
    /// This process' member index, or nil for a reader only (the coordinator).
    public let rank: Int?
    public var members: Int { file.members }
    /// The most samples a part holds.
    public var rowsCapacity: Int { file.rowsCapacity }
    private let file: SharedFileMapping

    /// The most rows a part may be created for (a batch of 65,536 samples: about 545 MB of rows per region).
    public static let maxRowsCapacity = 65_536
    /// Where the regions start: after the header and the weights and moments of `SharedUpdate`.
    static var offset: Int { (SharedUpdate.headerBytes + 3 * SeedCNN.layout.count * 4 + 63) / 64 * 64 }
    static let regionHeaderBytes = 64

    /// The bytes of one region for parts of up to `rowsCapacity` rows, a multiple of 64.
    static func regionBytes(rowsCapacity: Int) -> Int {
        let floats = rowsCapacity * (SeedCNN.flatWidth + SeedCNN.hiddenWidth)
        return (regionHeaderBytes + StepGradient.packedCount * 8 + floats * 4 + 63) / 64 * 64
    }

    /// The parts of `file` as member `rank` (which writes its own), or as a reader only (`rank` nil).
    public init(file: SharedFileMapping, rank: Int?) {
        precondition(rank.map { $0 >= 0 && $0 < file.members } ?? true)
        self.file = file
        self.rank = rank
    }

    /// Where one part is: `member`'s region for the weights version `weightsVersion`.
    public struct Location: Equatable, Sendable {
        public var member: Int
        public var weightsVersion: UInt64
        public var firstMicroBatch: Int
        public var rows: Int
        public init(member: Int, weightsVersion: UInt64, firstMicroBatch: Int, rows: Int) {
            self.member = member
            self.weightsVersion = weightsVersion
            self.firstMicroBatch = firstMicroBatch
            self.rows = rows
        }
    }

    /// Writes this member's part of the step computed from `weightsVersion`, beginning at `firstMicroBatch`.
    /// Nil, and nothing written, if the part does not fit or this member's region for that version already
    /// holds a part (a second share of the same step: it travels in the result instead).
    public func write(_ gradient: StepGradient, weightsVersion: UInt64, firstMicroBatch: Int) -> Location? {
        guard let rank, gradient.rows >= 1, gradient.rows <= rowsCapacity, gradient.sums.count == StepGradient.packedCount
        else { return nil }
        let region = self.region(rank, weightsVersion)
        let header = region.assumingMemoryBound(to: UInt64.self)
        let sequence = glassbox_shared_load(header)
        if sequence % 2 == 0 && sequence > 0 && header[1] == weightsVersion { return nil }
        let writing = sequence % 2 == 0 ? sequence + 1 : sequence + 2  // odd: being written
        glassbox_shared_store(header, writing)
        header[1] = weightsVersion
        header[2] = UInt64(firstMicroBatch)
        header[3] = UInt64(gradient.rows)
        let sums = (region + SharedGradientParts.regionHeaderBytes).assumingMemoryBound(to: Int64.self)
        gradient.sums.values.withUnsafeBufferPointer { sums.update(from: $0.baseAddress!, count: $0.count) }
        let flat = (region + SharedGradientParts.regionHeaderBytes + StepGradient.packedCount * 8)
            .assumingMemoryBound(to: Float.self)
        gradient.flatRows.withUnsafeBufferPointer { flat.update(from: $0.baseAddress!, count: $0.count) }
        let delta = flat + gradient.rows * SeedCNN.flatWidth
        gradient.deltaRows.withUnsafeBufferPointer { delta.update(from: $0.baseAddress!, count: $0.count) }
        glassbox_shared_store(header, writing + 1)
        return Location(member: rank, weightsVersion: weightsVersion, firstMicroBatch: firstMicroBatch, rows: gradient.rows)
    }

    /// The part at `location`, or why it cannot be read (not written, another part, rewritten while read).
    public func read(_ location: Location) -> Result<StepGradient, SharedUpdateError> {
        read([location])
    }

    /// Whether the part at `location` is there, whole, without copying it.
    public func check(_ location: Location) -> Result<Void, SharedUpdateError> {
        withPart(location) { _, _, _ in () }
    }

    /// The parts at `locations` appended in order: a step's gradient.
    public func read(_ locations: [Location]) -> Result<StepGradient, SharedUpdateError> {
        var whole = StepGradient.empty
        return read(locations, into: &whole).map { whole }
    }

    /// The parts at `locations` appended in order into `whole`, which is replaced; its arrays keep their
    /// storage, so a process that reads every step's parts into the same value touches no new memory.
    public func read(_ locations: [Location], into whole: inout StepGradient) -> Result<Void, SharedUpdateError> {
        whole.removeAll()
        for location in locations {
            let copied = withPart(location) { whole.append(sums: $0, flatRows: $1, deltaRows: $2) }
            if case .failure = copied { return copied }
        }
        return .success(())
    }

    /// Calls `body` with the sums and rows of the part at `location` if it is there, and whole after `body`
    /// (else what `body` copied must be dropped), or says why it is not.
    private func withPart<T>(
        _ location: Location,
        _ body: (UnsafeBufferPointer<Int64>, UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>) -> T
    ) -> Result<T, SharedUpdateError> {
        guard location.member >= 0 && location.member < members, location.rows >= 1, location.rows <= rowsCapacity else {
            return .failure(SharedUpdateError("no part of \(location.rows) rows can be in member \(location.member)'s region "
                                              + "(\(members) members, \(rowsCapacity) rows each)"))
        }
        let region = self.region(location.member, location.weightsVersion)
        let header = region.assumingMemoryBound(to: UInt64.self)
        let before = glassbox_shared_load(header)
        let found = (header[1], header[2], header[3])
        guard before % 2 == 0, before > 0, found == (location.weightsVersion, UInt64(location.firstMicroBatch),
                                                     UInt64(location.rows)) else {
            return .failure(SharedUpdateError("local worker \(location.member)'s region holds " + (before % 2 == 1
                ? "a part being written" : before == 0 ? "no part" : "the part of version \(found.0) from micro-batch "
                    + "\(found.1) (\(found.2) rows)") + ", not that of version \(location.weightsVersion) from micro-batch "
                + "\(location.firstMicroBatch) (\(location.rows) rows)"))
        }
        let rows = location.rows
        let sums = UnsafeBufferPointer(start: (region + SharedGradientParts.regionHeaderBytes).assumingMemoryBound(to: Int64.self),
                                       count: StepGradient.packedCount)
        let flat = (region + SharedGradientParts.regionHeaderBytes + StepGradient.packedCount * 8)
            .assumingMemoryBound(to: Float.self)
        let result = body(sums, UnsafeBufferPointer(start: flat, count: rows * SeedCNN.flatWidth),
                          UnsafeBufferPointer(start: flat + rows * SeedCNN.flatWidth, count: rows * SeedCNN.hiddenWidth))
        guard glassbox_shared_load(header) == before else {
            return .failure(SharedUpdateError("local worker \(location.member) rewrote its part of version "
                                              + "\(location.weightsVersion) while it was being read"))
        }
        return .success(result)
    }

    private func region(_ member: Int, _ weightsVersion: UInt64) -> UnsafeMutableRawPointer {
        file.base + SharedGradientParts.offset
            + (member * 2 + Int(weightsVersion % 2)) * SharedGradientParts.regionBytes(rowsCapacity: rowsCapacity)
    }
}
