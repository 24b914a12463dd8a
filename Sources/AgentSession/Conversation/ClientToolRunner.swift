/// Runs the agent's client tools. The daemon maps tool names to executables;
/// tests use closures.
public protocol ClientToolRunner: Sendable {
    /// Returns the tool's result text, or throws; a thrown error is answered
    /// to the agent with `is_error: true` and the error's description.
    func run(tool name: String, parameters: [String: JSONValue]) async throws -> String
}

public enum ClientToolError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownTool(String)
    case timedOut(tool: String, after: Duration)
    case failed(tool: String, detail: String)

    public var description: String {
        switch self {
        case .unknownTool(let name): "no client tool named '\(name)' is configured"
        case .timedOut(let name, let after): "client tool '\(name)' did not answer within \(after)"
        case .failed(let name, let detail): "client tool '\(name)' failed: \(detail)"
        }
    }
}

/// A runner that knows no tools: every call is answered as an error.
public struct NoClientTools: ClientToolRunner {
    public init() {}

    public func run(tool name: String, parameters: [String: JSONValue]) async throws -> String {
        throw ClientToolError.unknownTool(name)
    }
}

/// Runs a tool with a deadline, so the agent never waits forever: the call is
/// answered even when the runner ignores cancellation.
struct ToolInvocation: Sendable {
    let runner: any ClientToolRunner
    let timeout: Duration

    /// What the Python SDK sends for an empty success, so agents see the same.
    static let emptyResultText = "Tool called successfully"

    func answer(_ call: ClientToolCall) async -> ClientToolResult {
        let outcome = await FirstOutcome<Result<String, any Error>>.race(
            { [runner] in
                do {
                    return .success(try await runner.run(tool: call.toolName, parameters: call.parameters))
                } catch {
                    return .failure(error)
                }
            },
            { [timeout] in
                try? await Task.sleep(for: timeout)
                return .failure(ClientToolError.timedOut(tool: call.toolName, after: timeout))
            }
        )
        switch outcome {
        case .success(let text):
            return ClientToolResult(toolCallID: call.toolCallID, result: text.isEmpty ? Self.emptyResultText : text, isError: false)
        case .failure(let error):
            return ClientToolResult(toolCallID: call.toolCallID, result: String(describing: error), isError: true)
        }
    }
}
