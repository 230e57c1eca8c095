import Foundation

/// The run's event log, `events.jsonl`: one JSON object per line with the time, the event's name and its
/// fields (workers joining, leaving or refused, epochs, checkpoints). Safe to use from any thread.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private let handle: FileHandle?

    /// Appends to `path` (created if missing); nil path: events are dropped.
    init(path: String?) throws {
        guard let path else {
            handle = nil
            return
        }
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw RunError("cannot create event log \(path)")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw RunError("cannot open event log \(path)") }
        handle.seekToEndOfFile()
        self.handle = handle
    }

    /// Writes `{"time": ..., "event": name, ...fields}`; field values must be JSON-serialisable.
    func record(_ name: String, _ fields: [String: Any] = [:]) {
        guard let handle else { return }
        var object = fields
        object["event"] = name
        object["time"] = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt,
                                                      formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        lock.withLock {
            handle.write(data)
            handle.write(Data("\n".utf8))
        }
    }
}
