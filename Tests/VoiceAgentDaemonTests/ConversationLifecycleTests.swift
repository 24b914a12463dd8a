import AgentSession
import AgentSimulator
import ControlProtocol
import DaemonSettings
import Foundation
import Glibc
import PacedAudioFixture
import Testing

/// A conversation's life as a person hears and reads it: the greeting
/// whole, an interrupt that holds, settings that a reload applies, a
/// goodbye that finishes, an end that is quick and says what happened.
@Suite("A conversation from start to end", .serialized, .timeLimit(.minutes(3)))
struct ConversationLifecycleTests {
    /// 0.3 s at 16 kHz, in three 100 ms messages.
    static let greetingFrames = 4800

    @Test(arguments: [(ReplyDelivery.burst, 50), (ReplyDelivery.paced, 5)])
    func theGreetingIsHeardWholeOnEveryStart(delivery: ReplyDelivery, starts: Int) async throws {
        let simulator = try await SimulatorProcess {
            $0.delivery = delivery
            $0.replySeconds = 0.3
        }
        let daemon = try await DaemonProcess(simulator: simulator, audio: .lifecycleTests)
        for start in 1...starts {
            let started = try await daemon.ctl("start")
            try #require(started.status == 0, "start \(start): \(started.errors)")
            try await waitFor("start \(start): the greeting played") {
                let audio = try await daemon.status().audio
                return audio.framesPlayed + audio.framesDropped >= Self.greetingFrames
            }
            let audio = try await daemon.status().audio
            #expect(audio.framesPlayed == Self.greetingFrames, "start \(start): every frame received is played")
            #expect(audio.framesDropped == 0, "start \(start): dropped \(audio.droppedFrames)")
            try #require(try await daemon.ctl("stop").status == 0)
        }
        #expect(try await daemon.terminate() == 0)
    }

    /// A server that numbers every chunk and streams the reply in real time
    /// goes on sending it after our interrupt: none of it may be heard.
    @Test func aLocalInterruptHoldsUntilTheNextTurn() async throws {
        let simulator = try await SimulatorProcess {
            $0.delivery = .paced
            $0.audioEventIDs = .perChunk
            $0.replySeconds = 2
        }
        let daemon = try await DaemonProcess(simulator: simulator, audio: .lifecycleTests)
        let reply = 32_000
        #expect(try await daemon.ctl("start").status == 0)
        try await waitFor("some of the greeting played") { try await daemon.status().audio.framesPlayed >= 3200 }
        #expect(try await daemon.ctl("interrupt").status == 0)
        let atInterrupt = try await daemon.status().audio.framesPlayed
        try await waitFor("the rest of the greeting to arrive and be dropped", timeout: .seconds(10)) {
            let audio = try await daemon.status().audio
            return audio.framesPlayed + audio.framesDropped == reply
        }
        let afterGreeting = try await daemon.status().audio
        #expect(afterGreeting.framesPlayed <= atInterrupt, "nothing of the interrupted reply was heard after the interrupt")
        #expect(afterGreeting.droppedFrames["interrupted"] ?? 0 > reply / 2)
        #expect(await simulator.received("user_activity").count == 1, "the agent is told the user has the floor")

        #expect(try await daemon.ctl("say", "Go on").status == 0)
        try await waitFor("the next reply played", timeout: .seconds(10)) {
            try await daemon.status().audio.framesPlayed >= afterGreeting.framesPlayed + reply
        }
        let afterReply = try await daemon.status().audio
        #expect(afterReply.framesPlayed == afterGreeting.framesPlayed + reply, "the next reply plays in full")
        #expect(afterReply.framesDropped == afterGreeting.framesDropped)
        #expect(try await daemon.terminate() == 0)
    }

    @Test func aReloadAppliesEverySettingFromTheNextConversation() async throws {
        let simulator = try await SimulatorProcess()
        let daemon = try await DaemonProcess(
            simulator: simulator, configurationFile: ["chunk.ms": "20", "period.ms": "20", "log.level": "info"])
        #expect(try await daemon.ctl("start").status == 0)
        try await waitFor("microphone audio") { await !simulator.received("user_audio_chunk").isEmpty }
        #expect(daemon.log.contains(" debug ") == false, "log.level=info")

        try daemon.writeConfiguration(["chunk.ms": "40", "period.ms": "10", "log.level": "debug"])
        try await daemon.reload()
        let running = try await daemon.status()
        #expect(running.state == "active")
        #expect(running.audio.chunkMs == 20 && running.audio.periodMs == 20, "status shows what the running conversation uses")
        try await waitFor("a debug line") { daemon.log.contains(" debug ") }
        #expect(try await daemon.ctl("stop").status == 0)
        let idle = try await daemon.status()
        #expect(idle.audio.chunkMs == 40 && idle.audio.periodMs == 10, "idle, status shows what the next conversation will use")

        let firstChunks = await simulator.received("user_audio_chunk").count
        #expect(try await daemon.ctl("start").status == 0)
        try await waitFor("microphone audio of the new length") { await simulator.received("user_audio_chunk").count > firstChunks + 3 }
        let newChunks = await simulator.received("user_audio_chunk").dropFirst(firstChunks)
        #expect(newChunks.allSatisfy { $0.audioBytes == 1280 }, "40 ms chunks at 16 kHz")
        #expect(try await daemon.status().audio.chunkMs == 40)
        #expect(try await daemon.ctl("stop").status == 0)

        try daemon.writeConfiguration(["capture.device": "voiceagent_no_such_device"])
        try await daemon.reload()
        let refused = try await daemon.ctl("start")
        #expect(refused.status == 1 && refused.errors.contains("audio device 'voiceagent_no_such_device' does not exist"))
        #expect(try await daemon.terminate() == 0)
    }

    /// The agent ends the call (as after its end_call tool) with its last
    /// words queued: they play out, then the sound card closes.
    @Test func theAgentsGoodbyePlaysOut() async throws {
        let simulator = try await SimulatorProcess {
            $0.scenario = .closeMidReply
            $0.replySeconds = 2
        }
        let daemon = try await DaemonProcess(simulator: simulator, audio: .lifecycleTests)
        let follower = try EventFollower(socket: daemon.socketPath)
        #expect(try await daemon.ctl("start").status == 0)
        let ended = try await follower.waitFor("the agent's close") { $0.type == "ended" }
        #expect(ended.fields["reason"] == "closed_by_server" && ended.fields["error"] == "false")
        let ending = try await daemon.status()
        #expect(ending.state == "ending", "the goodbye is still playing")
        let said = try await daemon.ctl("say", "one more thing")
        #expect(said.status == 1 && said.errors.contains("the conversation is ending"))
        try await waitFor("idle") { try await daemon.status().state == "idle" }
        let audio = try await daemon.status().audio
        #expect(audio.framesPlayed == 16_000, "the whole second of goodbye played")
        #expect(audio.framesDropped == 0)
        #expect(try await daemon.terminate() == 0)
    }

    /// An abnormal end stops the sound at once, counts what was not heard,
    /// and is idle again at once.
    @Test func anAbnormalEndSilencesAndIsIdleAtOnce() async throws {
        let simulator = try await SimulatorProcess {
            $0.scenario = .failMidReply
            $0.replySeconds = 4
        }
        // The end itself, not what comes after it (ReconnectTests).
        let daemon = try await DaemonProcess(simulator: simulator, audio: .lifecycleTests, arguments: ["--reconnect", "no"])
        let follower = try EventFollower(socket: daemon.socketPath)
        #expect(try await daemon.ctl("start").status == 0)
        _ = try await follower.waitFor("the failure") { $0.type == "ended" }
        let endedAt = ContinuousClock.now
        var states: Set<String> = []
        try await waitFor("idle") {
            let state = try await daemon.status().state
            states.insert(state)
            return state == "idle"
        }
        let idleAfter = ContinuousClock.now - endedAt
        print("idle \(idleAfter) after the end was reported")
        #expect(idleAfter < .seconds(1), "idle within moments of the end, not after joining the audio threads")
        #expect(states.isSubset(of: ["connecting", "active", "ending", "idle"]), "only documented states: \(states)")
        let status = try await daemon.status()
        #expect(status.lastEnd?.reason == "closed_by_server")
        #expect(status.audio.framesPlayed < 32_000, "the rest of the reply was not played")
        #expect(status.audio.framesPlayed + status.audio.framesDropped == 32_000, "every frame played or counted")
        #expect(status.audio.droppedFrames["conversation_ended"] ?? 0 > 0)
        #expect(try await daemon.terminate() == 0)
    }

    @Test func aMessageOverTheLimitIsReportedAsTheProtocolErrorItIs() async throws {
        let simulator = try await SimulatorProcess {
            $0.scenario = .oversized
            $0.oversizedMessageBytes = AgentSessionConfiguration.maxMessageSize + (128 << 10)
        }
        let daemon = try await DaemonProcess(simulator: simulator, audio: .lifecycleTests)
        let follower = try EventFollower(socket: daemon.socketPath)
        #expect(try await daemon.ctl("start").status == 0)
        let ended = try await follower.waitFor("the end") { $0.type == "ended" }
        #expect(ended.fields["reason"] == "protocol_error")
        #expect(ended.text?.hasPrefix("the agent broke the protocol: the server sent a message over the 16 MiB limit") == true)
        #expect(ended.text?.contains("closed the connection with 1009") == true)
        #expect(try await daemon.terminate() == 0)
    }

    @Test func aRefusedConnectionIsOneSentenceNamingTheAddress() async throws {
        let simulator = try await SimulatorProcess()
        let daemon = try await DaemonProcess(simulator: simulator, audio: .lifecycleTests, arguments: ["--api-base-url", "http://127.0.0.1:9"])
        let refused = try await daemon.ctl("start")
        #expect(refused.status == 1)
        #expect(refused.errors.contains("could not connect to the agent: 127.0.0.1:9 refused the connection: nothing listens there; check api.base.url"))
        #expect(!refused.errors.contains("SingleConnectionFailure") && !refused.errors.contains("errno"))
        #expect(try await daemon.terminate() == 0)
    }
}

extension PacedAudioServer {
    /// Its own devices: suites run side by side, and another suite's user
    /// speaking into a shared microphone would barge in on these greetings.
    static let lifecycleTests = PacedAudioServer(name: "lifecycle")
}

/// An administrator's typo under systemd: the daemon stays up and says what
/// is wrong to everyone who asks, until the file is fixed and reloaded.
@Suite("A configuration error under systemd", .serialized, .timeLimit(.minutes(2)))
struct ConfigurationErrorTests {
    @Test func everyRequestIsAnsweredWithTheErrorUntilAReloadFixesIt() async throws {
        let notifications = try DatagramCollector()
        let simulator = try await SimulatorProcess()
        let daemon = try await DaemonProcess(
            simulator: simulator, audio: .lifecycleTests, environment: ["NOTIFY_SOCKET": notifications.path], waitForSocket: false,
            configurationFile: ["period.ms": "0"])
        try await waitFor("READY=1") { notifications.messages.contains { $0.contains("READY=1") } }
        #expect(notifications.messages.contains { $0.contains("STATUS=configuration error; see journalctl -u voiceagentd") })
        for command in [["start"], ["status"], ["stop"], ["events"]] {
            let answer = try await runProgram(Binaries.path("voiceagentctl"), command + ["--socket", daemon.socketPath])
            #expect(answer.status == 78, "\(command): \(answer.errors)")
            #expect(answer.errors.contains("voiceagentd's configuration is invalid: invalid configuration --period-ms"), "\(answer.errors)")
            #expect(answer.errors.contains("PERIOD_MS in the file): '0' is not a whole number from 5 to 100"))
            #expect(answer.errors.contains("then run: systemctl reload voiceagentd"))
        }
        #expect(daemon.process.isRunning, "no exit for systemd to restart in a loop")

        try daemon.writeConfiguration(["period.ms": "20"])
        try await daemon.reload()
        let status = try await daemon.status()
        #expect(status.state == "idle" && status.version == "0.2.0")
        #expect(status.setup == StatusReport.Setup(agentID: "agent_e2e", auth: "public", apiKeyLoaded: false))
        #expect(try await daemon.ctl("start").status == 0)
        #expect(try await daemon.terminate() == 0)
    }

    @Test func startedByHandItExitsAtOnce() async throws {
        let simulator = try await SimulatorProcess()
        let daemon = try await DaemonProcess(
            simulator: simulator, audio: .lifecycleTests, waitForSocket: false, configurationFile: ["period.ms": "0"])
        try await waitFor("the exit") { !daemon.process.isRunning }
        #expect(daemon.process.terminationStatus == 78)
        #expect(daemon.log.contains("PERIOD_MS in the file): '0' is not a whole number from 5 to 100"))
    }
}
