import Foundation

/// The hosts of a `launch`, as a host file lists them: one `host[:workers[:threads]]` per line (Horovod's
/// `host:slots`), `#` starting a comment, blank lines ignored.
struct HostList: Equatable {
    struct Entry: Equatable {
        /// What `{host}` becomes in the remote-shell template: a host name, an address, a namespace.
        var host: String
        /// Worker processes to start there.
        var workers: Int
        /// Compute threads of each of them; nil lets the worker use all the host's cores divided by `workers`.
        var threads: Int?
    }

    var entries: [Entry]

    var totalWorkers: Int { entries.reduce(0) { $0 + $1.workers } }

    /// Parses the text of a host file; `source` names it in errors.
    init(parsing text: String, source: String) throws {
        entries = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first
                .map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            if line.isEmpty { continue }
            func failure(_ why: String) -> LaunchError {
                LaunchError("\(source) line \(index + 1): \(why) in \"\(line)\"; expected host[:workers[:threads]], "
                            + "e.g. node1:2:4")
            }
            let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard fields.count <= 3 else { throw failure("more than three fields") }
            let host = fields[0]
            guard !host.isEmpty, !host.contains(where: { $0.isWhitespace || $0 == "'" || $0 == "\"" }) else {
                throw failure("the host is empty or holds a space or a quote")
            }
            func number(_ position: Int, _ what: String) throws -> Int? {
                guard position < fields.count else { return nil }
                guard let n = Int(fields[position]), n >= 1, n <= 4096 else {
                    throw failure("\(what) must be a whole number from 1 to 4096, got \"\(fields[position])\"")
                }
                return n
            }
            let workers = try number(1, "workers") ?? 1
            let threads = try number(2, "threads")
            entries.append(Entry(host: host, workers: workers, threads: threads))
        }
        guard !entries.isEmpty else { throw LaunchError("\(source): no hosts (one host[:workers[:threads]] per line)") }
    }
}

/// A `launch` error: one line a user can act on.
struct LaunchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The words of a POSIX shell command that runs `arguments` as they are, quoted for `sh -c`.
func shellQuoted(_ arguments: [String]) -> String {
    arguments.map { word in
        let safe = !word.isEmpty && word.allSatisfy { $0.isLetter || $0.isNumber || "-_./:=@,+%".contains($0) }
        return safe ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }.joined(separator: " ")
}

/// The shell command that starts `arguments` on `host` through the remote-shell template (`{host}` is
/// replaced; the quoted command follows the template).
func remoteCommand(template: String, host: String, arguments: [String]) -> String {
    template.replacingOccurrences(of: "{host}", with: host) + " " + shellQuoted(arguments)
}
