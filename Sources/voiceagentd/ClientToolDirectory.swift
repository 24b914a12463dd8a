import AgentSession
import Foundation
import Synchronization

/// Client tools as executables: `<directory>/<tool name>` runs with the
/// call's parameters as JSON on stdin, without a shell, in a clean
/// environment; its stdout is the result. A non-zero exit, a timeout or a
/// missing tool throws, which the session answers with `is_error: true`.
struct ClientToolDirectory: ClientToolRunner {
    static let maxOutputBytes = 64 << 10
    static let environment = ["PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"]

    let directory: String

    func run(tool name: String, parameters: [String: JSONValue]) async throws -> String {
        guard Self.isSafeName(name) else { throw ClientToolError.unknownTool(name) }
        let path = directory + "/" + name
        guard FileManager.default.isExecutableFile(atPath: path) else { throw ClientToolError.unknownTool(name) }
        let input = Data(try JSONWire.encode(parameters).utf8)
        let execution = ToolProcess(path: path, input: input)
        return try await withTaskCancellationHandler {
            try await execution.run(name: name)
        } onCancel: {
            execution.terminate()
        }
    }

    /// A name that cannot climb out of the directory or hide.
    static func isSafeName(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix(".") && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == ".") }
    }
}

/// One run of a tool executable, killable from another task.
final class ToolProcess: Sendable {
    private let process = Mutex<Process?>(nil)
    let path: String
    let input: Data

    init(path: String, input: Data) {
        self.path = path
        self.input = input
    }

    func run(name: String) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
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
        self.process.withLock { $0 = process }
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

    /// A tool past its time gets no second chance to ignore a SIGTERM.
    func terminate() {
        guard let process = process.withLock({ $0 }), process.isRunning else { return }
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
