import ControlProtocol
import Foundation
import Glibc
import NIOConcurrencyHelpers

func unixAddress(_ path: String) -> sockaddr_un {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: path.utf8)
        raw[path.utf8.count] = 0
    }
    return address
}

struct SocketError: Error, CustomStringConvertible {
    let description: String

    init(_ operation: String) {
        description = "\(operation): \(String(cString: strerror(errno)))"
    }
}

/// A datagram socket that keeps what arrives: a NOTIFY_SOCKET for
/// sd_notify, or a stand-in for journald's socket for sd_journal_sendv.
final class DatagramCollector: Sendable {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("datagrams-\(UUID().uuidString).sock").path
    private let received = MessageStore()
    private let descriptor: Int32

    init() throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = unixAddress(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw SocketError("bind \(path)") }
        let socket = descriptor
        // The reader closes the socket when it ends, so it never reads a
        // descriptor number that was closed and given to another test.
        Thread { [received] in
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { break }
                received.append(String(decoding: buffer[..<count], as: UTF8.self))
            }
            close(socket)
        }.start()
    }

    deinit {
        shutdown(descriptor, Int32(SHUT_RDWR))
        unlink(path)
    }

    var messages: [String] { received.all }
}

final class MessageStore: Sendable {
    private let messages = NIOLockedValueBox<[String]>([])

    func append(_ message: String) {
        messages.withLockedValue { $0.append(message) }
    }

    var all: [String] { messages.withLockedValue { $0 } }
}

/// A client that writes whatever bytes a test wants on the control socket.
final class RawControlClient {
    private let descriptor: Int32
    private var framer = LineFramer(maxLength: ControlProtocol.maxReplyBytes)
    private var lines: [[UInt8]] = []

    init(path: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = unixAddress(path)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw SocketError("connect \(path)") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(descriptor)
    }

    func send(_ bytes: Data) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            guard written > 0 else { throw SocketError("write") }
            offset += written
        }
    }

    /// Shuts down the writing side, as `nc -N` does after its request.
    func finishSending() {
        shutdown(descriptor, Int32(SHUT_WR))
    }

    func readLine() throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while lines.isEmpty {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { throw SocketError("read") }
            for case .line(let line) in framer.push(buffer[..<count]) {
                lines.append(line)
            }
        }
        return lines.removeFirst()
    }
}

/// One journal entry in journald's native datagram format: `NAME=value`
/// lines (values with newlines, which these tests do not send, are framed
/// differently).
struct JournalEntry {
    let fields: [String: String]

    init(_ datagram: String) {
        var fields: [String: String] = [:]
        for line in datagram.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            fields[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        self.fields = fields
    }

    subscript(name: String) -> String? { fields[name] }
}

/// A socket that accepts connections and never answers: a hung daemon.
final class SilentListener {
    private let descriptor: Int32

    init(path: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = unixAddress(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(descriptor, 8) == 0 else { throw SocketError("listen on \(path)") }
    }

    deinit {
        close(descriptor)
    }
}

/// A port nothing listens on now, on 127.0.0.1.
func freeLoopbackPort() throws -> Int {
    let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(probe) }
    return try bindLoopback(probe, port: 0)
}

/// Binds `descriptor` to 127.0.0.1:`port` and returns the port it got.
func bindLoopback(_ descriptor: Int32, port: Int) throws -> Int {
    var address = loopbackAddress(port: port)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw SocketError("bind on 127.0.0.1") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(descriptor, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

func canConnect(toLoopbackPort port: Int) -> Bool {
    let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(probe) }
    var address = loopbackAddress(port: port)
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(probe, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}

func loopbackAddress(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return address
}
