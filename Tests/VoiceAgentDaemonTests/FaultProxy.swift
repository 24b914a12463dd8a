import Foundation
import Glibc
import NIOConcurrencyHelpers
import Synchronization

/// A TCP proxy on 127.0.0.1 between the daemon and the simulator that a
/// test turns into a bad network: forwarding, a black hole (on established
/// connections nothing passes either way and nothing is closed, as a dead
/// Wi-Fi link; new connections are closed at once, as a dead upstream), or
/// resetting every connection.
///
/// A descriptor is closed only by the thread that uses it, once it is done:
/// the test process opens sockets all the time (the simulator's, status
/// queries), and a number closed under a running thread would soon be
/// another test's socket, which that thread would then read, write or shut.
final class FaultProxy: Sendable {
    enum Mode: Sendable {
        case forward
        case blackHole
    }

    let port: Int
    private let listener: Int32
    private let upstreamPort: Synchronization.Atomic<Int>
    private let state = NIOLockedValueBox<(mode: Mode, connections: [Connection])>((.forward, []))

    /// Both directions of one proxied connection; the second pump to finish
    /// closes both descriptors. Ending and closing hold one lock: a
    /// descriptor number is never shut down after it was closed, when it may
    /// already be another test's socket.
    private final class Connection: Sendable {
        let client: Int32
        let upstream: Int32
        let reset = Synchronization.Atomic(false)
        /// Pumps finished so far; 2 once both descriptors are closed.
        private let finishedPumps = NIOLockedValueBox(0)

        init(client: Int32, upstream: Int32) {
            self.client = client
            self.upstream = upstream
        }

        /// Wakes both pumps, which then end and close.
        func end(resetting: Bool) {
            finishedPumps.withLockedValue { finished in
                guard finished < 2 else { return }
                if resetting {
                    reset.store(true, ordering: .sequentiallyConsistent)
                    var abort = linger(l_onoff: 1, l_linger: 0)
                    for descriptor in [client, upstream] {
                        setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &abort, socklen_t(MemoryLayout<linger>.size))
                    }
                }
                shutdown(client, Int32(SHUT_RD))
                shutdown(upstream, Int32(SHUT_RD))
            }
        }

        func pumpFinished() {
            finishedPumps.withLockedValue { finished in
                finished += 1
                guard finished == 2 else { return }
                close(client)
                close(upstream)
            }
        }
    }

    init(to upstreamPort: Int) throws {
        self.upstreamPort = Synchronization.Atomic(upstreamPort)
        let listening = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var reuse: Int32 = 1
        setsockopt(listening, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        port = try bindLoopback(listening, port: 0)
        guard listen(listening, 16) == 0 else { throw SocketError("listen on 127.0.0.1") }
        listener = listening
        Thread { [self] in
            while true {
                let client = accept(listening, nil, nil)
                guard client >= 0 else { break }
                connectUpstream(client)
            }
            close(listening)
        }.start()
    }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        for connection in state.withLockedValue({ $0.connections }) {
            connection.end(resetting: false)
        }
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    func set(_ mode: Mode) {
        state.withLockedValue { $0.mode = mode }
    }

    /// New connections go to this port: another server behind the same address.
    func retarget(to port: Int) {
        upstreamPort.store(port, ordering: .sequentiallyConsistent)
    }

    /// Resets every open connection (RST, not FIN), as a router that lost
    /// its state does.
    func resetConnections() {
        let connections = state.withLockedValue { state in
            defer { state.connections.removeAll() }
            return state.connections
        }
        for connection in connections {
            connection.end(resetting: true)
        }
    }

    private func connectUpstream(_ client: Int32) {
        guard state.withLockedValue({ $0.mode }) == .forward else {
            close(client)
            return
        }
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = loopbackAddress(port: upstreamPort.load(ordering: .sequentiallyConsistent))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(client)
            close(upstream)
            return
        }
        let connection = Connection(client: client, upstream: upstream)
        state.withLockedValue { $0.connections.append(connection) }
        pump(from: client, to: upstream, of: connection)
        pump(from: upstream, to: client, of: connection)
    }

    /// Copies one direction. In a black hole what arrives is read and
    /// thrown away, so neither side sees a full buffer, a FIN or a reset.
    private func pump(from source: Int32, to destination: Int32, of connection: Connection) {
        Thread { [self] in
            defer { connection.pumpFinished() }
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
                guard count > 0 else {
                    if !connection.reset.load(ordering: .sequentiallyConsistent) {
                        shutdown(destination, Int32(SHUT_WR))
                    }
                    return
                }
                guard state.withLockedValue({ $0.mode }) == .forward else { continue }
                var offset = 0
                while offset < count {
                    let written = buffer.withUnsafeBytes { write(destination, $0.baseAddress! + offset, count - offset) }
                    guard written > 0 else { return }
                    offset += written
                }
            }
        }.start()
    }
}
