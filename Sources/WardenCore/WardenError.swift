/// The one error shape every layer reports: what went wrong, in which file, at which JSON path.
/// Its `description` is the single line a user sees; `exitCode` is the documented exit code.
public struct WardenError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        /// Bad input: a config, state, profile or policy that cannot be used (exit 2).
        case input
        /// The environment failed us: I/O, a syscall, libseccomp (exit 3).
        case system
        /// The container falls short of the policy and must not run (exit 1).
        case refused
    }

    public var kind: Kind
    public var file: String?
    /// `line:column` for parse errors.
    public var location: (line: Int, column: Int)?
    public var path: JSONPath?
    public var message: String

    public init(_ kind: Kind, file: String? = nil, path: JSONPath? = nil,
                location: (line: Int, column: Int)? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.path = path
        self.location = location
        self.message = message
    }

    public static func input(_ message: String, file: String? = nil, path: JSONPath? = nil) -> WardenError {
        WardenError(.input, file: file, path: path, message)
    }

    public static func system(_ message: String, file: String? = nil) -> WardenError {
        WardenError(.system, file: file, message)
    }

    public var exitCode: Int32 {
        switch kind {
        case .refused: 1
        case .input: 2
        case .system: 3
        }
    }

    /// `FILE[:line:column][: PATH]: message`; without a file (a command-line value) the message alone,
    /// never a made-up name: every reader names its file, or `<stdin>`.
    public var description: String {
        var head = file ?? ""
        if let location { head += "\(head.isEmpty ? "" : ":")\(location.line):\(location.column)" }
        if let path, !path.isRoot { head += "\(head.isEmpty ? "" : ": ")\(path)" }
        return head.isEmpty ? message : "\(head): \(message)"
    }

    /// The same error with the file named, for layers that decode before they know the file.
    public func inFile(_ name: String) -> WardenError {
        var copy = self
        if copy.file == nil { copy.file = name }
        return copy
    }
}
