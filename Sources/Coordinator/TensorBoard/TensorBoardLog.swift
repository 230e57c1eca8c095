import Core
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `train --tensorboard DIR`: one TensorBoard event file, `DIR/events.out.tfevents.<seconds>.<host>`, that
/// `tensorboard --logdir DIR` reads while the run goes on. Every event is written to the file as soon as it
/// is made (no buffer in this process), so each epoch's values are visible when the epoch ends.
///
/// Tags: `step/*` at each progress line (step = steps trained in the whole run), `epoch/*` once an epoch
/// (step = epoch; epoch 0 is the map before training) and `map`, each epoch's `fig/epoch_NNN.png`.
/// Safe to call from several threads (the figure queue writes the images).
final class TensorBoardLog: @unchecked Sendable {
    /// The event file.
    let path: String
    private let descriptor: Int32
    private let lock = NSLock()
    /// The first failed write of a call that cannot throw (progress lines), thrown by the next `epoch`.
    private var deferredError: Error?

    /// metrics.jsonl keys and the tags their values get.
    static let epochTags: [(key: String, tag: String)] = [
        ("loss", "epoch/loss"), ("acc", "epoch/acc"), ("val_loss", "epoch/val_loss"), ("val_acc", "epoch/val_acc"),
        ("samples_per_second", "epoch/samples_per_second"), ("umap_trustworthiness", "epoch/trustworthiness"),
        ("umap_frame_displacement", "epoch/displacement"),
    ]

    /// Creates `directory` if needed and starts a new event file in it with the file-version event.
    init(directory: String, wallTime: Double = Date().timeIntervalSince1970) throws {
        try Self.makeDirectory(directory)
        path = (directory as NSString).appendingPathComponent("events.out.tfevents.\(Int(wallTime)).\(Self.hostName())")
        // O_APPEND: a second run started in the same second (a resume) adds to the file instead of cutting it.
        descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw RunError("--tensorboard: cannot create \(path): \(String(cString: strerror(errno)))")
        }
        try write(TensorBoardEvent(wallTime: wallTime, step: 0, content: .fileVersion("brain.Event:2")))
    }

    deinit { close(descriptor) }

    /// A progress line's running loss, accuracy and speed under `step/*`.
    func progress(_ line: TrainingProgress) {
        let step = Int64((line.epoch - 1) * line.steps + line.step)
        do {
            try scalars([("step/loss", line.loss), ("step/acc", line.acc), ("step/samples_per_second", line.samplesPerSecond)],
                        step: step)
        } catch {
            lock.lock(); defer { lock.unlock() }
            if deferredError == nil { deferredError = error }
        }
    }

    /// An epoch's metrics.jsonl row: those of `epochTags` that it holds, at step `epoch`.
    func epoch(_ epoch: Int, row: [String: Double]) throws {
        lock.lock(); let earlier = deferredError; lock.unlock()
        if let earlier { throw earlier }
        let values = Self.epochTags.compactMap { key, tag in row[key].map { (tag, $0) } }
        if !values.isEmpty { try scalars(values, step: Int64(epoch)) }
    }

    /// The PNG file at `pngPath` as the `map` image at step `epoch`.
    func map(epoch: Int, pngPath: String) throws {
        let png = try FileBytes.read(pngPath)
        guard png.count > 25, let size = pngDimensions(Data(png)) else { throw RunError("\(pngPath): not a PNG file") }
        let image = TensorBoardEvent.Image(height: size.height, width: size.width,
                                           colorspace: Self.colorspace(pngColorType: png[25]), png: png)
        try write(TensorBoardEvent(wallTime: Date().timeIntervalSince1970, step: Int64(epoch),
                                   content: .summary([.image(tag: "map", image)])))
    }

    private func scalars(_ values: [(tag: String, value: Double)], step: Int64) throws {
        try write(TensorBoardEvent(wallTime: Date().timeIntervalSince1970, step: step,
                                   content: .summary(values.map { .scalar(tag: $0.tag, value: Float($0.value)) })))
    }

    /// One framed record, written whole under the lock so records from two threads never interleave.
    private func write(_ event: TensorBoardEvent) throws {
        let record = TFRecord.frame(event.encoded)
        lock.lock(); defer { lock.unlock() }
        var done = 0
        while done < record.count {
            let n = record.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw RunError("--tensorboard: cannot write \(path): \(String(cString: strerror(errno)))") }
            done += n
        }
    }

    /// summary.proto's colorspace for a PNG colour type (IHDR byte 25): grey, grey + alpha, RGB (also
    /// palette images, which decode to RGB), RGBA.
    static func colorspace(pngColorType: UInt8) -> Int {
        switch pngColorType {
        case 0: 1
        case 4: 2
        case 6: 4
        default: 3
        }
    }

    /// `mkdir -p`, failing with the system's reason at the first component that cannot be made (Foundation's
    /// createDirectory reports only "error 512" for, e.g., a path under a file).
    private static func makeDirectory(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw RunError("--tensorboard: cannot create directory \(prefix): \(String(cString: strerror(errno)))")
            }
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RunError("--tensorboard: \(path) exists and is not a directory")
        }
    }

    private static func hostName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "localhost" }
        return String(cString: name)
    }
}
