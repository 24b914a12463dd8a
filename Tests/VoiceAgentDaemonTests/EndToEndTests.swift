import AgentSession
import AgentSimulator
import ControlProtocol
import Foundation
import Glibc
import PacedAudioFixture
import Testing

/// voiceagentd, voiceagentctl and the simulator as separate programs, on
/// real-time paced devices (a private PulseAudio's null sinks).
@Suite("voiceagentd end to end", .serialized, .timeLimit(.minutes(2)))
struct EndToEndTests {
    @Test func aConversationThroughTheControlSocket() async throws {
        let simulator = try await SimulatorProcess { $0.delivery = .paced }
        let daemon = try await DaemonProcess(simulator: simulator)
        let follower = try EventFollower(socket: daemon.socketPath)
        try await waitFor("the follower to attach") { (try? await daemon.ctl("status")) != nil && follower.events.isEmpty }

        let body = FileManager.default.temporaryDirectory.appendingPathComponent("llm-body-\(UUID().uuidString).json").path
        try #"{"temperature": 0.7, "model": "house"}"#.write(toFile: body, atomically: true, encoding: .utf8)
        let started = try await daemon.ctl(
            "start", "--var", "customer=Ada", "--var", "visits=3", "--user-id", "u1", "--llm-body-file", body, "--llm-body", "temperature=0.2",
            "--llm-body", #"tags=["kiosk", 2]"#)
        #expect(started.status == 0, "\(started.errors)")
        #expect(started.output.hasPrefix("started conversation conv_"))
        _ = try await follower.waitFor("the greeting") { $0.type == "agent_response" }

        let initiation = try #require(await simulator.received("conversation_initiation_client_data").first?.message)
        let fields = try #require(initiation.objectMembers)
        #expect(fields["dynamic_variables"] == .object(["customer": .string("Ada"), "visits": .integer(3)]))
        #expect(fields["user_id"] == .string("u1"))
        #expect(
            fields["custom_llm_extra_body"]
                == .object(["temperature": .number(0.2), "model": .string("house"), "tags": .array([.string("kiosk"), .integer(2)])]),
            "the file's members, then --llm-body over them")

        _ = try await PacedAudioServer.daemonTests.play(spokenTurn())
        let transcript = try await follower.waitFor("the user's turn") { $0.type == "user_transcript" }
        #expect(transcript.text?.contains("seconds of speech") == true)
        _ = try await follower.waitFor("the reply") { $0.type == "agent_response" && $0.text?.hasPrefix("I heard") == true }
        let heard = await simulator.received("user_audio_chunk")
        #expect(heard.contains { ($0.rmsDBFS ?? -.infinity) > -20 }, "the agent heard the tone")
        #expect(heard.allSatisfy { $0.audioBytes == 640 }, "20 ms chunks at 16 kHz")

        #expect(try await daemon.ctl("say", "Tell me a long story").status == 0)
        _ = try await follower.waitFor("the answer") { $0.type == "agent_response" && $0.text?.contains("long story") == true }
        #expect(try await daemon.ctl("interrupt").status == 0)
        let interruption = try await follower.waitFor("the interruption") { $0.type == "interruption" && $0.fields["origin"] == "local" }
        #expect(interruption.conversationID == started.output.split(separator: " ")[2].description)

        #expect(try await daemon.ctl("context", "The user is in the kitchen").status == 0)
        try await waitFor("the contextual update") { await !simulator.received("contextual_update").isEmpty }

        let active = try await daemon.status()
        #expect(active.state == "active")
        #expect(active.latency.samples > 0)
        #expect(active.audio.inputFormat == "pcm_16000" && active.audio.framesCaptured > 0 && active.audio.framesPlayed > 0)

        #expect(try await daemon.ctl("stop").status == 0)
        let ended = try await follower.waitFor("the end") { $0.type == "ended" }
        #expect(ended.fields["reason"] == "stopped")
        let idle = try await daemon.status()
        #expect(idle.state == "idle" && idle.lastEnd?.reason == "stopped")
        let types = follower.events.map(\.type)
        #expect(Array(types.prefix(2)) == ["connecting", "connected"])
        #expect(zip(follower.events, follower.events.dropFirst()).allSatisfy { $1.seq == $0.seq + 1 }, "in order, none missing")
        #expect(try await daemon.terminate() == 0)
    }

    /// `feedback` rates the agent's last response by its event id, once;
    /// before any response there is nothing to rate.
    @Test func feedbackRatesTheLastResponseOnce() async throws {
        let simulator = try await SimulatorProcess { $0.firstMessage = "" }
        let daemon = try await DaemonProcess(simulator: simulator)
        let follower = try EventFollower(socket: daemon.socketPath)
        let idle = try await daemon.ctl("feedback", "like")
        #expect(idle.status == 1 && idle.errors.contains("no conversation is running"), "\(idle.errors)")
        #expect(try await daemon.ctl("start").status == 0)
        let early = try await daemon.ctl("feedback", "like")
        #expect(early.status == 1 && early.errors.contains("there is nothing to rate"), "\(early.errors)")

        #expect(try await daemon.ctl("say", "How are you?").status == 0)
        let response = try await follower.waitFor("the answer") { $0.type == "agent_response" }
        let rated = try await daemon.ctl("feedback", "dislike")
        #expect(rated.status == 0 && rated.output == "rated the agent's last response: dislike\n", "\(rated.output) \(rated.errors)")
        try await waitFor("the feedback at the agent") { await !simulator.received("feedback").isEmpty }
        let sent = try #require(await simulator.received("feedback").first?.message?.objectMembers)
        #expect(sent["score"] == .string("dislike"))
        let responseID = try #require(response.fields["event_id"].flatMap { Int($0) })
        #expect(sent["event_id"] == .integer(responseID), "the response's own event id: \(sent)")
        let again = try await daemon.ctl("feedback", "like")
        #expect(again.status == 1 && again.errors.contains("already rated"), "\(again.errors)")
        #expect(await simulator.received("feedback").count == 1)
        let wrong = try await daemon.ctl("feedback", "meh")
        #expect(wrong.status == 64, "a usage error: \(wrong.errors)")
        #expect(try await daemon.terminate() == 0)
    }

    @Test func aSecondStartIsRefused() async throws {
        let simulator = try await SimulatorProcess()
        let daemon = try await DaemonProcess(simulator: simulator)
        #expect(try await daemon.ctl("start").status == 0)
        let second = try await daemon.ctl("start")
        #expect(second.status == 1)
        #expect(second.errors.contains("a conversation is already running"))
        #expect(try await daemon.status().state == "active", "the first conversation goes on")
        #expect(try await daemon.terminate() == 0)
    }

    @Test func systemdIsToldReadyStatusWatchdogAndStopping() async throws {
        let notifications = try DatagramCollector()
        let simulator = try await SimulatorProcess()
        let daemon = try await DaemonProcess(simulator: simulator, environment: ["NOTIFY_SOCKET": notifications.path, "WATCHDOG_USEC": "200000"])
        try await waitFor("READY=1") { notifications.messages.contains { $0.contains("READY=1") } }
        try await waitFor("watchdog pings") { notifications.messages.filter { $0 == "WATCHDOG=1" }.count >= 2 }
        #expect(notifications.messages.first { $0.contains("READY=1") }?.contains("STATUS=idle") == true)
        let started = try await daemon.ctl("start")
        #expect(started.status == 0)
        try await waitFor("the in-conversation status") { notifications.messages.contains { $0.hasPrefix("STATUS=in conversation conv_") } }
        #expect(notifications.messages.contains { $0.hasPrefix("STATUS=connecting to agent agent_e2e") })
        #expect(try await daemon.terminate() == 0)
        #expect(notifications.messages.contains { $0.hasPrefix("STOPPING=1") })
        #expect(daemon.log.contains("ended: the conversation was stopped"), "a close frame, not a dropped socket")
    }

    @Test func socketActivation() async throws {
        let simulator = try await SimulatorProcess()
        let socket = FileManager.default.temporaryDirectory.appendingPathComponent("activated-\(UUID().uuidString).sock").path
        let daemon = try await DaemonProcess(
            simulator: simulator, arguments: ["--control-socket", socket + ".unused"],
            launcher: ["/usr/bin/systemd-socket-activate", "--listen=\(socket)"], waitForSocket: false)
        var connected: RawControlClient?
        try await waitFor("systemd-socket-activate to listen") {
            connected = try? RawControlClient(path: socket)
            return connected != nil
        }
        let client = try #require(connected)
        try client.send(ControlCodec.encode(ControlRequest(id: "1", command: .status)))
        guard case .reply("1", let status?) = try ControlCodec.decodeMessage(try client.readLine(), result: StatusReport.self) else {
            Issue.record("the activated daemon must answer")
            return
        }
        #expect(status.state == "idle")
        #expect(daemon.log.contains("using the control socket passed by systemd"))
        #expect(!FileManager.default.fileExists(atPath: socket + ".unused"))
        #expect(try await daemon.terminate() == 0)
    }

    @Test func hostileControlInputIsAnsweredAndDisturbsNothing() async throws {
        let simulator = try await SimulatorProcess()
        let daemon = try await DaemonProcess(simulator: simulator)
        #expect(try await daemon.ctl("start").status == 0)
        let client = try RawControlClient(path: daemon.socketPath)
        let cases: [(Data, ControlError.Code)] = [
            (Data("not json\n".utf8), .badJSON),
            (Data([0, 0xff, 0xfe, 0x80, 0x0a]), .badJSON),
            (Data(#"{"v":1,"id":"1","command":"launch"}"#.utf8 + [0x0a]), .unknownCommand),
            (Data(#"{"v":9,"id":"2","command":"status"}"#.utf8 + [0x0a]), .badVersion),
            (Data(#"{"v":1,"id":"3","command":"say","args":{"text":42}}"#.utf8 + [0x0a]), .badArguments),
            (Data(repeating: UInt8(ascii: "x"), count: 70_000) + [0x0a], .tooLarge),
            (Data(#"{"v":1,"id":"4","command":"start"}"#.utf8 + [0x0a]), .conversationRunning),
        ]
        for (line, expected) in cases {
            try client.send(line)
            let reply = try client.readLine()
            guard case .failure(_, let error) = try ControlCodec.decodeMessage(reply, result: ControlCodec.Empty.self) else {
                Issue.record("expected \(expected)")
                continue
            }
            #expect(error.code == expected)
        }
        try client.send(Data(#"{"v":1,"id":"5","command":"status"}"#.utf8 + [0x0a]))
        guard case .reply("5", let status?) = try ControlCodec.decodeMessage(try client.readLine(), result: StatusReport.self) else {
            Issue.record("the connection must stay usable")
            return
        }
        #expect(status.state == "active", "the conversation was not disturbed")
        let pongsBefore = await simulator.received("pong").count
        try await waitFor("the conversation to go on") { await simulator.received("pong").count > pongsBefore + 2 }
        #expect(try await daemon.terminate() == 0)
    }

    @Test(arguments: ["succeeds", "fails", "hangs", "is missing"])
    func clientTools(outcome: String) async throws {
        let simulator = try await SimulatorProcess {
            $0.scenario = .toolCall
            $0.toolName = outcome == "is missing" ? "no_such_tool" : "lookup"
        }
        let daemon = try await DaemonProcess(simulator: simulator, arguments: ["--tool-timeout-ms", "500"])
        switch outcome {
        case "succeeds": try daemon.addTool("lookup", script: "#!/bin/sh\nread -r input\necho \"found $input in ${HOME:-no home}\"\n")
        case "fails": try daemon.addTool("lookup", script: "#!/bin/sh\necho 'database offline' >&2\nexit 3\n")
        case "hangs": try daemon.addTool("lookup", script: "#!/bin/sh\nexec sleep 60\n")
        default: break
        }
        #expect(try await daemon.ctl("start").status == 0)
        try await waitFor("the tool's answer") { await !simulator.received("client_tool_result").isEmpty }
        let result = try #require(await simulator.received("client_tool_result").first?.message?.objectMembers)
        switch outcome {
        case "succeeds":
            #expect(result["is_error"] == .bool(false))
            #expect(result["result"] == .string(#"found {"city":"Paris"} in no home"#), "parameters on stdin, a clean environment")
        case "fails":
            #expect(result["is_error"] == .bool(true))
            #expect(result["result"] == .string("client tool 'lookup' failed: exit status 3: database offline"))
        case "hangs":
            #expect(result["is_error"] == .bool(true))
            #expect(result["result"] == .string("client tool 'lookup' did not answer within 0.5 seconds"))
        default:
            #expect(result["is_error"] == .bool(true))
            #expect(result["result"] == .string("no client tool named 'no_such_tool' is configured"))
        }
        #expect(try await daemon.terminate() == 0)
    }

    @Test func aMissingAudioDeviceRefusesTheStartClearly() async throws {
        let simulator = try await SimulatorProcess()
        let daemon = try await DaemonProcess(simulator: simulator, arguments: ["--playback-device", "voiceagent_no_such_device"])
        let start = try await daemon.ctl("start")
        #expect(start.status == 1)
        #expect(start.errors.contains("audio device 'voiceagent_no_such_device' does not exist"))
        #expect(try await daemon.status().state == "idle")
        #expect(try await daemon.terminate() == 0)
    }

    @Test func clientExitStatusesSayWhatWentWrong() async throws {
        for arguments in [["status", "--socket", "/tmp/voiceagent-no-such.sock"], ["--socket", "/tmp/voiceagent-no-such.sock", "status"]] {
            let missing = try await runProgram(Binaries.path("voiceagentctl"), arguments)
            #expect(missing.status == 69)
            #expect(missing.errors.contains("voiceagentd is not running (no listener on /tmp/voiceagent-no-such.sock)"))
        }
        let usage = try await runProgram(Binaries.path("voiceagentctl"), ["start", "--var", "novalue"])
        #expect(usage.status == 64)
        let badBody = try await runProgram(Binaries.path("voiceagentctl"), ["start", "--llm-body", "temperature=warm"])
        #expect(badBody.status == 64 && badBody.errors.contains("--llm-body temperature: 'warm' is not JSON"), "\(badBody.errors)")
        let silent = FileManager.default.temporaryDirectory.appendingPathComponent("silent-\(UUID().uuidString).sock").path
        let listener = try SilentListener(path: silent)
        let hung = try await runProgram(Binaries.path("voiceagentctl"), ["status", "--socket", silent, "--timeout", "1"])
        #expect(hung.status == 74 && hung.errors.contains("did not answer within 1 s"))
        _ = listener
        let simulator = try await SimulatorProcess()
        let daemon = try await DaemonProcess(simulator: simulator)
        let refused = try await daemon.ctl("stop")
        #expect(refused.status == 1 && refused.errors.contains("no conversation is running"))
        chmod(daemon.directory, 0o755)
        let denied = try await runProgram(
            "/usr/sbin/runuser", ["-u", "nobody", "--", Binaries.path("voiceagentctl"), "status", "--socket", daemon.socketPath])
        #expect(denied.status == 77, "\(denied.errors)")
        #expect(denied.errors.contains("permission denied"))
        #expect(try await daemon.terminate() == 0)
    }

    @Test func aStalledFollowerIsToldWhatItMissedAndSlowsNothing() async throws {
        let simulator = try await SimulatorProcess { $0.pingInterval = .milliseconds(2) }
        let daemon = try await DaemonProcess(simulator: simulator)
        let stalled = try RawControlClient(path: daemon.socketPath)
        try stalled.send(ControlCodec.encode(ControlRequest(id: "slow", command: .events(EventsOptions(follow: true)))))
        let follower = try EventFollower(socket: daemon.socketPath)
        #expect(try await daemon.ctl("start").status == 0)
        try await waitFor("thousands of events", timeout: .seconds(60)) { follower.events.count >= 4000 }
        let seen = follower.events
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $1.seq == $0.seq + 1 }, "a reading follower misses nothing")
        var sawOverflow = false
        for _ in 0..<5000 where !sawOverflow {
            if case .overflow(let dropped) = try ControlCodec.decodeMessage(try stalled.readLine(), result: ControlCodec.Empty.self) {
                sawOverflow = dropped > 0
            }
        }
        #expect(sawOverflow, "the stalled follower is told it fell behind")
        #expect(try await daemon.status().state == "active")
        #expect(try await daemon.terminate() == 0)
    }

    /// The daemon runs in a mount namespace where journald's socket is ours,
    /// so what sd_journal_sendv sends is read here exactly as journald would.
    @Test func eventsAndLogsReachTheJournalWithStructuredFields() async throws {
        let journal = try DatagramCollector()
        let simulator = try await SimulatorProcess()
        let hijack = """
            mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && touch /run/systemd/journal/socket \
            && mount --bind "\(journal.path)" /run/systemd/journal/socket && exec "$0" "$@"
            """
        let daemon = try await DaemonProcess(
            simulator: simulator, environment: ["JOURNAL_STREAM": "8:12345"], launcher: ["/usr/bin/unshare", "--mount", "/bin/sh", "-c", hijack])
        let started = try await daemon.ctl("start")
        #expect(started.status == 0)
        let conversationID = String(started.output.split(separator: " ")[2])
        let entries = { journal.messages.map(JournalEntry.init) }
        try await waitFor("the greeting in the journal") { entries().contains { $0["VOICEAGENT_EVENT"] == "agent_response" } }
        let greeting = try #require(entries().first { $0["VOICEAGENT_EVENT"] == "agent_response" })
        #expect(greeting["SYSLOG_IDENTIFIER"] == "voiceagentd")
        #expect(greeting["PRIORITY"] == "6")
        #expect(greeting["VOICEAGENT_CONVERSATION_ID"] == conversationID)
        #expect(greeting["VOICEAGENT_TEXT"] == simulator.simulator.configuration.firstMessage)
        #expect(greeting["MESSAGE"] == "agent: " + simulator.simulator.configuration.firstMessage)
        #expect(Int(greeting["VOICEAGENT_SEQ"] ?? "") != nil)
        let command = try #require(entries().first { $0["MESSAGE"] == "control command start" })
        #expect(command["PRIORITY"] == "6" && command["VOICEAGENT_PEER"]?.hasPrefix("uid=0 pid=") == true)
        #expect(try await daemon.terminate() == 0)
        #expect(entries().contains { $0["VOICEAGENT_EVENT"] == "ended" && $0["VOICEAGENT_REASON"] == "stopped" })
    }

    @Test func sighupRereadsTheConfigurationForTheNextConversation() async throws {
        let simulator = try await SimulatorProcess()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("voiceagentd-\(UUID().uuidString).conf").path
        try "FIRST_MESSAGE=Good morning\n".write(toFile: file, atomically: true, encoding: .utf8)
        let daemon = try await DaemonProcess(simulator: simulator, arguments: ["--config", file])
        let follower = try EventFollower(socket: daemon.socketPath)
        #expect(try await daemon.ctl("start").status == 0)
        _ = try await follower.waitFor("the first greeting") { $0.type == "agent_response" && $0.text == "Good morning" }
        #expect(try await daemon.ctl("stop").status == 0)

        try "FIRST_MESSAGE=Good evening\n".write(toFile: file, atomically: true, encoding: .utf8)
        kill(daemon.process.processIdentifier, SIGHUP)
        try await waitFor("the reload") { daemon.log.contains("configuration reloaded") }
        #expect(try await daemon.ctl("start").status == 0)
        _ = try await follower.waitFor("the second greeting") { $0.type == "agent_response" && $0.text == "Good evening" }
        #expect(try await daemon.terminate() == 0)
    }

    @Test func invalidConfigurationStopsTheDaemonWithTheKeyNamed() async throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("empty-\(UUID().uuidString).conf").path
        try Data().write(to: URL(fileURLWithPath: empty))
        let result = try await runProgram(Binaries.path("voiceagentd"), ["--period-ms", "0", "--config", empty])
        #expect(result.status == 78)
        #expect(result.errors.contains("--period-ms"))
    }
}
