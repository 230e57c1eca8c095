import Foundation

/// The run's event log, `events.jsonl`: one JSON object per line with the time, the event's name and its
/// fields (workers joining, leaving or refused, epochs, checkpoints). Safe to use from any thread.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private let handle: FileHandle?
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

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

    /// Writes `{"time": ..., "event": name, ...fields}` with the keys sorted. Field values are strings,
    /// integers, `Double`s, booleans, and arrays and string-keyed dictionaries of them; an
    /// event with any other value is dropped.
    func record(_ name: String, _ fields: [String: Any] = [:]) {
        guard let handle else { return }
        var object = fields
        object["event"] = name
        object["time"] = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt,
                                                      formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        guard let value = EventValue(object), let data = try? encoder.encode(value) else { return }
        lock.withLock {
            handle.write(data)
            handle.write(Data("\n".utf8))
        }
    }
}

/// One JSON value of an event, so that `record`'s loosely typed fields are written by `JSONEncoder`.
enum EventValue: Encodable {
    case string(String)
    case integer(Int)
    /// An integer above `Int.max`.
    case unsigned(UInt64)
    case number(Double)
    case bool(Bool)
    case array([EventValue])
    case object([String: EventValue])

    /// The value `any` holds, or nil if it (or anything inside it) is not one of the cases' types.
    init?(_ any: Any) {
        switch any {
        case let v as String: self = .string(v)
        case let v as Bool: self = .bool(v)
        case let v as Int: self = .integer(v)
        case let v as any BinaryInteger:
            if let i = Int(exactly: v) {
                self = .integer(i)
            } else if let u = UInt64(exactly: v) {
                self = .unsigned(u)
            } else {
                return nil
            }
        case let v as Double: self = .number(v)
        case let v as [Any]:
            let elements = v.compactMap(EventValue.init)
            guard elements.count == v.count else { return nil }
            self = .array(elements)
        case let v as [String: Any]:
            let entries = v.compactMapValues(EventValue.init)
            guard entries.count == v.count else { return nil }
            self = .object(entries)
        default: return nil
        }
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let v): try c.encode(v)
        case .integer(let v): try c.encode(v)
        case .unsigned(let v): try c.encode(v)
        case .number(let v): try c.encode(v)
        case .bool(let v): try c.encode(v)
        case .array(let v): try c.encode(v)
        case .object(let v): try c.encode(v)
        }
    }
}
