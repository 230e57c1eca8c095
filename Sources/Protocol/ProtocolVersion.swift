/// Wire protocol version spoken by coordinator and workers.
public enum ProtocolVersion {
    public static let major: UInt16 = 3
    public static let minor: UInt16 = 0
}
