import AgentSession
import Foundation
import NIOConcurrencyHelpers
import Synchronization

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
        let input = Data(try JSONWire.encode(parameters).utf8)
        let execution = ToolProcess(command: definition.command, input: input)
        let timer = definition.timeout.map { timeout in
            Task {
                try await Task.sleep(for: timeout)
                execution.expire()
            }
        }
        defer { timer?.cancel() }
        do {
            return try await withTaskCancellationHandler {
                try await execution.run(name: name)
            } onCancel: {
                execution.terminate()
            }
        } catch where execution.expired {
            throw ClientToolError.timedOut(tool: name, after: definition.timeout ?? .zero)
        }
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
        for line in text.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) where !line.isEmpty && !line.hasPrefix("#") {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
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

/// One run of a tool executable, killable from another task.
final class ToolProcess: Sendable {
    private let process = NIOLockedValueBox<Process?>(nil)
    private let expiredFlag = Atomic(false)
    let command: [String]
    let input: Data

    init(command: [String], input: Data) {
        self.command = command
        self.input = input
    }

    func run(name: String) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = ClientToolDirectory.environment
        process.currentDirectoryURL = URL(fileURLWithPath: "/")
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        let exited = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { exited.continuation.yield($0.terminationStatus) }
        try process.run()
        self.process.withLockedValue { $0 = process }
        try? stdin.fileHandleForWriting.write(contentsOf: input)
        try? stdin.fileHandleForWriting.close()
        async let output = Self.readBounded(stdout.fileHandleForReading)
        async let errors = Self.readBounded(stderr.fileHandleForReading)
        var statuses = exited.stream.makeAsyncIterator()
        let status = await statuses.next() ?? -1
        let (result, diagnostics) = await (output, errors)
        guard status == 0 else {
            let detail = diagnostics.trimmingCharacters(in: .whitespacesAndNewlines)
            throw ClientToolError.failed(tool: name, detail: "exit status \(status)" + (detail.isEmpty ? "" : ": \(detail)"))
        }
        return result.trimmingCharacters(in: .newlines)
    }

    /// Kills the tool because its own timeout passed.
    func expire() {
        expiredFlag.store(true, ordering: .relaxed)
        terminate()
    }

    var expired: Bool { expiredFlag.load(ordering: .relaxed) }

    /// A tool past its time gets no second chance to ignore a SIGTERM.
    func terminate() {
        guard let process = process.withLockedValue({ $0 }), process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
    }

    /// Reads until end of file, keeping at most the output limit. The
    /// blocking reads run on a thread of their own: a tool that keeps its
    /// output open must not hold a thread of the cooperative pool.
    private static func readBounded(_ handle: FileHandle) async -> String {
        await withCheckedContinuation { continuation in
            Thread {
                var kept = Data()
                while let chunk = try? handle.read(upToCount: 16 << 10), !chunk.isEmpty {
                    if kept.count < ClientToolDirectory.maxOutputBytes {
                        kept.append(chunk.prefix(ClientToolDirectory.maxOutputBytes - kept.count))
                    }
                }
                continuation.resume(returning: String(decoding: kept, as: UTF8.self))
            }.start()
        }
    }
}
