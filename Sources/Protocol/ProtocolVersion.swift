/// Wire protocol version spoken by coordinator and workers. A minor version only appends fields, which
/// readers read from payloads of that minor or newer (`PayloadReader.minorVersion`): 3.1 added the step
/// gradients left in a shared file (`StepOptions.gradientToSharedFile`, `StepResult.sharedPart`,
/// `StepUpdate.sharedParts`) and the kernel paths at hello and welcome.
public enum ProtocolVersion {
    public static let major: UInt16 = 3
    public static let minor: UInt16 = 1
}
