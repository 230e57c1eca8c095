/// Why a distributed run, or one side of it, cannot go on: one readable line that says what to do.
public struct ClusterError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
