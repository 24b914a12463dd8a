import AgentSession
import FoundationEssentials
import Glibc
import Subprocess
import SystemPackage

/// Client tools from a directory. A tool named `get_weather` is either
/// `<directory>/get_weather.tool`, a definition with the command line and
/// its own timeout, or an executable `<directory>/get_weather`. It runs with
/// the call's parameters as JSON on stdin, without a shell, in a clean
/// environment; its stdout is the result. A non-zero exit, a timeout or a
/// missing tool throws, which the session answers with `is_error: true`.
struct ClientToolDirectory: ClientToolRunner {
    static let maxOutputBytes = 64 << 10
    static let environment = ["PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"]

    let directory: String

    func run(tool name: String, parameters: [String: JSONValue]) async throws -> String {
        let definition = try definition(of: name)
        let input = try JSONWire.encode(parameters)
        guard let timeout = definition.timeout else {
            return try await Self.execute(definition.command, input: input, name: name)
        }
        // The loser is cancelled: a tool past its time is killed (SIGKILL,
        // no second chance to ignore a SIGTERM).
        return try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask { try await Self.execute(definition.command, input: input, name: name) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let result = try await group.next() ?? nil else {
                throw ClientToolError.timedOut(tool: name, after: timeout)
            }
            return result
        }
    }

    /// Runs the command with `input` on stdin, in "/", in the clean
    /// environment; returns its stdout, at most `maxOutputBytes` of it.
    private static func execute(_ command: [String], input: String, name: String) async throws -> String {
        let result = try await Subprocess.run(
            .path(FilePath(command[0])), arguments: Arguments(Array(command.dropFirst())),
            environment: .custom(Dictionary(uniqueKeysWithValues: environment.map { (Environment.Key(stringLiteral: $0.key), $0.value) })),
            workingDirectory: "/", input: .fileDescriptor(try inputFile(input), closeAfterSpawningProcess: true), output: .sequence,
            error: .sequence
        ) { execution in
            async let errors = readBounded(execution.standardError)
            let output = try await readBounded(execution.standardOutput)
            return (output, try await errors)
        }
        let (output, diagnostics) = result.closureResult
        guard result.terminationStatus.isSuccess else {
            let detail = diagnostics.trimmed(\Character.isWhitespace)
            throw ClientToolError.failed(tool: name, detail: "\(result.terminationStatus.operatorDescription)" + (detail.isEmpty ? "" : ": \(detail)"))
        }
        return String(output.trimmed(\Character.isNewline))
    }

    /// The parameters in an unlinked temporary file, to be the tool's
    /// stdin. Not a pipe: swift-subprocess 1.0.2 traps when writing stdin
    /// fails, and a tool that exits without reading makes it fail.
    private static func inputFile(_ input: String) throws -> FileDescriptor {
        var template = Array("/tmp/voiceagentd-tool-XXXXXX".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { throw Errno(rawValue: errno) }
        unlink(template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        let file = FileDescriptor(rawValue: descriptor)
        do {
            _ = try file.writeAll(input.utf8)
            _ = try file.seek(offset: 0, from: .start)
        } catch {
            try? file.close()
            throw error
        }
        return file
    }

    /// Reads to the end, keeping at most `maxOutputBytes`: a tool that
    /// floods its output is drained, not left blocked on a full pipe.
    private static func readBounded(_ stream: SubprocessOutputSequence) async throws -> String {
        var kept: [UInt8] = []
        for try await buffer in stream where kept.count < maxOutputBytes {
            buffer.withUnsafeBytes { kept.append(contentsOf: $0.prefix(maxOutputBytes - kept.count)) }
        }
        return String(decoding: kept, as: UTF8.self)
    }

    func definition(of name: String) throws -> ToolDefinition {
        guard Self.isSafeName(name) else { throw ClientToolError.unknownTool(name) }
        let path = directory + "/" + name
        if let text = try? String(contentsOfFile: path + ".tool", encoding: .utf8) {
            do {
                return try ToolDefinition(parsing: text)
            } catch {
                throw ClientToolError.failed(tool: name, detail: "\(path).tool: \(error)")
            }
        }
        guard FileManager.default.isExecutableFile(atPath: path) else { throw ClientToolError.unknownTool(name) }
        return ToolDefinition(command: [path], timeout: nil)
    }

    /// A name that cannot climb out of the directory or hide.
    static func isSafeName(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix(".") && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == ".") }
    }
}

/// A `.tool` file: `exec=` the absolute path and its arguments (split at
/// spaces, no shell, no quoting) and, optionally, `timeout_ms=`. Lines
/// starting with `#` are comments.
struct ToolDefinition: Equatable {
    var command: [String]
    var timeout: Duration?

    init(command: [String], timeout: Duration?) {
        self.command = command
        self.timeout = timeout
    }

    init(parsing text: String) throws(ToolDefinitionError) {
        var command: [String]?
        var timeout: Duration?
        for line in text.split(separator: "\n").map({ $0.trimmed(\.isWhitespace) }) where !line.isEmpty && !line.hasPrefix("#") {
            let parts = line.split(separator: "=", maxSplits: 1).map { String($0.trimmed(\.isWhitespace)) }
            switch (parts.first, parts.count) {
            case ("exec", 2):
                command = parts[1].split(separator: " ").map(String.init)
            case ("timeout_ms", 2):
                guard let milliseconds = Int(parts[1]), milliseconds > 0 else { throw .invalid("timeout_ms must be a positive whole number") }
                timeout = .milliseconds(milliseconds)
            default:
                throw .invalid("'\(line)' is not exec=… or timeout_ms=…")
            }
        }
        guard let command, let executable = command.first, executable.hasPrefix("/") else {
            throw .invalid("exec= must give the absolute path of the program")
        }
        self.command = command
        self.timeout = timeout
    }
}

enum ToolDefinitionError: Error, CustomStringConvertible {
    case invalid(String)

    var description: String {
        switch self {
        case .invalid(let reason): reason
        }
    }
}

extension TerminationStatus {
    /// "exit status 3" or "killed by signal 9".
    var operatorDescription: String {
        switch self {
        case .exited(let code): "exit status \(code)"
        case .signaled(let signal): "killed by signal \(signal)"
        }
    }
}

extension StringProtocol {
    /// Without the leading and trailing characters that match.
    func trimmed(_ isTrimmed: (Character) -> Bool) -> SubSequence {
        let start = firstIndex { !isTrimmed($0) } ?? endIndex
        let end = lastIndex { !isTrimmed($0) }.map(index(after:)) ?? start
        return self[start..<end]
    }
}
