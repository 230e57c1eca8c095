import Foundation
import Protocol

/// Reads a Z85 CURVE key file as `glassbox-coordinator keygen` writes it (40 characters; surrounding
/// whitespace ignored). Both sides read their keys through this one function.
func readCurveKey(_ path: String) throws -> String {
    let text: String
    do {
        text = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
        throw ClusterError("cannot read CURVE key \(path): \(error.localizedDescription) "
                           + "(write keys with `glassbox-coordinator keygen --out DIR`)")
    }
    let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
    guard Curve.isValidKey(key) else { throw ClusterError("\(path) does not hold a 40-character Z85 CURVE key") }
    return key
}
