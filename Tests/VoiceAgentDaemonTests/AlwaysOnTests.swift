import AgentSimulator
import ControlProtocol
import Foundation
import PacedAudioFixture
import Testing

/// A kiosk nobody starts by hand: with `always.on` a conversation starts
/// with the daemon and again after each one ends; `stop` pauses that until
/// the next `start`; a refusal that would repeat is retried ever more slowly.
@Suite("Always-on", .serialized, .timeLimit(.minutes(2)))
struct AlwaysOnTests {
    static let quickBackoff = ["--reconnect-initial-ms", "250", "--reconnect-max-ms", "1000"]

    @Test func conversationsStartByThemselvesAndStopPausesThem() async throws {
        // The agent ends every call halfway through its greeting.
        let simulator = try await SimulatorProcess { $0.scenario = .closeMidReply }
        let daemon = try await DaemonProcess(
            simulator: simulator, audio: .operatorTests, arguments: ["--always-on", "yes", "--always-on-pause-ms", "300"])
        let follower = try EventFollower(socket: daemon.socketPath)
        _ = try await follower.waitFor("a conversation nobody started") { $0.type == "connected" }
        let waiting = try await follower.waitFor("the pause after the agent ended it") { $0.type == "always_on_waiting" }
        #expect(waiting.fields["delay_ms"] == "300" && waiting.fields["failed_starts"] == "0")
        try await waitFor("the next conversation") { follower.events.filter { $0.type == "connected" }.count >= 2 }
        #expect(await simulator.received("conversation_initiation_client_data").count >= 2)

        #expect(try await daemon.ctl("stop").status == 0)
        _ = try await follower.waitFor("the pause") { $0.type == "always_on_paused" }
        try await waitFor("the daemon idle") { try await daemon.status().state == "idle" }
        let paused = try await daemon.status()
        #expect(paused.alwaysOn == "paused")
        let startsBefore = follower.events.filter { $0.type == "connecting" }.count
        // Three pauses' time: a mode that was not paused would have started again.
        try await Task.sleep(for: .milliseconds(900))
        #expect(follower.events.filter { $0.type == "connecting" }.count == startsBefore, "no conversation after stop")
        #expect(try await daemon.ctl("status").output.contains("Always-on:    paused by stop, until the next start"))

        #expect(try await daemon.ctl("start").status == 0, "a client's start resumes the mode")
        try await waitFor("always-on again after that conversation") {
            let resumed = try await daemon.status().alwaysOn != "paused"
            return resumed && follower.events.filter { $0.type == "always_on_waiting" }.count >= 2
        }
        #expect(try await daemon.terminate() == 0, "SIGTERM is not delayed by the mode")
    }

    @Test func aRefusalThatWouldRepeatBacksOff() async throws {
        let simulator = try await SimulatorProcess {
            $0.apiKey = "sk_right"
            $0.signedURLStatus = 401
        }
        let daemon = try await DaemonProcess(
            simulator: simulator, audio: .operatorTests, arguments: ["--always-on", "yes", "--auth", "yes"] + Self.quickBackoff,
            environment: ["ELEVENLABS_API_KEY": "sk_wrong"])
        let follower = try EventFollower(socket: daemon.socketPath)
        try await waitFor("three failed starts") {
            follower.events.contains { $0.type == "always_on_waiting" && $0.fields["failed_starts"] == "3" }
        }
        let waits = follower.events.filter { $0.type == "always_on_waiting" }
        for wait in waits {
            let failed = try #require(wait.fields["failed_starts"].flatMap { Int($0) })
            let delay = try #require(wait.fields["delay_ms"].flatMap { Int($0) })
            #expect(failed >= 1 && delay <= min(1000, 250 << (failed - 1)), "full jitter under a doubling cap: \(failed) \(delay)")
            #expect(wait.text?.contains("401") == true, "why: \(wait.text ?? "")")
        }
        #expect(waits.map(\.fields["failed_starts"]) == ["1", "2", "3"].prefix(waits.count).map { $0 }, "one wait per failed start, counted")
        #expect(daemon.log.contains("always-on: the conversation did not start (1 in a row)"))
        #expect(try await daemon.terminate() == 0)
    }
}
