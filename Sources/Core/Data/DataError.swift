/// A problem with a data file: which file, what kind of problem, and a sentence saying exactly
/// what was wrong (expected versus found, and where), so that a user can act on it.
public struct DataError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong, for code that wants to react to one kind of problem.
    public enum Kind: String, Sendable {
        /// The file (or a whole data set) is not there.
        case missingFile
        /// The operating system refused to open, read or write the file.
        case io
        /// The leading magic bytes are not the format's.
        case badMagic
        /// A header field is malformed or impossible (zero or huge dimensions, bad JSON, ...).
        case badHeader
        /// The element type is one this reader does not handle.
        case unsupportedType
        /// The file ends before the header says it should.
        case truncated
        /// The file goes on after the header says it should have ended.
        case trailingBytes
        /// A gzip stream that zlib cannot decompress.
        case corruptGzip
        /// The content is larger than the reader accepts (a guard against decompression bombs).
        case tooLarge
        /// A value inside the data is out of its allowed range (e.g. a label of 11).
        case badValue
        /// Two files, or two parts of one, disagree (e.g. image and label counts).
        case mismatch
        /// A value passed in to be written cannot be written as asked.
        case invalidArgument
    }

    /// The file the problem is in (or the directory, for a data set that is not there).
    public let path: String
    /// The kind of problem.
    public let kind: Kind
    /// What was wrong, without the path.
    public let message: String

    /// An error about `path`.
    public init(_ kind: Kind, path: String, _ message: String) {
        self.kind = kind
        self.path = path
        self.message = message
    }

    /// "path: message".
    public var description: String { "\(path): \(message)" }
}
