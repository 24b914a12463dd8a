import AgentSession
import Foundation
import Testing
@testable import voiceagentd

@Suite("Client tools from a directory")
struct ClientToolDirectoryTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tools-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String, executable: Bool = false) throws {
        try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
        if executable { chmod(directory + "/" + name, 0o755) }
    }

    /// The timeout is generous: on a loaded machine (CI, every suite
    /// starting at once) even a shell script took more than two seconds to
    /// start; `aToolPastItsOwnTimeoutIsKilledAndSaysSo` times one out.
    @Test func aDefinitionGivesArgumentsAndItsOwnTimeout() async throws {
        try write("echo_args", "#!/bin/sh\nread -r input\necho \"$1 $2 $input\"\n", executable: true)
        try write("greet.tool", "# says hello\nexec=\(directory)/echo_args hello world\ntimeout_ms=30000\n")
        let tools = ClientToolDirectory(directory: directory)
        #expect(try await tools.run(tool: "greet", parameters: ["n": .integer(1)]) == #"hello world {"n":1}"#)
    }

    @Test func aToolPastItsOwnTimeoutIsKilledAndSaysSo() async throws {
        try write("slow.tool", "exec=/bin/sleep 30\ntimeout_ms=200\n")
        let started = ContinuousClock.now
        await #expect(throws: ClientToolError.timedOut(tool: "slow", after: .milliseconds(200))) {
            try await ClientToolDirectory(directory: directory).run(tool: "slow", parameters: [:])
        }
        #expect(ContinuousClock.now - started < .seconds(10), "killed, not waited for")
    }

    @Test func badDefinitionsAndNamesAreRefused() async throws {
        try write("relative.tool", "exec=sleep 1\n")
        try write("unknown.tool", "exec=/bin/true\nretries=3\n")
        let tools = ClientToolDirectory(directory: directory)
        for (name, message) in [
            ("relative", "exec= must give the absolute path of the program"), ("unknown", "'retries=3' is not exec=… or timeout_ms=…"),
        ] {
            await #expect(throws: ClientToolError.failed(tool: name, detail: "\(directory)/\(name).tool: \(message)")) {
                try await tools.run(tool: name, parameters: [:])
            }
        }
        for name in ["../etc/passwd", ".hidden", "", "missing"] {
            await #expect(throws: ClientToolError.unknownTool(name)) { try await tools.run(tool: name, parameters: [:]) }
        }
    }

    /// A tool may exit without reading its parameters, however large.
    @Test func aToolThatIgnoresItsInputStillAnswers() async throws {
        try write("ignore", "#!/bin/sh\necho done\n", executable: true)
        let parameters: [String: JSONValue] = ["blob": .string(String(repeating: "x", count: 200_000))]
        #expect(try await ClientToolDirectory(directory: directory).run(tool: "ignore", parameters: parameters) == "done")
    }

    @Test func outputIsBounded() async throws {
        try write("flood", "#!/bin/sh\nhead -c 1000000 /dev/zero | tr '\\\\0' x\n", executable: true)
        let result = try await ClientToolDirectory(directory: directory).run(tool: "flood", parameters: [:])
        #expect(result.utf8.count == ClientToolDirectory.maxOutputBytes)
    }
}
