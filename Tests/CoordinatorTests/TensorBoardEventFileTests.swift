@testable import Coordinator
import Core
import Foundation
import XCTest

/// TensorBoard's event-file format, written by hand: the expected bytes were made by the `tensorboard`
/// PyPI package 2.21 (its protobuf classes' `SerializeToString()` and its `RecordWriter`), an
/// implementation independent of Glassbox's, e.g.
/// `RecordWriter(buf).write(event_pb2.Event(wall_time=1.5, file_version="brain.Event:2").SerializeToString())`.
final class TensorBoardEventFileTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "glassbox-tensorboard-\(getpid())-\(UUID().uuidString)"
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let next = hex.index(i, offsetBy: 2)
            out.append(UInt8(hex[i..<next], radix: 16)!)
            i = next
        }
        return out
    }

    private let fileVersion = TensorBoardEvent(wallTime: 1.5, step: 0, content: .fileVersion("brain.Event:2"))
    private let scalar = TensorBoardEvent(wallTime: 2.25, step: 7, content: .summary([.scalar(tag: "loss", value: 0.5)]))
    // Step 300 needs a two-byte varint (0xac 0x02).
    private let image = TensorBoardEvent(
        wallTime: 3, step: 300,
        content: .summary([.image(tag: "map", .init(height: 2, width: 3, colorspace: 4, png: [0x89, 0x50, 0x4E, 0x47]))]))

    func testEventsEncodeToTheBytesOfTensorBoardsOwnProtobufClasses() {
        XCTAssertEqual(fileVersion.encoded, bytes("09000000000000f83f1a0d627261696e2e4576656e743a32"))
        XCTAssertEqual(scalar.encoded, bytes("09000000000000024010072a0d0a0b0a046c6f7373150000003f"))
        XCTAssertEqual(image.encoded, bytes("09000000000000084010ac022a150a130a036d6170220c080210031804220489504e47"))
    }

    func testRecordFramingMatchesTensorBoardsRecordWriter() {
        XCTAssertEqual(TFRecord.frame(fileVersion.encoded),
                       bytes("1800000000000000a37f4b2209000000000000f83f1a0d627261696e2e4576656e743a322a28646c"))
        XCTAssertEqual(TFRecord.frame(scalar.encoded),
                       bytes("1a00000000000000129bd82d09000000000000024010072a0d0a0b0a046c6f7373150000003fb6a6c418"))
        XCTAssertEqual(TFRecord.frame(image.encoded),
                       bytes("2300000000000000b09f774309000000000000084010ac022a150a130a036d6170220c080210031804220489504e47942119cf"))
    }

    /// A zero scalar sits in a oneof and must still be written, or a reader sees a value without a number.
    func testZeroScalarIsStillWritten() {
        let zero = TensorBoardEvent(wallTime: 2.25, step: 7, content: .summary([.scalar(tag: "loss", value: 0)]))
        XCTAssertEqual(zero.encoded, bytes("09000000000000024010072a0d0a0b0a046c6f73731500000000"))
    }

    /// The records of an event file, each checked against both of its checksums.
    private func records(_ path: String) throws -> [[UInt8]] {
        let file = try FileBytes.read(path)
        var records: [[UInt8]] = []
        var at = 0
        func uint32(_ i: Int) -> UInt32 { file[i..<i + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        while at < file.count {
            XCTAssertGreaterThanOrEqual(file.count - at, 16, "torn record at byte \(at)")
            let lengthBytes = Array(file[at..<at + 8])
            let length = Int(lengthBytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            XCTAssertEqual(uint32(at + 8), TFRecord.maskedCRC32C(lengthBytes), "length checksum at byte \(at)")
            let data = Array(file[at + 12..<at + 12 + length])
            XCTAssertEqual(uint32(at + 12 + length), TFRecord.maskedCRC32C(data), "data checksum at byte \(at)")
            records.append(data)
            at += 16 + length
        }
        return records
    }

    func testEventFileStartsWithTheVersionAndHoldsEachEventAsOneRecord() throws {
        let board = try TensorBoardLog(directory: directory, wallTime: 1.5)
        XCTAssertTrue((board.path as NSString).lastPathComponent.hasPrefix("events.out.tfevents.1."), board.path)
        board.progress(TrainingProgress(epoch: 2, epochs: 3, step: 5, steps: 10, samplesPerSecond: 800, loss: 0.25,
                                        acc: 0.5, etaSeconds: 1, epochEtaSeconds: 1))
        try board.epoch(2, row: ["loss": 0.125, "acc": 0.75, "umap_trustworthiness": 0.5, "seconds": 9])
        let png = directory + "/frame.png"
        try writePNG(RGBAImage(width: 3, height: 2, color: RGBColor(red: 1, green: 0, blue: 0)), to: png)
        try board.map(epoch: 2, pngPath: png)

        let found = try records(board.path)
        XCTAssertEqual(found.count, 4)
        XCTAssertEqual(found.first, fileVersion.encoded)
        // Progress of epoch 2, step 5 of 10: step 15 of the run; Float(0.25) etc. are exact.
        XCTAssertEqual(Array(found[1].dropFirst(9)), Array(TensorBoardEvent(wallTime: 0, step: 15, content: .summary([
            .scalar(tag: "step/loss", value: 0.25), .scalar(tag: "step/acc", value: 0.5),
            .scalar(tag: "step/samples_per_second", value: 800),
        ])).encoded))
        // `seconds` has no tag; the others keep `epochTags`' order.
        XCTAssertEqual(Array(found[2].dropFirst(9)), Array(TensorBoardEvent(wallTime: 0, step: 2, content: .summary([
            .scalar(tag: "epoch/loss", value: 0.125), .scalar(tag: "epoch/acc", value: 0.75),
            .scalar(tag: "epoch/trustworthiness", value: 0.5),
        ])).encoded))
        let pngBytes = try FileBytes.read(png)
        XCTAssertEqual(Array(found[3].dropFirst(9)), Array(TensorBoardEvent(wallTime: 0, step: 2, content: .summary([
            .image(tag: "map", .init(height: 2, width: 3, colorspace: 4, png: pngBytes)),
        ])).encoded), "an RGBA PNG of 3 x 2 pixels")
    }

    func testMapThatIsNotAPNGIsRefusedWithItsPath() throws {
        let board = try TensorBoardLog(directory: directory)
        let path = directory + "/not.png"
        try Data("not a png at all, but long enough".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try board.map(epoch: 1, pngPath: path)) { error in
            XCTAssertEqual("\(error)", "\(path): not a PNG file")
        }
    }

    func testDirectoryThatCannotBeMadeIsOneLineNamingThePathAndTheReason() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = directory + "/a-file"
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data()))
        XCTAssertThrowsError(try TensorBoardLog(directory: file + "/tb")) { error in
            XCTAssertEqual("\(error)", "--tensorboard: cannot create directory \(file)/tb: Not a directory")
        }
        XCTAssertThrowsError(try TensorBoardLog(directory: file)) { error in
            XCTAssertEqual("\(error)", "--tensorboard: \(file) exists and is not a directory")
        }
    }
}
