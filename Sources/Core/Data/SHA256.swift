// SHA-256 as specified in FIPS 180-4. Used to fingerprint data sets and hash weights, so that two
// runs (or two machines) can tell cheaply whether they hold the same bytes. The compression function runs
// on the CPU's SHA extensions where it has them (CKernels: a 10 MB checkpoint's hash takes 7 ms instead of
// 40 on an AMD EPYC), else the readable loops below; both give the same state (SHA256Tests).

import CKernels

/// Streaming SHA-256: feed bytes with `update` in as many pieces as convenient, then read the
/// digest. Splitting the input differently never changes the digest.
public struct SHA256: Sendable {
    /// The digest size in bytes.
    public static let digestByteCount = 32

    private var state: [UInt32] = [
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a,
        0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19,
    ]
    /// Bytes not yet compressed; always fewer than one 64-byte block.
    private var pending: [UInt8] = []
    private var totalByteCount: UInt64 = 0

    /// A hasher that has seen no bytes yet.
    public init() {}

    /// Appends `bytes` to the message.
    public mutating func update(_ bytes: some Collection<UInt8>) {
        let handled: Void? = bytes.withContiguousStorageIfAvailable { update(contiguous: $0) }
        if handled == nil {
            Array(bytes).withUnsafeBufferPointer { update(contiguous: $0) }
        }
    }

    /// The 32-byte digest of everything passed to `update` so far. The hasher is left unchanged,
    /// so more bytes may be appended afterwards.
    public func digest() -> [UInt8] {
        var copy = self
        // Padding: a 1 bit, zeros up to 56 mod 64, then the message length in bits, big-endian.
        let bitCount = totalByteCount &* 8
        var tail: [UInt8] = [0x80]
        tail += [UInt8](repeating: 0, count: (119 - pending.count) % 64)
        tail += (0..<8).map { UInt8(truncatingIfNeeded: bitCount >> (56 - 8 * UInt64($0))) }
        copy.update(tail)
        return copy.state.flatMap { word in
            (0..<4).map { UInt8(truncatingIfNeeded: word >> (24 - 8 * UInt32($0))) }
        }
    }

    /// The digest as 64 lowercase hexadecimal digits, as printed by `sha256sum`.
    public func hexDigest() -> String {
        hexString(digest())
    }

    private mutating func update(contiguous input: UnsafeBufferPointer<UInt8>) {
        totalByteCount &+= UInt64(input.count)
        var rest = input[...]
        if !pending.isEmpty {
            let take = min(64 - pending.count, rest.count)
            pending += rest.prefix(take)
            rest = rest.dropFirst(take)
            guard pending.count == 64 else { return }
            let block = pending
            block.withUnsafeBufferPointer { compress(blocks: $0) }
            pending.removeAll(keepingCapacity: true)
        }
        let wholeBlocksEnd = rest.startIndex + rest.count / 64 * 64
        compress(blocks: UnsafeBufferPointer(rebasing: rest[..<wholeBlocksEnd]))
        pending += rest[wholeBlocksEnd...]
    }

    /// Whether the compression runs on the CPU's SHA extensions (tests may turn it off to compare).
    nonisolated(unsafe) static var usesSHAExtensions = hasSHAExtensions
    /// Whether this CPU has them.
    public static let hasSHAExtensions = CPUFeatures.current.sha

    /// Runs the compression function over each 64-byte block of `blocks` (count a multiple of 64).
    private mutating func compress(blocks: UnsafeBufferPointer<UInt8>) {
        guard blocks.count >= 64, let base = blocks.baseAddress else { return }
        if SHA256.usesSHAExtensions {
            state.withUnsafeMutableBufferPointer { glassbox_sha256_blocks_shani($0.baseAddress!, base, blocks.count / 64) }
            return
        }
        state.withUnsafeMutableBufferPointer { h in
            SHA256.roundConstants.withUnsafeBufferPointer { k in
                withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
                    SHA256.compress(
                        state: h.baseAddress!, blocks: base, blockCount: blocks.count / 64,
                        roundConstants: k.baseAddress!, schedule: w.baseAddress!)
                }
            }
        }
    }

    /// The compression function of FIPS 180-4 section 6.2.2 over `blockCount` consecutive blocks.
    private static func compress(
        state h: UnsafeMutablePointer<UInt32>, blocks: UnsafePointer<UInt8>, blockCount: Int,
        roundConstants k: UnsafePointer<UInt32>, schedule w: UnsafeMutablePointer<UInt32>
    ) {
        for blockIndex in 0..<blockCount {
            let block = blocks + 64 * blockIndex
            for t in 0..<16 {
                let b = block + 4 * t
                w[t] = UInt32(b[0]) &<< 24 | UInt32(b[1]) &<< 16 | UInt32(b[2]) &<< 8 | UInt32(b[3])
            }
            for t in 16..<64 {
                let s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] &>> 3)
                let s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] &>> 10)
                w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
            }
            var a = h[0]
            var b = h[1]
            var c = h[2]
            var d = h[3]
            var e = h[4]
            var f = h[5]
            var g = h[6]
            var hh = h[7]
            for t in 0..<64 {
                let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                let choice = (e & f) ^ (~e & g)
                let t1 = hh &+ s1 &+ choice &+ k[t] &+ w[t]
                let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                let majority = (a & b) ^ (a & c) ^ (b & c)
                let t2 = s0 &+ majority
                hh = g
                g = f
                f = e
                e = d &+ t1
                d = c
                c = b
                b = a
                a = t1 &+ t2
            }
            h[0] &+= a
            h[1] &+= b
            h[2] &+= c
            h[3] &+= d
            h[4] &+= e
            h[5] &+= f
            h[6] &+= g
            h[7] &+= hh
        }
    }

    /// The first 32 bits of the fractional parts of the cube roots of the first 64 primes.
    private static let roundConstants: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5,
        0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3,
        0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc,
        0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7,
        0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13,
        0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3,
        0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5,
        0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208,
        0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]
}

@inline(__always)
private func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 {
    // Masking shifts on a concrete type are transparent, so they stay cheap in debug builds.
    (x &>> n) | (x &<< (32 &- n))
}

/// The SHA-256 of `bytes` as 64 lowercase hexadecimal digits (the form `sha256sum` prints).
public func sha256Hex(_ bytes: some Collection<UInt8>) -> String {
    var hasher = SHA256()
    hasher.update(bytes)
    return hasher.hexDigest()
}
