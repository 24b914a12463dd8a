import AgentSession
import AgentSimulator
import ControlProtocol
import DaemonSettings
import Foundation
import Glibc
import PacedAudioFixture
import Testing

@testable import voiceagentd

@Suite("Reconnect backoff")
struct ReconnectPolicyTests {
    let policy = ReconnectPolicy(enabled: true, initialDelay: .milliseconds(500), maxDelay: .seconds(30), maxAttempts: 4)

    @Test func theCapDoublesUpToTheMaximumAndTheWaitIsAShareOfIt() {
        let caps = (1...8).map { policy.delay(beforeAttempt: $0, fraction: 1) }
        #expect(caps == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), .seconds(30)])
        #expect(policy.delay(beforeAttempt: 3, fraction: 0) == .zero)
        #expect(policy.delay(beforeAttempt: 3, fraction: 0.25) == .milliseconds(500))
        let drawn = (0..<200).map { _ in policy.delay(beforeAttempt: 5) }
        #expect(drawn.allSatisfy { $0 >= .zero && $0 <= .seconds(8) }, "full jitter: anywhere from 0 to the cap")
        #expect(Set(drawn).count > 100, "spread, not one value")
    }

    @Test func attemptsAreLimitedOnlyWhenAskedAndNeverWhenOff() {
        #expect(policy.allows(attempt: 4) && !policy.allows(attempt: 5))
        var endless = policy
        endless.maxAttempts = 0
        #expect(endless.allows(attempt: 10_000))
        endless.enabled = false
        #expect(!endless.allows(attempt: 1))
    }
}

/// A voice agent on Wi-Fi: a conversation the network or the service took
/// comes back by itself; one the user or the agent ended does not.
@Suite("Conversations that come back", .serialized, .timeLimit(.minutes(2)))
struct ReconnectTests {
    static let fast = ["--reconnect-initial-ms", "100", "--reconnect-max-ms", "1000"]

    @Test func aConversationTheServiceLostComesBackUntilStopped() async throws {
        let simulator = try await SimulatorProcess {
            $0.scenario = .failMidReply
            $0.replySeconds = 0.4
        }
        let daemon = try await DaemonProcess(simulator: simulator, audio: .lifecycleTests, arguments: Self.fast)
        let follower = try EventFollower(socket: daemon.socketPath)
        let started = try await daemon.ctl("start", "--var", "customer=Ada")
        #expect(started.status == 0)
        let first = String(started.output.split(separator: " ")[2])

        let reconnecting = try await follower.waitFor("a reconnect") { $0.type == "reconnecting" }
        #expect(reconnecting.conversationID == first)
        #expect(reconnecting.fields["attempt"] == "1" && reconnecting.fields["cause"] == "closed_by_server")
        #expect(reconnecting.text?.contains("(1011 internal_error)") == true)
        let reconnected = try await follower.waitFor("the new conversation") { $0.type == "reconnected" }
        #expect(reconnected.fields["previous_conversation_id"] == first)
        #expect(reconnected.conversationID != nil && reconnected.conversationID != first)
        let initiations = await simulator.received("conversation_initiation_client_data")
        #expect(initiations.count >= 2)
        #expect(initiations.allSatisfy { $0.message?.objectMembers?["dynamic_variables"] == .object(["customer": .string("Ada")]) },
            "the new conversation starts as the first did")

        _ = try await follower.waitFor("the next loss") { $0.type == "reconnecting" && $0.seq > reconnected.seq }
        let stopped = try await daemon.ctl("stop")
        #expect(stopped.status == 0, "\(stopped.errors)")
        #expect(try await daemon.status().state == "idle", "stop ends the conversation and cancels what was pending")
        #expect(try await daemon.terminate() == 0)
    }

    @Test(arguments: [SimulatorScenario.closeMidReply, .error1002, .error1008])
    func aConversationTheAgentEndedOrRefusedDoesNotComeBack(scenario: SimulatorScenario) async throws {
        let simulator = try await SimulatorProcess { $0.scenario = scenario }
        let daemon = try await DaemonProcess(simulator: simulator, audio: .lifecycleTests, arguments: Self.fast)
        let follower = try EventFollower(socket: daemon.socketPath)
        _ = try await daemon.ctl("start")
        _ = try await follower.waitFor("the end") { $0.type == "ended" }
        try await waitFor("idle") { try await daemon.status().state == "idle" }
        #expect(!follower.events.contains { $0.type == "reconnecting" })
        #expect(try await daemon.terminate() == 0)
    }

    @Test func reconnectOffLeavesALostConversationEnded() async throws {
        let simulator = try await SimulatorProcess { $0.scenario = .failMidReply }
        let daemon = try await DaemonProcess(simulator: simulator, audio: .lifecycleTests, arguments: ["--reconnect", "no"])
        let follower = try EventFollower(socket: daemon.socketPath)
        #expect(try await daemon.ctl("start").status == 0)
        _ = try await follower.waitFor("the loss") { $0.type == "ended" }
        try await waitFor("idle") { try await daemon.status().state == "idle" }
        #expect(!follower.events.contains { $0.type == "reconnecting" })
        #expect(try await daemon.terminate() == 0)
    }

    @Test func aPendingReconnectShowsInStatusAndNeverDelaysSIGTERM() async throws {
        let simulator = try await SimulatorProcess { $0.scenario = .failMidReply }
        let daemon = try await DaemonProcess(
            simulator: simulator, audio: .lifecycleTests, arguments: ["--reconnect-initial-ms", "60000", "--reconnect-max-ms", "600000"])
        #expect(try await daemon.ctl("start").status == 0)
        // The first wait is a random share of a minute: long enough to see it.
        var waiting: StatusReport?
        try await waitFor("the reconnect wait") {
            waiting = try await daemon.status()
            return waiting?.state == "reconnecting" || waiting?.state == "active"
        }
        if let pending = waiting?.reconnecting {
            #expect(pending.attempt == 1 && pending.delayMs <= 60_000)
            #expect(pending.cause.contains("(1011 internal_error)"))
            let shown = try await daemon.ctl("status")
            #expect(shown.output.contains("State:        reconnecting (attempt 1, after "), "\(shown.output)")
            #expect(shown.output.contains("the last one ended: the agent's service had an internal error"))
        }
        let refused = try await daemon.ctl("start")
        #expect(refused.status == 1, "one conversation at a time, reconnecting included")
        #expect(try await daemon.terminate() == 0)
    }
}

/// Faults made on loopback by a proxy between the daemon and the agent.
@Suite("A network that fails", .serialized, .timeLimit(.minutes(3)))
struct NetworkFaultTests {
    static let quick = ["--silence-timeout-ms", "1000", "--connect-timeout-ms", "1000", "--reconnect-initial-ms", "100", "--reconnect-max-ms", "1000"]

    func simulatorPort(_ simulator: SimulatorProcess) -> Int {
        Int(simulator.baseURL.split(separator: ":").last!)!
    }

    /// A link that goes dead without a reset, for 20 s, then comes back.
    @Test func aBlackHoleIsNoticedAndTheConversationComesBackWithTheNetwork() async throws {
        let simulator = try await SimulatorProcess { $0.replySeconds = 3 }
        let proxy = try FaultProxy(to: simulatorPort(simulator))
        let daemon = try await DaemonProcess(
            simulator: simulator, audio: .lifecycleTests, arguments: ["--api-base-url", proxy.baseURL] + Self.quick)
        let follower = try EventFollower(socket: daemon.socketPath)
        let started = try await daemon.ctl("start")
        #expect(started.status == 0)
        // The simulator runs in this busy test process and can miss its
        // pings for the 1 s silence limit, ending a conversation before the
        // black hole: what follows is about the one the black hole takes.
        var holed: String?
        try await waitFor("a conversation with its greeting playing") {
            let status = try await daemon.status()
            holed = status.conversationID
            return status.state == "active" && status.audio.framesPlayed > 3200
        }

        proxy.set(.blackHole)
        let blackHoledAt = ContinuousClock.now
        let lost = try await follower.waitFor("the loss") { $0.type == "ended" && $0.conversationID == holed }
        print("the dead link was noticed after \(ContinuousClock.now - blackHoledAt)")
        #expect(lost.fields["reason"] == "network_error")
        #expect(lost.text?.contains("for 1.0 seconds, not even a ping: the network is down or the connection is dead") == true)
        let afterLoss = try await daemon.status()
        #expect(afterLoss.audio.framesPlayed < 48_000, "the rest of the greeting was not played into a dead conversation")
        _ = try await follower.waitFor("a failed attempt in the black hole") {
            $0.type == "reconnecting" && $0.fields["cause"] == "connection_failed" && $0.seq > lost.seq
        }
        #expect(try await daemon.status().state != "active", "alive, answering, and not pretending to talk")

        try await Task.sleep(until: blackHoledAt + .seconds(20))
        proxy.set(.forward)
        let back = try await follower.waitFor("the conversation back", timeout: .seconds(20)) { $0.type == "reconnected" && $0.seq > lost.seq }
        #expect(back.fields["previous_conversation_id"] == holed)
        #expect(try await daemon.status().state == "active")
        #expect(try await daemon.terminate() == 0)
    }

    /// The daemon runs in a mount namespace whose resolver is 127.0.0.1,
    /// where nothing answers: the lookup fails here, and nothing leaves the
    /// machine.
    @Test func aNameThatDoesNotResolveIsSaidSo() async throws {
        let simulator = try await SimulatorProcess()
        let resolver = FileManager.default.temporaryDirectory.appendingPathComponent("resolv-\(UUID().uuidString).conf").path
        try "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n".write(toFile: resolver, atomically: true, encoding: .utf8)
        let isolate = "mount --bind \"\(resolver)\" /etc/resolv.conf && exec \"$0\" \"$@\""
        let daemon = try await DaemonProcess(
            simulator: simulator, audio: .lifecycleTests, arguments: ["--api-base-url", "http://agent.voiceagentd-test.invalid:8080"],
            launcher: ["/usr/bin/unshare", "--mount", "/bin/sh", "-c", isolate])
        let refused = try await daemon.ctl("start")
        #expect(refused.status == 1)
        #expect(refused.errors.contains(
            "could not connect to the agent: the host name in agent.voiceagentd-test.invalid:8080 could not be resolved: check api.base.url and the machine's DNS"),
            "\(refused.errors)")
        #expect(try await daemon.terminate() == 0)
    }

    /// The agent's server process dies mid-reply (SIGKILL: the kernel
    /// closes its sockets); the daemon keeps trying while nothing listens
    /// and is back in conversation once a server listens on that port again.
    @Test func aServerKilledMidReplyIsALossThatComesBackWithTheServer() async throws {
        let port = try freeLoopbackPort()
        var server = try await SimulatorChild(port: port, arguments: ["--delivery", "paced", "--reply-seconds", "3"])
        let daemon = try await DaemonProcess(
            simulator: SimulatorProcess(), audio: .lifecycleTests, arguments: ["--api-base-url", "http://127.0.0.1:\(port)"] + Self.quick)
        let follower = try EventFollower(socket: daemon.socketPath)
        #expect(try await daemon.ctl("start").status == 0)
        try await waitFor("the greeting playing") { try await daemon.status().audio.framesPlayed > 3200 }

        server.kill()
        let lost = try await follower.waitFor("the loss") { $0.type == "ended" }
        #expect(lost.fields["reason"] == "network_error", "\(lost)")
        let afterLoss = try await daemon.status()
        #expect(afterLoss.audio.framesPlayed < 48_000, "the rest of the greeting never came and nothing is stuck playing")
        let refused = try await follower.waitFor("an attempt while nothing listens") {
            $0.type == "reconnecting" && $0.fields["cause"] == "connection_failed"
        }
        #expect(refused.text?.contains("refused the connection: nothing listens there") == true, "\(refused.text ?? "")")
        #expect(try await daemon.status().state != "active")

        server = try await SimulatorChild(port: port, arguments: ["--delivery", "paced", "--reply-seconds", "3"])
        _ = try await follower.waitFor("the conversation back", timeout: .seconds(20)) { $0.type == "reconnected" }
        #expect(try await daemon.status().state == "active")
        #expect(try await daemon.terminate() == 0)
        server.kill()
    }

    /// Each attempt looks the name up again: the daemon runs in a mount
    /// namespace whose /etc/hosts the test rewrites between the first
    /// conversation and its replacement, which then reaches the other server.
    @Test func aReconnectResolvesTheNameAgain() async throws {
        let first = try await SimulatorProcess {
            $0.scenario = .failMidReply
            $0.delivery = .paced
            $0.replySeconds = 2
        }
        let port = simulatorPort(first)
        let second = try await SimulatorProcess {
            $0.host = "127.0.0.2"
            $0.port = port
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("resolve-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let hosts = scratch + "/hosts"
        try "127.0.0.1 agent.voiceagentd.test\n".write(toFile: hosts, atomically: false, encoding: .utf8)
        try "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n".write(toFile: scratch + "/resolv.conf", atomically: true, encoding: .utf8)
        let isolate = "mount --bind \"\(hosts)\" /etc/hosts && mount --bind \"\(scratch)/resolv.conf\" /etc/resolv.conf && exec \"$0\" \"$@\""
        let daemon = try await DaemonProcess(
            simulator: first, audio: .lifecycleTests, arguments: ["--api-base-url", "http://agent.voiceagentd.test:\(port)"] + Self.quick,
            launcher: ["/usr/bin/unshare", "--mount", "/bin/sh", "-c", isolate])
        let follower = try EventFollower(socket: daemon.socketPath)
        #expect(try await daemon.ctl("start").status == 0)
        // In place: the bind mount holds this inode, a renamed file would not be seen.
        try "127.0.0.2 agent.voiceagentd.test\n".write(toFile: hosts, atomically: false, encoding: .utf8)

        let back = try await follower.waitFor("the conversation back") { $0.type == "reconnected" }
        let reached = await second.received("conversation_initiation_client_data")
        #expect(reached.count == 1, "the replacement went to the address the name has now")
        #expect(back.conversationID == reached.first?.conversationID)
        #expect(await first.received("conversation_initiation_client_data").count == 1)
        #expect(try await daemon.terminate() == 0)
    }

    /// With reconnect.carry.over the replacement is told the last turns and
    /// asked not to greet again; an agent that allows no overrides gets the
    /// context all the same, and greets.
    @Test(arguments: [false, true])
    func aReplacementIsToldWhatWasSaid(agentRefusesOverrides: Bool) async throws {
        let simulator = try await SimulatorProcess {
            $0.replySeconds = 0.5
            $0.refuseOverrides = agentRefusesOverrides
        }
        let proxy = try FaultProxy(to: simulatorPort(simulator))
        let daemon = try await DaemonProcess(
            simulator: simulator, audio: .lifecycleTests,
            arguments: ["--api-base-url", proxy.baseURL, "--reconnect-carry-over", "yes"] + Self.quick)
        let follower = try EventFollower(socket: daemon.socketPath)
        #expect(try await daemon.ctl("start").status == 0)
        _ = try await follower.waitFor("the greeting's text") { $0.type == "agent_response" }
        proxy.resetConnections()
        let back = try await follower.waitFor("the conversation back") { $0.type == "reconnected" }

        let update = try await waitForRecord("contextual_update", in: simulator)
        let text = update.message?.objectMembers?["text"]
        #expect(text == .string("""
            This conversation continues one that the network cut off; do not greet the user again. Its last turns were:
            Agent: \(SimulatorConfiguration().firstMessage)
            """))
        #expect(update.conversationID == back.conversationID)
        let firstMessages = await simulator.received("conversation_initiation_client_data").map {
            $0.message?.objectMembers?["conversation_config_override"]?.objectMembers?["agent"]?.objectMembers?["first_message"]
        }
        if agentRefusesOverrides {
            #expect(firstMessages == [nil, .string(""), nil], "asked once, refused, then without the override at once")
        } else {
            #expect(firstMessages == [nil, .string("")])
        }
        #expect(try await daemon.terminate() == 0)
    }

    /// A private agent's conversation is lost; when the daemon calls back,
    /// the service answers the signed-URL request with `status`. A refusal
    /// ends the reconnecting for good, with the reason in `status`; a busy
    /// or failing service is tried again.
    @Test(arguments: [(401, false), (403, false), (404, false), (429, true), (500, true)])
    func aReconnectAnsweredWithAnHTTPStatus(status: Int, triedAgain: Bool) async throws {
        let service = try await SimulatorProcess { $0.apiKey = "sk_fault" }
        let failing = try await SimulatorProcess {
            $0.apiKey = "sk_fault"
            $0.signedURLStatus = status
        }
        let proxy = try FaultProxy(to: simulatorPort(service))
        let daemon = try await DaemonProcess(
            simulator: service, audio: .lifecycleTests, arguments: ["--api-base-url", proxy.baseURL] + Self.quick,
            environment: ["ELEVENLABS_API_KEY": "sk_fault"])
        let follower = try EventFollower(socket: daemon.socketPath)
        #expect(try await daemon.ctl("start").status == 0)
        proxy.retarget(to: simulatorPort(failing))
        proxy.resetConnections()

        let attempt = try await follower.waitFor("the first attempt's end") {
            $0.type == "ended" && $0.fields["reason"] != "network_error"
        }
        #expect(attempt.text?.contains("HTTP \(status)") == true, "\(attempt.text ?? "")")
        if triedAgain {
            let next = try await follower.waitFor("a second attempt") { $0.type == "reconnecting" && $0.fields["attempt"] == "2" }
            #expect(next.fields["cause"] == "connection_failed")
            #expect(try await daemon.status().state != "active")
        } else {
            #expect(attempt.fields["reason"] == "refused")
            try await waitFor("the daemon idle") { try await daemon.status().state == "idle" }
            let idle = try await daemon.status()
            #expect(idle.lastEnd?.reason == "refused" && idle.reconnecting == nil)
            #expect(!follower.events.contains { $0.type == "reconnecting" && $0.fields["attempt"] == "2" }, "a refusal is not retried")
        }
        #expect(try await daemon.terminate() == 0)
    }

    func waitForRecord(_ type: String, in simulator: SimulatorProcess) async throws -> RecordedMessage {
        var found: RecordedMessage?
        try await waitFor("a \(type) at the agent") {
            found = await simulator.received(type).first
            return found != nil
        }
        return try #require(found)
    }

    @Test func aResetIsALostConnectionThatComesBack() async throws {
        let simulator = try await SimulatorProcess { $0.replySeconds = 3 }
        let proxy = try FaultProxy(to: simulatorPort(simulator))
        let daemon = try await DaemonProcess(
            simulator: simulator, audio: .lifecycleTests, arguments: ["--api-base-url", proxy.baseURL] + Self.quick)
        let follower = try EventFollower(socket: daemon.socketPath)
        #expect(try await daemon.ctl("start").status == 0)
        try await waitFor("the greeting playing") { try await daemon.status().audio.framesPlayed > 3200 }
        proxy.resetConnections()
        let lost = try await follower.waitFor("the loss") { $0.type == "ended" }
        #expect(lost.fields["reason"] == "network_error")
        #expect(lost.text?.contains("reset the connection") == true || lost.text?.contains("closed without a close frame") == true, "\(lost.text ?? "")")
        #expect(!(lost.text ?? "").contains("errno"), "an operator's sentence")
        _ = try await follower.waitFor("the conversation back") { $0.type == "reconnected" }
        #expect(try await daemon.terminate() == 0)
    }
}
