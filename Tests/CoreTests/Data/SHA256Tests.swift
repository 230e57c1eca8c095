import XCTest

@testable import Core

final class SHA256Tests: XCTestCase {
    /// FIPS 180-4 example messages (NIST CSRC "SHA256.pdf" and the one-million-'a' test).
    func testMatchesPublishedTestVectors() {
        XCTAssertEqual(
            sha256Hex([UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )
        XCTAssertEqual(
            sha256Hex(Array("abc".utf8)),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(
            sha256Hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let twoBlocks =
            "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
        XCTAssertEqual(
            sha256Hex(Array(twoBlocks.utf8)),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        XCTAssertEqual(
            sha256Hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// The compression on the SHA extensions and the readable loops give the same digests (where the CPU
    /// has the extensions; elsewhere both runs take the loops and the test says so).
    func testTheSHAExtensionsAndThePlainLoopsGiveTheSameDigests() throws {
        let saved = SHA256.usesSHAExtensions
        defer { SHA256.usesSHAExtensions = saved }
        var rng = SplitMix64(seed: 13, stream: .sampling)
        let lengths = Array(0...200) + [1000, 4096, 65_537, 1 << 20]
        for length in lengths {
            let message = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            SHA256.usesSHAExtensions = false
            let plain = sha256Hex(message)
            SHA256.usesSHAExtensions = SHA256.hasSHAExtensions
            XCTAssertEqual(sha256Hex(message), plain, "\(length) bytes")
        }
        SHA256.usesSHAExtensions = false
        XCTAssertEqual(sha256Hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        if !SHA256.hasSHAExtensions { throw XCTSkip("this CPU has no SHA extensions: only the plain loops ran") }
    }

    func testSplittingTheInputAnywhereGivesTheSameDigest() {
        var rng = SplitMix64(seed: 11, stream: .sampling)
        let message = (0..<300).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let whole = sha256Hex(message)
        for cut in 0...message.count {
            var hasher = SHA256()
            hasher.update(message[..<cut])
            hasher.update(message[cut...])
            XCTAssertEqual(hasher.hexDigest(), whole, "split at \(cut)")
        }
        var byteByByte = SHA256()
        for byte in message { byteByByte.update(CollectionOfOne(byte)) }
        XCTAssertEqual(byteByByte.hexDigest(), whole)
        XCTAssertEqual(sha256Hex(message.lazy.map { $0 }), whole, "non-contiguous collection")
    }

    func testDigestDoesNotEndTheStream() {
        var hasher = SHA256()
        hasher.update(Array("ab".utf8))
        XCTAssertEqual(hasher.hexDigest(), sha256Hex(Array("ab".utf8)))
        hasher.update(Array("c".utf8))
        XCTAssertEqual(hasher.digest().count, SHA256.digestByteCount)
        XCTAssertEqual(
            hasher.hexDigest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    /// Lengths around the 55/56/64-byte padding boundaries, checked against coreutils' sha256sum.
    func testAgreesWithSha256sumAroundPaddingBoundaries() throws {
        let directory = try makeScratchDirectory()
        var rng = SplitMix64(seed: 12, stream: .sampling)
        for length in [1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 4097] {
            let message = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let path = directory + "/m\(length)"
            try writeFile(message, to: path)
            let result = try runTool(["sha256sum", path])
            guard result.status == 0 else {
                throw XCTSkip("sha256sum is not available: \(result.stderr)")
            }
            XCTAssertEqual(sha256Hex(message), String(result.stdout.prefix(64)), "length \(length)")
        }
    }
}
