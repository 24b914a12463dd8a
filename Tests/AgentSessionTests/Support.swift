import AgentSession
import AgentSimulator
import Foundation
import Logging
import NIOConcurrencyHelpers
import Testing

/// Records what a session hands to the audio side.
final class RecordingAudioSink: AgentAudioSink {
    enum Call: Equatable {
        case open(input: AudioFormat, output: AudioFormat)
        case play(AgentAudioChunk)
        case discard(frames: Int, reason: DropReason)
        case stop
    }

    private let calls = NIOLockedValueBox<[Call]>([])
    /// Set to make `open` fail, as a missing sound card does.
    let openError: (any Error & Sendable)?
    let unplayedFrames: Int

    init(openError: (any Error & Sendable)? = nil, unplayedFrames: Int = 0) {
        self.openError = openError
        self.unplayedFrames = unplayedFrames
    }

    func open(input: AudioFormat, output: AudioFormat) async throws {
        calls.withLockedValue { $0.append(.open(input: input, output: output)) }
        if let openError { throw openError }
    }

    func discard(frames: Int, reason: DropReason) {
        calls.withLockedValue { $0.append(.discard(frames: frames, reason: reason)) }
    }

    func play(_ chunk: AgentAudioChunk) {
        calls.withLockedValue { $0.append(.play(chunk)) }
    }

    /// Reports `unplayedFrames` dropped, as a speaker with that much queued would.
    func stopPlayback() -> Int {
        calls.withLockedValue { $0.append(.stop) }
        return unplayedFrames
    }

    var recorded: [Call] { calls.withLockedValue { $0 } }

    var chunks: [AgentAudioChunk] {
        recorded.compactMap { if case .play(let chunk) = $0 { chunk } else { nil } }
    }
}

/// A tool runner made of closures keyed by tool name.
struct ClosureToolRunner: ClientToolRunner {
    let tools: [String: @Sendable ([String: JSONValue]) async throws -> String]

    func run(tool name: String, parameters: [String: JSONValue]) async throws -> String {
        guard let tool = tools[name] else { throw ClientToolError.unknownTool(name) }
        return try await tool(parameters)
    }
}

struct ToolFailure: Error, CustomStringConvertible {
    var description: String { "the weather service is down" }
}

/// A simulator running in this process on a free port, for one test.
struct RunningSimulator {
    let simulator: AgentSimulator
    let baseURL: String

    var recorder: SimulatorRecorder { simulator.recorder }

    static func with<Result>(
        _ configure: (inout SimulatorConfiguration) throws -> Void = { _ in },
        _ body: (RunningSimulator) async throws -> Result
    ) async throws -> Result {
        var configuration = SimulatorConfiguration()
        configuration.port = 0
        configuration.pingInterval = .milliseconds(100)
        configuration.replySeconds = 0.5
        try configure(&configuration)
        var logger = Logger(label: "simulator")
        logger.logLevel = .critical
        let simulator = try AgentSimulator(configuration: configuration, logger: logger)
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let server = Task { try await simulator.run { portSink.yield($0) } }
        defer { server.cancel() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        // swift-websocket sends the host as TLS SNI, which may not be an IP
        // address, so TLS tests use the certificate's host name.
        let base = configuration.tlsCertificatePath == nil ? "http://127.0.0.1" : "https://localhost"
        return try await body(RunningSimulator(simulator: simulator, baseURL: "\(base):\(port)"))
    }

    func session(
        agentID: String = "agent_test",
        sink: RecordingAudioSink = RecordingAudioSink(),
        tools: any ClientToolRunner = NoClientTools(),
        configure: (inout AgentSessionConfiguration) -> Void = { _ in }
    ) throws -> AgentSession {
        let endpoint = try AgentEndpoint(baseURL: baseURL, agentID: agentID, source: SourceInfo(source: "voiceagentd-tests", version: "0"))
        var configuration = AgentSessionConfiguration(endpoint: endpoint, connectTimeout: .seconds(10), closeTimeout: .seconds(2))
        configure(&configuration)
        var logger = Logger(label: "session")
        logger.logLevel = .critical
        return AgentSession(configuration: configuration, audioSink: sink, toolRunner: tools, logger: logger)
    }

    /// Messages the simulator received of one type, in order.
    func received(_ type: String) async -> [RecordedMessage] {
        await recorder.messages().filter { $0.type == type }
    }
}

struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Waits for a condition to hold, checking every few milliseconds, and fails
/// the test if it does not within the timeout.
func waitFor(
    _ what: String, timeout: Duration = .seconds(10), _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw TimedOut(what: what) }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// Collects a session's events until one matches, then returns all so far.
func events(
    of session: AgentSession, until stop: @escaping @Sendable (SessionEventKind) -> Bool, timeout: Duration = .seconds(10)
) async throws -> [SessionEventKind] {
    let collector = Task {
        var seen: [SessionEventKind] = []
        for await event in session.events {
            seen.append(event.kind)
            if stop(event.kind) { return seen }
        }
        return seen
    }
    let watchdog = Task {
        try await Task.sleep(for: timeout)
        collector.cancel()
    }
    defer { watchdog.cancel() }
    let seen = await collector.value
    guard let last = seen.last, stop(last) else { throw TimedOut(what: "an event after \(seen.map(\.name))") }
    return seen
}

extension SessionEventKind {
    var isConnected: Bool { if case .connected = self { true } else { false } }
    var isEnded: Bool { if case .ended = self { true } else { false } }
}

/// PCM16 samples of a loud tone, as a user speaking would send.
func speech(seconds: Double, sampleRate: Int = 16000) -> Data {
    let samples = (0..<Int(seconds * Double(sampleRate))).map { Int16(sin(Double($0) * 0.2) * 12000) }
    return PCMCodec.bytes(from: samples, format: .pcm16000)
}

func silence(seconds: Double, sampleRate: Int = 16000) -> Data {
    Data(count: Int(seconds * Double(sampleRate)) * 2)
}
