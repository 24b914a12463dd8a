import AgentSimulator
import ControlProtocol
import Foundation
import Glibc
import PacedAudioFixture
import Testing

/// One member of the group behaving badly must not lock the others out.
@Suite("The control socket under hostile load", .serialized, .timeLimit(.minutes(2)))
struct ControlSocketLoadTests {
    func request(_ command: ControlCommand, id: String = "1") -> Data {
        ControlCodec.encode(ControlRequest(id: id, command: command))
    }

    func answer(_ client: RawControlClient) throws -> ControlCodec.Message<StatusReport> {
        try ControlCodec.decodeMessage(try client.readLine(), result: StatusReport.self)
    }

    @Test func connectionsHeldOpenCannotLockOutStopInterruptAndStatus() async throws {
        let simulator = try await SimulatorProcess()
        let daemon = try await DaemonProcess(simulator: simulator)
        #expect(try await daemon.ctl("start").status == 0)
        // One user holds every ordinary connection it may have: each is
        // answered once (so the daemon has taken it), then sends nothing.
        var held: [RawControlClient] = []
        for _ in 0..<16 {
            let client = try RawControlClient(path: daemon.socketPath)
            try client.send(request(.status))
            _ = try answer(client)
            held.append(client)
        }

        // Its next connections are the reserve: status gets through, start does not.
        let reserved = try RawControlClient(path: daemon.socketPath)
        try reserved.send(request(.status))
        guard case .reply(_, let status?) = try answer(reserved) else {
            Issue.record("status must get through while the user's share is full")
            return
        }
        #expect(status.state == "active")
        let refused = try RawControlClient(path: daemon.socketPath)
        try refused.send(request(.start(StartOptions())))
        guard case .failure(_, let busy) = try answer(refused) else {
            Issue.record("start on a reserved connection is refused")
            return
        }
        #expect(busy.code == .unavailable && busy.message.contains("only stop, interrupt and status are taken now"))

        // With the reserve held too (one more idle holder each round, until
        // a probe is refused), a request is still read and answered.
        var reserve: [RawControlClient] = []
        try await waitFor("every connection to be taken") {
            reserve.append(try RawControlClient(path: daemon.socketPath))
            let probe = try RawControlClient(path: daemon.socketPath)
            try probe.send(request(.status))
            guard case .failure(_, let full) = try answer(probe) else {
                _ = try? probe.readLine()  // served on the reserve: wait until it is given back
                return false
            }
            #expect(full.code == .unavailable && full.message.contains("every connection is taken"), "a readable refusal, not a reset")
            return true
        }
        #expect(reserve.count >= 8)

        // Freed connections are usable again, and the conversation was never disturbed.
        held.removeAll()
        reserve.removeAll()
        try await waitFor("the freed connections") { (try? await daemon.status())?.state == "active" }
        #expect(try await daemon.terminate() == 0)
    }

    @Test func anIdleConnectionIsToldAndClosed() async throws {
        let simulator = try await SimulatorProcess()
        let daemon = try await DaemonProcess(simulator: simulator)
        let idle = try RawControlClient(path: daemon.socketPath)
        let follower = try RawControlClient(path: daemon.socketPath)
        try follower.send(request(.events(EventsOptions(follow: true))))
        _ = try follower.readLine()
        guard case .failure(_, let error) = try ControlCodec.decodeMessage(try idle.readLine(), result: ControlCodec.Empty.self) else {
            Issue.record("an idle connection is told why it is closed")
            return
        }
        #expect(error.code == .idle && error.message == "no request for 10.0 seconds; closing the connection")
        #expect(throws: SocketError.self) { try idle.readLine() }
        #expect(try await daemon.ctl("start").status == 0)
        guard case .event(let event) = try ControlCodec.decodeMessage(try follower.readLine(), result: ControlCodec.Empty.self) else {
            Issue.record("a follower is not idle: it still gets events")
            return
        }
        #expect(event.type == "connecting")
        #expect(try await daemon.terminate() == 0)
    }

    /// `start` waits for the agent: longer than the idle limit is not idle.
    @Test func aSlowAnswerIsNotIdleness() async throws {
        let simulator = try await SimulatorProcess { $0.scenario = .noMetadata }
        let daemon = try await DaemonProcess(simulator: simulator, arguments: ["--connect-timeout-ms", "12000"])
        let started = try await daemon.ctl("start")
        #expect(started.status == 1)
        #expect(started.errors.contains("sent no conversation_initiation_metadata within 12.0 seconds"), "\(started.errors)")
        #expect(try await daemon.terminate() == 0)
    }

    @Test func aRequestFollowedByAHalfCloseIsAnswered() async throws {
        let simulator = try await SimulatorProcess()
        let daemon = try await DaemonProcess(simulator: simulator)
        let client = try RawControlClient(path: daemon.socketPath)
        try client.send(request(.status, id: "half"))
        client.finishSending()
        guard case .reply("half", let status?) = try answer(client) else {
            Issue.record("the answer must come after a half-close")
            return
        }
        #expect(status.state == "idle")
        #expect(try await daemon.terminate() == 0)
    }
}
