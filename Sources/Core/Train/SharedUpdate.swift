import CKernels
#if canImport(Glibc)
import Glibc
#endif

/// Processes on one host that apply the same optimiser steps (a coordinator's spawned workers) split each
/// step instead of each doing all of it: member r forms the mean gradient and applies Adam for its
/// `ParameterShare` only, and copies the other shares' new weights from a file they all map (`/dev/shm`).
/// Every element gets the bits a whole step gives it, so replicas still hold one process' weights.
///
/// On a 2-core host the step's memory traffic, more than its arithmetic, is what two workers applying
/// updates side by side wait on, so while the sharing lasts Adam's moments live only in the file (each
/// member updates its share there, in place) and only weights are copied. The process' own `AdamState`
/// moments are then stale; `gather` brings them back (for a state report, or to go on alone).
///
/// The file: a 4 KiB header (magic, members, parameter count, the rows a step's gradient part may hold,
/// then one 64-byte slot per member holding its sequence number), then the weights and Adam's first and
/// second moments, each in the full layout, then the members' step gradients (`SharedGradientParts`).
/// Member r sets its slot to 2V-1 while it writes its share of version V and to 2V when that is complete
/// (a seqlock); a reader copies a share once the slot reaches 2V and checks afterwards that the member has
/// not begun version V+1 (the coordinator sends no update before every replica has applied the one before,
/// so that never happens in a healthy run). A member whose share does not arrive within `timeout` seconds
/// (stopped, killed, or not sent the update) is done here, from its moments in the file if they are whole,
/// and the sharing ends for this process: from then on it applies whole steps, as an unshared worker does.
public final class SharedUpdate: @unchecked Sendable {
    public let rank: Int
    public let members: Int
    public let shares: [ParameterShare]
    public let timeout: Double
    /// False once the sharing has ended for this process: every later step is applied whole here.
    public private(set) var isActive = true
    /// Steps applied with the other members' shares copied, and steps applied whole (or partly) here.
    public private(set) var sharedSteps = 0
    public private(set) var aloneSteps = 0
    /// Whether the process' `AdamState` moments are whole and current (else the file holds them).
    public private(set) var holdsMoments = true
    /// The version of this member's share in the file, if it holds one.
    private var sharedVersion: UInt64?

    /// The mapped file, shared with the `SharedGradientParts` of this process.
    public let file: SharedFileMapping
    private var mapping: UnsafeMutableRawPointer { file.base }
    private let count: Int

    static let magic: UInt64 = 0x3345_5241_4853_4247  // "GBSHARE3", little-endian
    static let headerBytes = 4096
    static let slotBytes = 64

    /// The size of the file for the model's parameters and `members` gradient parts of `rowsCapacity` rows.
    public static func fileBytes(members: Int, rowsCapacity: Int) -> Int {
        SharedGradientParts.offset + SharedGradientParts.regionBytes(rowsCapacity: rowsCapacity) * 2 * members
    }

    /// Creates the file at `path` (which must not exist) for `members` processes whose step gradients hold up
    /// to `rowsCapacity` samples each (a step's batch): zero slots, sized.
    public static func create(path: String, members: Int, rowsCapacity: Int) throws {
        guard members >= 2 && members <= ParameterShare.maxMembers else {
            throw SharedUpdateError("\(path): a step can be shared by 2 to \(ParameterShare.maxMembers) processes, not \(members)")
        }
        guard rowsCapacity >= 1 && rowsCapacity <= SharedGradientParts.maxRowsCapacity else {
            throw SharedUpdateError("\(path): a gradient part holds 1 to \(SharedGradientParts.maxRowsCapacity) samples, not \(rowsCapacity)")
        }
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SharedUpdateError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let size = fileBytes(members: members, rowsCapacity: rowsCapacity)
        guard ftruncate(fd, off_t(size)) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(path)
            throw SharedUpdateError("cannot size \(path) to \(size) bytes: \(reason)")
        }
        let header: [UInt64] = [magic, UInt64(members), UInt64(SeedCNN.layout.count), UInt64(rowsCapacity)]
        let written = header.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        guard written == header.count * 8 else {
            let reason = String(cString: strerror(errno))
            unlink(path)
            throw SharedUpdateError("cannot write \(path): \(reason)")
        }
    }

    /// Maps the file at `path` (made by `create` for `members` members) as member `rank`.
    public init(path: String, rank: Int, members: Int, timeout: Double = 1) throws {
        guard members >= 2 && members <= ParameterShare.maxMembers, rank >= 0 && rank < members else {
            throw SharedUpdateError("\(path): member \(rank) of \(members) is not a valid share (2 to \(ParameterShare.maxMembers) members)")
        }
        file = try SharedFileMapping(path: path, members: members)
        count = SeedCNN.layout.count
        self.rank = rank
        self.members = members
        self.timeout = timeout
        shares = ParameterShare.split(members: members)
    }

    public var share: ParameterShare { shares[rank] }

    /// What became of one step.
    public enum Outcome: Equatable, Sendable {
        /// The other members' shares were copied.
        case shared
        /// The shares of these members did not arrive and were done here; the sharing has ended.
        case alone(missing: [Int])
        /// The step was applied whole here (the sharing had ended before).
        case whole
        /// The step could not be completed (a member's share or moments were not whole, or this process
        /// held neither its share in the file nor whole moments): the weights and moments here are not
        /// those of any version and must be replaced. The sharing has ended.
        case lost(reason: String)
    }

    /// This process now holds whole weights and moments of `version` (received from the coordinator): its
    /// share goes to the file, from where the next step starts.
    public func seed(version: UInt64, parameters: [Float], adam: AdamState) {
        holdsMoments = true
        guard isActive else { return }
        glassbox_shared_store(slot(rank), 2 * version - 1)
        let ranges = share.ranges
        for (index, source) in [parameters, adam.m, adam.v].enumerated() {
            let target = array(index)
            source.withUnsafeBufferPointer { s in
                for r in ranges { (target + r.lowerBound).update(from: s.baseAddress! + r.lowerBound, count: r.count) }
            }
        }
        glassbox_shared_store(slot(rank), 2 * version)
        sharedVersion = version
    }

    /// Applies version `version` (the weights after it) of the step: the mean of `gradient` over `samples`
    /// samples with Adam, this member's share here and the others' weights copied from the file.
    public func apply(_ gradient: StepGradient, samples: Int, version: UInt64, threads: Int, parameters: inout [Float],
                      adam: inout AdamState) -> Outcome {
        precondition(parameters.count == count && adam.m.count == count && version > 0)
        let step = adam.beginStep()
        guard isActive else {
            applyAdam(gradient, samples: samples, threads: threads, parameters: &parameters, adam: &adam, shares: [.whole],
                      step: step)
            aloneSteps += 1
            return .whole
        }
        if sharedVersion != version - 1 {
            guard holdsMoments else {
                isActive = false
                return .lost(reason: "this worker's share in the file is of version \(sharedVersion.map(String.init) ?? "none"), "
                             + "not \(version - 1)")
            }
            seed(version: version - 1, parameters: parameters, adam: adam)
        }
        glassbox_shared_store(slot(rank), 2 * version - 1)
        holdsMoments = false
        parameters.withUnsafeMutableBufferPointer { w in
            AdamState.update(step, gradient: gradient, samples: samples, shares: [share], m: array(1), v: array(2),
                             weights: w.baseAddress!, threads: threads, kernels: .current)
            copy(share, from: UnsafePointer(w.baseAddress!), to: array(0))
        }
        glassbox_shared_store(slot(rank), 2 * version)
        sharedVersion = version
        var missing: [Int] = []
        for member in 0..<members where member != rank {
            guard arrives(member, version: version) else {
                missing.append(member)
                continue
            }
            parameters.withUnsafeMutableBufferPointer { copy(shares[member], from: UnsafePointer(array(0)), to: $0.baseAddress!) }
            if glassbox_shared_load(slot(member)) != 2 * version {
                isActive = false
                return .lost(reason: "local worker \(member) rewrote its share of version \(version) while it was being copied")
            }
        }
        if missing.isEmpty {
            sharedSteps += 1
            return .shared
        }
        // Go on alone: the moments of every share into this process (the missing ones as of the version
        // before, whose weights this process holds), then the missing shares' step here.
        isActive = false
        for member in 0..<members {
            let wanted = missing.contains(member) ? version - 1 : version
            guard take(member, version: wanted, adam: &adam) else {
                return .lost(reason: "local worker \(member)'s share of version \(wanted) is not whole in the file")
            }
        }
        holdsMoments = true
        applyAdam(gradient, samples: samples, threads: threads, parameters: &parameters, adam: &adam,
                  shares: missing.map { shares[$0] }, step: step)
        aloneSteps += 1
        return .alone(missing: missing)
    }

    /// Makes this process' moments whole again at `version` (the weights' version here), from the file if
    /// the sharing holds them: for a state report or before applying a step alone. False if a member's
    /// share in the file is not of that version; the caller must then get the whole state again.
    public func gather(version: UInt64, into adam: inout AdamState) -> Bool {
        if holdsMoments { return true }
        for member in 0..<members {
            guard take(member, version: version, adam: &adam) else { return false }
        }
        holdsMoments = true
        return true
    }

    /// Ends the sharing for this process (its moments must be whole: `gather` first).
    public func leave() {
        precondition(holdsMoments, "SharedUpdate.leave: the moments are in the file; gather them first")
        isActive = false
    }

    /// Copies `member`'s share of the moments from the file, if the file holds that share at `version` and
    /// it is not rewritten meanwhile.
    private func take(_ member: Int, version: UInt64, adam: inout AdamState) -> Bool {
        guard glassbox_shared_load(slot(member)) == 2 * version else { return false }
        let s = shares[member]
        adam.m.withUnsafeMutableBufferPointer { copy(s, from: UnsafePointer(array(1)), to: $0.baseAddress!) }
        adam.v.withUnsafeMutableBufferPointer { copy(s, from: UnsafePointer(array(2)), to: $0.baseAddress!) }
        return glassbox_shared_load(slot(member)) == 2 * version
    }

    private func slot(_ member: Int) -> UnsafeMutablePointer<UInt64> {
        (mapping + SharedUpdate.slotBytes * (1 + member)).assumingMemoryBound(to: UInt64.self)
    }

    /// The file's weights (0), first moments (1) or second moments (2).
    private func array(_ index: Int) -> UnsafeMutablePointer<Float> {
        (mapping + SharedUpdate.headerBytes + index * count * 4).assumingMemoryBound(to: Float.self)
    }

    /// Waits until `member` has published `version` (or begun the next), up to `timeout` seconds: yielding the
    /// core for a few microseconds, then sleeping 20 µs at a time (the members finish within a millisecond
    /// of each other, and a spinning member would take a core from the coordinator's sending threads).
    private func arrives(_ member: Int, version: UInt64) -> Bool {
        let wanted = 2 * version
        if glassbox_shared_load(slot(member)) >= wanted { return true }
        let start = now()
        var polls = 0
        while glassbox_shared_load(slot(member)) < wanted {
            polls += 1
            if polls % 64 == 0 && now() - start > timeout { return false }
            if polls < 256 { sched_yield() } else { usleep(20) }
        }
        return true
    }

    /// Copies the elements of `share` from one full-layout array to another.
    private func copy(_ share: ParameterShare, from source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>) {
        for r in share.ranges { (target + r.lowerBound).update(from: source + r.lowerBound, count: r.count) }
    }
}

/// One process' mapping of a shared-update file, checked against the model; unmapped when released.
public final class SharedFileMapping: @unchecked Sendable {
    public let path: String
    public let members: Int
    /// The most samples one member's gradient part may hold.
    public let rowsCapacity: Int
    let base: UnsafeMutableRawPointer
    private let bytes: Int

    /// Maps the file at `path`, made by `SharedUpdate.create` for `members` members.
    public init(path: String, members: Int) throws {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw SharedUpdateError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, Int(info.st_size) >= SharedGradientParts.offset else {
            throw SharedUpdateError("\(path) holds \(info.st_size) bytes, too few for a shared-update file")
        }
        guard let base = mmap(nil, Int(info.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), base != MAP_FAILED else {
            throw SharedUpdateError("cannot map \(path): \(String(cString: strerror(errno)))")
        }
        let header = base.assumingMemoryBound(to: UInt64.self)
        let capacity = Int(clamping: header[3])
        guard header[0] == SharedUpdate.magic, header[1] == UInt64(members), header[2] == UInt64(SeedCNN.layout.count),
              capacity >= 1, capacity <= SharedGradientParts.maxRowsCapacity,
              Int(info.st_size) == SharedUpdate.fileBytes(members: members, rowsCapacity: capacity) else {
            let found = "header \(String(header[0], radix: 16)) \(header[1]) \(header[2]) \(header[3]), \(info.st_size) bytes"
            munmap(base, Int(info.st_size))
            throw SharedUpdateError("\(path) is not a shared-update file for \(members) members of \(SeedCNN.layout.count) "
                                    + "parameters (\(found))")
        }
        self.path = path
        self.members = members
        self.base = base
        bytes = Int(info.st_size)
        rowsCapacity = capacity
    }

    deinit { munmap(base, bytes) }
}

/// A shared-update file that cannot be made or used, with the path and the reason.
public struct SharedUpdateError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
