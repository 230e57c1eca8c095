import ArgumentParser

/// The longest wait any option may set (about 11.6 days). Longer waits are typos, and the socket
/// options they become count milliseconds in 32 bits (at most 24.8 days).
public let maximumSeconds = 1_000_000.0

/// Refuses a duration that is not a number, not positive, or longer than `maximumSeconds`, naming the option.
public func validateSeconds(_ seconds: Double, option: String) throws {
    guard seconds > 0, seconds <= maximumSeconds else {
        throw ValidationError("\(option) must be > 0 and at most \(Int(maximumSeconds)) seconds, got \(seconds)")
    }
}

/// Refuses a count outside `range`, naming the option and why the limit is there.
public func validateCount(_ count: Int, in range: ClosedRange<Int>, option: String, because reason: String = "") throws {
    guard range.contains(count) else {
        throw ValidationError("\(option) must be from \(range.lowerBound) to \(range.upperBound)"
                              + (reason.isEmpty ? "" : " (\(reason))") + ", got \(count)")
    }
}
