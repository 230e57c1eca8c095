import ArgumentParser

/// Refuses a CURVE key-pair name that cannot be a file name in a key folder, or that would overwrite the
/// coordinator's own pair.
public func validateCurveKeyName(_ name: String, option: String) throws {
    guard !name.isEmpty, name != "coordinator", !name.contains("/"), !name.hasPrefix(".") else {
        throw ValidationError("\(option) \(name): a key name must be non-empty, not \"coordinator\", without / "
                              + "and not starting with a dot")
    }
}
