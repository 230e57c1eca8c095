import Dispatch

/// Seconds since an arbitrary origin, from the monotonic clock: the one clock for durations and rates
/// (never wall time, which can step).
public func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
