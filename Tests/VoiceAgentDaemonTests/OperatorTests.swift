import AgentSimulator
import ControlProtocol
import Foundation
import PacedAudioFixture
import Testing

/// What the person running the box reads: the chat history with what was
/// heard, the mode in `status`, and transcripts kept out of logs on request.
/// On devices of their own: a quiet microphone, so no user turn comes between.
@Suite("For the operator", .serialized, .timeLimit(.minutes(2)))
struct OperatorTests {
    @Test func historyShowsCorrectionsAndWhatWasHeardOfAnInterruptedTurn() async throws {
        let simulator = try await SimulatorProcess { $0.scenario = .interrupt }
        let firstMessage = simulator.simulator.configuration.firstMessage
        let daemon = try await DaemonProcess(simulator: simulator, audio: .operatorTests)
        let empty = try await daemon.ctl("history")
        #expect(empty.status == 0 && empty.output == "no conversation yet\n", "\(empty.output)")
        #expect(try await daemon.ctl("start").status == 0)
        try await waitFor("both agent turns") { try await daemon.history().turns.count == 2 }

        let history = try await daemon.history()
        #expect(history.current && history.conversationID?.hasPrefix("conv_") == true)
        let cut = history.turns[0]
        #expect(cut.role == "agent" && cut.text == "Hello! This" && cut.originalText == firstMessage, "the correction, and what it replaced")
        let spokenMs = try #require(cut.spokenMs, "the interrupted greeting is marked")
        #expect(spokenMs < 300, "at most the 300 ms the agent sent before interrupting: \(spokenMs)")
        let spokenText = try #require(cut.spokenText, "the simulator sends alignment")
        #expect(firstMessage.hasPrefix(spokenText) && spokenText.count < 10, "\(spokenText)")
        #expect(history.turns[1].text == "Sorry, go ahead." && history.turns[1].spokenMs == nil)

        let text = try await daemon.ctl("history")
        #expect(text.output.contains("agent: Hello! This  [corrected from: \(firstMessage)]  [interrupted "), "\(text.output)")
        let json = try await daemon.ctl("history", "--json")
        #expect(try JSONDecoder().decode(HistoryReport.self, from: Data(json.output.utf8)) == history)

        #expect(try await daemon.ctl("stop").status == 0)
        let after = try await daemon.history()
        #expect(!after.current && after.conversationID == history.conversationID && after.turns == history.turns, "the last conversation's")
        #expect(try await daemon.terminate() == 0)
    }

    /// A server that paces its audio leaves the queue empty between chunks:
    /// the mode must stay `speaking` through the whole reply all the same,
    /// unless the speaker really went quiet in it (a chunk came late: on a
    /// busy machine the simulator in the test process can fall behind its
    /// pace). What the speaker played is recorded to tell: through
    /// PulseAudio an underrun the next write ends at once is not reported.
    @Test(arguments: [ReplyDelivery.burst, .paced])
    func statusShowsTheModeAndTheLastVoiceActivityScore(delivery: ReplyDelivery) async throws {
        let simulator = try await SimulatorProcess {
            $0.scenario = .allEvents
            $0.delivery = delivery
            $0.replySeconds = 1.0
        }
        let daemon = try await DaemonProcess(simulator: simulator, audio: .operatorTests)
        let speaker = try SpeakerRecording(of: .operatorTests)
        try await waitFor("the recorder to run") { speaker.recorded.count >= 1600 }
        #expect(try await daemon.status().mode == nil, "no mode while idle")
        #expect(try await daemon.ctl("start").status == 0)
        try await waitFor("the greeting playing") { try await daemon.status().mode == "speaking" }
        #expect(try await daemon.status().vadScore == 0.9)
        // Until three quarters of the greeting has been written: a sample
        // after that may come, on a busy machine, when it has played out.
        var modes: [String?] = []
        try await waitFor("most of the greeting played") {
            let status = try await daemon.status()
            guard status.audio.framesPlayed < 12_000 else { return true }
            modes.append(status.mode)
            return false
        }
        try await waitFor("the greeting played out") { try await daemon.status().mode == "listening" }
        if !modes.allSatisfy({ $0 == "speaking" }) {
            // The daemon says `listening` a period (320 samples) after it
            // reckons the device played out; half of that is left for the
            // sound server's latency figure.
            let quiet = speaker.longestGapInTheSound
            #expect(quiet >= 160, "listening in the reply, yet the speaker was never quiet for more than \(quiet) samples: \(modes)")
        }
        let text = try await daemon.ctl("status")
        #expect(text.output.contains("active, listening, voice activity 0.9 (conversation conv_"), "\(text.output)")
        #expect(try await daemon.terminate() == 0)
    }

    @Test func devicesListWhatEachAcceptsAndMarkTheConfiguredOnes() async throws {
        let simulator = try await SimulatorProcess()
        let daemon = try await DaemonProcess(simulator: simulator, audio: .operatorTests)
        let listed = try await daemon.ctl("devices", "--json")
        #expect(listed.status == 0, "\(listed.errors)")
        let report = try JSONDecoder().decode(DevicesReport.self, from: Data(listed.output.utf8))
        #expect(report.captureDevice == "voiceagent_mic" && report.playbackDevice == "voiceagent_speaker")
        let microphone = try #require(report.devices.first { $0.name == "voiceagent_mic" }?.capture)
        #expect(microphone.state == "available" && microphone.selected)
        #expect(microphone.rates?.contains(16000) == true && microphone.formats?.contains("S16_LE") == true, "\(microphone)")
        let speaker = try #require(report.devices.first { $0.name == "voiceagent_speaker" }?.playback)
        #expect(speaker.state == "available" && speaker.selected && speaker.rates == [8000, 16000, 22050, 24000, 44100, 48000])
        #expect(report.devices.filter { $0.capture?.selected == true }.count == 1)

        let text = try await daemon.ctl("devices")
        #expect(text.output.contains("voiceagent_mic\n    capture  * rates 8000 16000"), "\(text.output)")
        let alone = try await runProgram(
            Binaries.path("voiceagentd"), ["--list-devices", "--capture-device", "voiceagent_mic", "--playback-device", "voiceagent_speaker"],
            environment: PacedAudioServer.operatorTests.environment)
        #expect(alone.status == 0 && alone.output == text.output, "the same list without a daemon: \(alone.output)")
        let missing = try await runProgram(
            Binaries.path("voiceagentd"), ["--list-devices", "--capture-device", "no_such_mic"], environment: PacedAudioServer.operatorTests.environment)
        #expect(missing.output.contains("no_such_mic\n    capture  * unavailable: ALSA knows no such PCM here"), "\(missing.output)")
        #expect(try await daemon.terminate() == 0)
    }

    @Test(arguments: [false, true])
    func transcriptsStayOutOfTheLogWhenAskedTo(shownToClients: Bool) async throws {
        let simulator = try await SimulatorProcess()
        let greeting = simulator.simulator.configuration.firstMessage
        let daemon = try await DaemonProcess(
            simulator: simulator, audio: .operatorTests, arguments: ["--log-transcripts", "no", "--events-transcripts", shownToClients ? "yes" : "no"])
        let follower = try EventFollower(socket: daemon.socketPath)
        #expect(try await daemon.ctl("start").status == 0)
        let response = try await follower.waitFor("the greeting's event") { $0.type == "agent_response" }
        try await waitFor("the greeting in the log") { daemon.log.contains("agent_response") }

        #expect(!daemon.log.contains(greeting), "the log records that the agent spoke, not what it said")
        #expect(daemon.log.contains("agent_response: event_id=1 transcript=withheld"), "\(daemon.log)")
        if shownToClients {
            #expect(response.text == greeting && response.fields["transcript"] == nil)
            #expect(try await daemon.history().turns.first?.text == greeting)
        } else {
            #expect(response.text == nil && response.fields["transcript"] == "withheld")
            let turn = try #require(try await daemon.history().turns.first)
            #expect(turn.role == "agent" && turn.text == nil, "the turn happened; its words are not kept")
        }
        #expect(try await daemon.terminate() == 0)
    }

    /// The audio threads ask for SCHED_FIFO; where it is refused they run at
    /// normal priority, the conversation goes on, and the daemon says why
    /// once, not once per conversation.
    @Test func audioThreadsRunInRealTimeOrSayOnceWhyNot() async throws {
        let simulator = try await SimulatorProcess { $0.replySeconds = 0.5 }
        let daemon = try await DaemonProcess(simulator: simulator, audio: .operatorTests, arguments: ["--realtime-priority", "7"])
        #expect(try await daemon.ctl("start").status == 0)
        try await waitFor("the audio threads") { try await daemon.status().audio.realtimePriority == 7 }
        #expect(try Self.schedulingPolicies(of: daemon.process.processIdentifier) == ["audio-capture": "1 7", "audio-playback": "1 7"])
        #expect(try await daemon.ctl("stop").status == 0)
        #expect(try await daemon.terminate() == 0)

        // Without CAP_SYS_NICE and with RLIMIT_RTPRIO at 0, as a unit without LimitRTPRIO= would run it.
        let refused = try await DaemonProcess(
            simulator: simulator, audio: .operatorTests, launcher: ["/usr/bin/setpriv", "--bounding-set=-sys_nice", "--", "/usr/bin/prlimit", "--rtprio=0:0", "--"])
        let follower = try EventFollower(socket: refused.socketPath)
        for _ in 0..<2 {
            #expect(try await refused.ctl("start").status == 0)
            try await waitFor("agent audio played") { try await refused.status().audio.framesPlayed > 0 }
            #expect(try await refused.status().audio.realtimePriority == nil)
            #expect(try await refused.ctl("stop").status == 0)
        }
        let said = follower.events.filter { $0.type == "audio_realtime_refused" }
        #expect(said.count == 1, "once per daemon: \(said)")
        #expect(
            said.first?.text == "SCHED_FIFO priority 10 is not permitted (RLIMIT_RTPRIO is 0): raise LimitRTPRIO= in the unit or set realtime.priority=0")
        #expect(try Self.schedulingPolicies(of: refused.process.processIdentifier).isEmpty, "no audio threads left after stop")
        #expect(try await refused.terminate() == 0)
    }

    /// `policy priority` of the process's threads named audio-*, from
    /// /proc/PID/task/TID/stat (fields 41 and 40).
    private static func schedulingPolicies(of pid: Int32) throws -> [String: String] {
        var policies: [String: String] = [:]
        for task in try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") {
            let name = try String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8).trimmingCharacters(in: .newlines)
            guard name.hasPrefix("audio-") else { continue }
            let stat = try String(contentsOfFile: "/proc/\(pid)/task/\(task)/stat", encoding: .utf8)
            // After the command's closing parenthesis, field 3 comes first.
            let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
            policies[name] = "\(fields[41 - 3]) \(fields[40 - 3])"
        }
        return policies
    }

}

extension PacedAudioServer {
    static let operatorTests = PacedAudioServer(name: "operator")
}
