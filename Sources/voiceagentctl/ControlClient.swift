import ControlProtocol
import FoundationEssentials
import Glibc

/// A blocking connection to the daemon's control socket: one request out,
/// lines back.
final class ControlClient {
    private let descriptor: Int32
    private var framer = LineFramer(maxLength: ControlProtocol.maxReplyBytes)
    private var pending: [[UInt8]] = []

    /// The longest a command waits for its answer.
    private let answerTimeoutSeconds: Int

    init(path: String, answerTimeoutSeconds: Int) throws(ClientFailure) {
        self.answerTimeoutSeconds = answerTimeoutSeconds
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw .io("cannot create a socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else {
            close(descriptor)
            throw .usage("the socket path is longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            let code = errno
            close(descriptor)
            switch code {
            case ENOENT, ECONNREFUSED:
                throw .notRunning("voiceagentd is not running (no listener on \(path)); start it with: systemctl start voiceagentd")
            case EACCES, EPERM:
                throw .permissionDenied("permission denied on \(path): add yourself to the 'voiceagent' group (then log in again), or use sudo")
            default:
                throw .io("cannot connect to \(path): \(String(cString: strerror(code)))")
            }
        }
    }

    deinit {
        close(descriptor)
    }

    func send(_ request: ControlRequest) throws(ClientFailure) {
        let bytes = ControlCodec.encode(request)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            guard written > 0 else { throw .io("voiceagentd closed the connection without answering; see why with: journalctl -u voiceagentd") }
            offset += written
        }
    }

    /// The next line from the daemon; nil when it closed the connection.
    func nextLine() throws(ClientFailure) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while pending.isEmpty {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { return nil }
            guard count > 0 else {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    throw .io("the daemon did not answer within \(answerTimeoutSeconds) s; is it hung? (journalctl -u voiceagentd)")
                }
                throw .io("voiceagentd closed the connection without answering (\(String(cString: strerror(errno)))); see why with: journalctl -u voiceagentd")
            }
            for frame in framer.push(buffer[..<count]) {
                guard case .line(let line) = frame else { throw .io("the daemon sent a line over \(ControlProtocol.maxReplyBytes) bytes") }
                pending.append(line)
            }
        }
        return pending.removeFirst()
    }

    /// Sends a request and returns its result, or throws the daemon's refusal.
    func call<Result: Decodable & Sendable>(_ command: ControlCommand, expecting: Result.Type) throws(ClientFailure) -> Result? {
        var timeout = timeval(tv_sec: answerTimeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let id = String(getpid())
        try send(ControlRequest(id: id, command: command))
        while let line = try nextLine() {
            let message: ControlCodec.Message<Result>
            do {
                message = try ControlCodec.decodeMessage(line, result: Result.self)
            } catch {
                throw .io("the daemon sent a line this client does not understand: \(error)")
            }
            switch message {
            case .reply(let replyID, let result) where replyID == id: return result
            case .failure(_, let error): throw .refused(error)
            case .reply, .event, .overflow: continue
            }
        }
        throw .io("voiceagentd closed the connection without answering; see why with: journalctl -u voiceagentd")
    }
}

/// Why a command did not succeed, and the exit status that says so.
enum ClientFailure: Error, CustomStringConvertible {
    case notRunning(String)
    case permissionDenied(String)
    case refused(ControlError)
    case usage(String)
    case io(String)

    var description: String {
        switch self {
        case .notRunning(let text), .permissionDenied(let text), .usage(let text), .io(let text): text
        case .refused(let error): error.message
        }
    }

    /// sysexits(3) values where one fits.
    var exitStatus: Int32 {
        switch self {
        case .refused(let error) where error.code == .badConfiguration: 78
        case .refused: 1
        case .usage: 64
        case .notRunning: 69
        case .io: 74
        case .permissionDenied: 77
        }
    }
}
