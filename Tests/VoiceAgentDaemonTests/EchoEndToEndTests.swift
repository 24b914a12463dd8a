import AgentSimulator
import AudioCodec
import ControlProtocol
import Foundation
import PacedAudioFixture
import Testing

/// The speaker 60 ms and 10 dB away from the microphone, as on a kiosk: the
/// agent (espeak-ng's default voice) would hear itself, and the simulator
/// interrupts a reply whenever speech comes in over it, as the service does.
@Suite("Echo end to end", .serialized, .timeLimit(.minutes(3)))
struct EchoEndToEndTests {
    /// The pulse plugin starts a new stream after an underrun it reports,
    /// and a null sink's monitor then runs ahead of what the stream says it
    /// played by another amount: a jump in the echo's delay that a room
    /// does not have. This speaker lets the sound server ride over an
    /// underrun instead, as scripts/lib/paced-audio.sh does.
    static let audio = PacedAudioServer(name: "echo", reportsUnderruns: false)

    /// What the agent says, in every reply.
    static let agentSpeech = SpeechClip(
        "Thank you for calling the help desk. I can look at your order, change your delivery, or explain your last invoice. Tell me what you need.",
        voice: "en-us")

    /// The user talking over it, in another voice.
    static let userSpeech = SpeechClip("Wait, stop, I have a question about my delivery.", voice: "en-us+f3")

    private struct Conversation {
        let simulator: SimulatorProcess
        let daemon: DaemonProcess
        let follower: EventFollower
        /// A reply's length, in frames of the agent's output format.
        let replyFrames: Int
    }

    /// A conversation in which the agent chose `input` for the microphone
    /// and `output` for its speech; without `echoPath`, the microphone
    /// hears nothing of the speaker (a headset).
    private func converse(
        echo mode: String, input: AudioFormat = .pcm16000, output: AudioFormat = .pcm16000, echoPath: Bool = true
    ) async throws -> Conversation {
        try await Self.audio.ready()
        if echoPath {
            try await Self.audio.addEchoPath(latencyMilliseconds: 60, gainDB: -10)
        } else {
            try await Self.audio.removeEchoPath()
        }
        let speech =
            output.sampleRate == 16000
            ? try await Self.agentSpeech.samples()
            : try await synthesizedSpeech(Self.agentSpeech.text, voice: Self.agentSpeech.voice, sampleRate: output.sampleRate)
        let simulator = try await SimulatorProcess {
            $0.delivery = .paced
            $0.replySpeech = speech
            $0.inputFormat = input
            $0.outputFormat = output
        }
        let daemon = try await DaemonProcess(simulator: simulator, audio: Self.audio, arguments: ["--echo", mode])
        let follower = try EventFollower(socket: daemon.socketPath)
        let started = try await daemon.ctl("start")
        #expect(started.status == 0, "\(started.errors)")
        return Conversation(simulator: simulator, daemon: daemon, follower: follower, replyFrames: speech.count)
    }

    /// Waits until the agent has spoken `replies` replies (the greeting
    /// first) to the end, asking for each after the greeting, and the
    /// microphone has been heard for half a second after each (its echo).
    private func listen(to replies: Int, in conversation: Conversation) async throws {
        let frames = conversation.replyFrames
        for reply in 0..<replies {
            if reply > 0 { #expect(try await conversation.daemon.ctl("say", "Go on, please").status == 0) }
            try await waitFor("reply \(reply + 1) to start", timeout: .seconds(10)) {
                await conversation.simulator.received("simulator.reply_audio_started").count > reply
            }
            try await waitFor("reply \(reply + 1) to be played", timeout: .seconds(20)) {
                try await conversation.daemon.status().audio.framesPlayed >= (reply + 1) * frames
            }
            let chunksSoFar = await conversation.simulator.received("user_audio_chunk").count
            try await waitFor("half a second of microphone after reply \(reply + 1)") {
                await conversation.simulator.received("user_audio_chunk").count >= chunksSoFar + 25
            }
        }
    }

    /// What a failure needs to tell an echo that leaked from a test that
    /// timed itself wrong: when the simulator took the microphone for
    /// speech (seconds into the conversation) and the loudest chunk it had
    /// just been sent, the canceller's state now, and each time it
    /// converged.
    private func echoReport(_ conversation: Conversation) async throws -> String {
        let chunks = await conversation.simulator.received("user_audio_chunk")
        let opened = chunks.first?.receivedAt ?? 0
        let speech = await conversation.simulator.received("simulator.speech_started").map { started in
            let before = chunks.filter { (started.receivedAt - 0.1...started.receivedAt).contains($0.receivedAt) }
            let loudest = before.compactMap(\.rmsDBFS).max().map { String(format: "%.1f dBFS", $0) } ?? "silence"
            return String(format: "%.2f s (%@)", started.receivedAt - opened, loudest)
        }
        let status = try await conversation.daemon.status().audio
        let echo = status.echo
        let convergences = conversation.daemon.log.split(separator: "\n").filter { $0.contains("echo_converged:") }.map {
            $0.split(separator: "echo_converged: ").last ?? ""
        }
        return """
            speech taken at \(speech); canceller converged: \(echo.converged ?? false), \
            echo removed: \(echo.erleDB.map { "\($0) dB" } ?? "unmeasured"), delay: \(echo.delayMs.map { "\($0) ms" } ?? "unknown"); \
            capture overruns and playback underruns: \(status.xruns); convergences: \(convergences)
            """
    }

    @Test func withoutEchoHandlingTheAgentInterruptsItself() async throws {
        let conversation = try await converse(echo: "none")
        try await waitFor("the agent to hear its own greeting", timeout: .seconds(10)) {
            await !conversation.simulator.received("simulator.interruption_sent").isEmpty
        }
        #expect(try await conversation.daemon.ctl("stop").status == 0)
    }

    @Test func halfDuplexNeverSendsTheAgentsVoice() async throws {
        let conversation = try await converse(echo: "half-duplex")
        try await listen(to: 2, in: conversation)
        let status = try await conversation.daemon.status()
        #expect(status.audio.echo.mode == "half-duplex")
        #expect((status.audio.echo.silencedChunks ?? 0) > 100, "the microphone was silenced while the agent spoke")
        // The loopback leaves a least-significant bit of noise at most.
        let loudest = await conversation.simulator.received("user_audio_chunk").compactMap(\.rmsDBFS).max() ?? -.infinity
        #expect(loudest < -80, "the agent heard \(loudest) dBFS")
        #expect(await conversation.simulator.received("simulator.interruption_sent").isEmpty)
        #expect(try await conversation.daemon.ctl("stop").status == 0)
    }

    @Test func theCancellerConvergesAndTheAgentDoesNotInterruptItself() async throws {
        let conversation = try await converse(echo: "cancel")
        let converged = try await conversation.follower.waitFor("the canceller to converge") { $0.type == "echo_converged" }
        #expect(converged.fields["cause"] == "start")
        try await listen(to: 3, in: conversation)
        let report = try await echoReport(conversation)
        #expect(await conversation.simulator.received("simulator.interruption_sent").isEmpty, "\(report)")
        let echo = try await conversation.daemon.status().audio.echo
        #expect(echo.mode == "cancel" && echo.converged == true)
        #expect((echo.erleDB ?? 0) >= 20, "echo return loss enhancement \(echo.erleDB ?? 0) dB")
        #expect(try await conversation.daemon.ctl("stop").status == 0)
    }

    /// The agent may choose other formats: µ-law at 8 kHz both ways (the
    /// canceller run at 16 kHz), or a 22.05 kHz microphone beside a 16 kHz
    /// speaker (the canceller's input resampled to 32 kHz and back, what the
    /// speaker played to the microphone's rate).
    @Test(arguments: [
        (try! AudioFormat(encoding: .ulaw, sampleRate: 8000), try! AudioFormat(encoding: .ulaw, sampleRate: 8000)),
        (try! AudioFormat(encoding: .pcm, sampleRate: 22050), .pcm16000),
    ])
    func theCancellerWorksInTheFormatsTheAgentChooses(input: AudioFormat, output: AudioFormat) async throws {
        let conversation = try await converse(echo: "cancel", input: input, output: output)
        _ = try await conversation.follower.waitFor("the canceller to converge") { $0.type == "echo_converged" }
        try await listen(to: 2, in: conversation)
        let report = try await echoReport(conversation)
        #expect(await conversation.simulator.received("simulator.interruption_sent").isEmpty, "\(report)")
        #expect((try await conversation.daemon.status().audio.echo.erleDB ?? 0) >= 20, "\(report)")
        #expect(try await conversation.daemon.ctl("stop").status == 0)
    }

    /// A headset: the canceller finds the microphone does not hear the
    /// speaker and rests (the microphone goes out as it is, the speaker is
    /// handled as with none), and the user's voice over a reply interrupts
    /// it.
    @Test func withoutAnEchoTheCancellerRests() async throws {
        let conversation = try await converse(echo: "cancel", echoPath: false)
        try await waitFor("the canceller to rest", timeout: .seconds(10)) {
            try await conversation.daemon.status().audio.echo.speakerHeard == false
        }
        #expect(try await conversation.daemon.status().audio.echo.converged == true)
        #expect(await conversation.simulator.received("simulator.interruption_sent").isEmpty)
        let user = try await Self.userSpeech.samples()
        _ = try await Self.audio.play(user.withUnsafeBytes { Data($0) })
        try await waitFor("the user's voice to interrupt the greeting", timeout: .seconds(5)) {
            await !conversation.simulator.received("simulator.interruption_sent").isEmpty
        }
        #expect(try await conversation.daemon.status().audio.echo.speakerHeard == false, "the user's voice is not the speaker's")
        #expect(try await conversation.daemon.ctl("stop").status == 0)
    }

    /// A question typed over the agent cuts its reply short and the next
    /// starts at once, three times: the speaker plays out what it holds
    /// rather than restarting (a restarted stream is a new echo path to
    /// learn), so no reply interrupts itself.
    @Test func aReplyRightAfterAnInterruptDoesNotInterruptItself() async throws {
        let conversation = try await converse(echo: "cancel")
        try await listen(to: 1, in: conversation)
        for reply in 2...5 {
            if reply > 2 {
                try await waitFor("reply \(reply) to start", timeout: .seconds(10)) {
                    await conversation.simulator.received("simulator.reply_audio_started").count >= reply
                }
            }
            let played = try await conversation.daemon.status().audio.framesPlayed
            if reply == 2 { #expect(try await conversation.daemon.ctl("say", "Go on").status == 0) }
            try await waitFor("a second of reply \(reply) to be played", timeout: .seconds(10)) {
                try await conversation.daemon.status().audio.framesPlayed >= played + 16000
            }
            if reply < 5 { #expect(try await conversation.daemon.ctl("say", "And then?").status == 0) }
        }
        #expect(await conversation.simulator.received("simulator.interruption_sent").count == 3, "each question cut a reply")
        let report = try await echoReport(conversation)
        #expect(await conversation.simulator.received("simulator.speech_started").isEmpty, "the agent heard itself: \(report)")
        #expect(try await conversation.daemon.ctl("stop").status == 0)
    }

    @Test func theUserCanStillTalkOverTheAgent() async throws {
        let conversation = try await converse(echo: "cancel")
        try await listen(to: 2, in: conversation)
        #expect(try await conversation.daemon.ctl("say", "Tell me more").status == 0)
        try await waitFor("the third reply to start", timeout: .seconds(10)) {
            await conversation.simulator.received("simulator.reply_audio_started").count == 3
        }
        let frames = conversation.replyFrames
        try await waitFor("a second of the third reply to be played") {
            try await conversation.daemon.status().audio.framesPlayed >= 2 * frames + 16000
        }
        let report = try await echoReport(conversation)
        #expect(await conversation.simulator.received("simulator.interruption_sent").isEmpty, "\(report)")
        let user = try await Self.userSpeech.samples()
        _ = try await Self.audio.play(user.withUnsafeBytes { Data($0) })
        try await waitFor("the user's voice to interrupt the agent", timeout: .seconds(5)) {
            await !conversation.simulator.received("simulator.interruption_sent").isEmpty
        }
        #expect(try await conversation.daemon.ctl("stop").status == 0)
    }
}
