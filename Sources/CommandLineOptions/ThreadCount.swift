import ArgumentParser

/// The most compute threads one process may be asked for. More only oversubscribes the host, and a
/// typo such as `--threads 100000` would otherwise spend minutes creating threads before saying anything.
public let maximumThreads = 1024

/// Refuses a thread count outside 1...`maximumThreads`, naming the option.
public func validateThreadCount(_ count: Int, option: String = "--threads") throws {
    guard (1...maximumThreads).contains(count) else {
        throw ValidationError("\(option) must be from 1 to \(maximumThreads), got \(count)")
    }
}
