import Foundation

/// A program left running while its owner lives, its output handed over
/// as it comes, from whatever thread reads it.
public final class RunningProgram: Sendable {
    private let process = Process()

    public init(_ path: String, _ arguments: [String], environment: [String: String]? = nil, output: @escaping @Sendable (Data) -> Void) throws {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        pipe.fileHandleForReading.readabilityHandler = { output($0.availableData) }
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
    }
}
