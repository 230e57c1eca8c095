#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Cores available to this process.
public func defaultThreadCount() -> Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

/// Peak resident set size of this process in bytes (VmHWM).
public func peakResidentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kb * 1024
    }
    return 0
}
