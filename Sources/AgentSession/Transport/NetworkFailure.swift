import AsyncHTTPClient
import Glibc
import NIOCore
import NIOPosix
import NIOSSL
import NIOWebSocket

/// A network library's error put as one sentence an operator can act on:
/// what failed, where, and what to check. The library's own text goes to
/// the debug log, not here.
struct NetworkFailure: CustomStringConvertible {
    let error: any Error
    /// host:port of what was being reached.
    let place: String

    init(_ error: any Error, host: String, port: Int) {
        self.error = error
        place = Self.place(host: host, port: port)
    }

    static func place(host: String, port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    var description: String {
        switch error {
        case let error as NIOConnectionError:
            if error.dnsAError != nil || error.dnsAAAAError != nil, error.connectionErrors.isEmpty {
                return nameNotFound
            }
            if let first = error.connectionErrors.first?.error {
                return NetworkFailure(wrapping: first, place: place).description
            }
            return "could not connect to \(place): check the network and api.base.url"
        case is SocketAddressError.UnknownHost:
            return nameNotFound
        case let error as IOError:
            return sentence(errno: error.errnoCode)
        case ChannelError.connectTimeout:
            return "connecting to \(place) timed out: check the network, a firewall or a proxy in the way"
        case let error as HTTPClientError where error == .connectTimeout || error == .tlsHandshakeTimeout:
            return "connecting to \(place) timed out: check the network, a firewall or a proxy in the way"
        case let error as HTTPClientError where error == .readTimeout || error == .deadlineExceeded:
            return "\(place) did not answer in time: check the network or the service's status"
        case let error as HTTPClientError where error == .remoteConnectionClosed:
            return "\(place) closed the connection before answering: check api.base.url and that it speaks HTTPS"
        case let error as NIOSSLExtraError where error == .cannotUseIPAddressInSNI:
            // The WebSocket client always names the host in the TLS handshake.
            return "\(place) is an IP address, and the WebSocket over TLS needs a host name there: put the name its certificate carries in api.base.url"
        case let error as NIOSSLExtraError where error == .failedToValidateHostname:
            return "the TLS certificate of \(place) is for another host name: check api.base.url"
        case NIOSSLError.handshakeFailed:
            return
                "the TLS certificate of \(place) was not accepted (not signed by a trusted authority, or expired): check the system clock, the CA store (ca-certificates) and extra.ca.file"
        case is NIOSSLError, is NIOSSLExtraError:
            return "the TLS connection to \(place) failed: check that api.base.url speaks HTTPS"
        default:
            return "the connection to \(place) failed: check the network and api.base.url"
        }
    }

    private init(wrapping error: any Error, place: String) {
        self.error = error
        self.place = place
    }

    private var nameNotFound: String {
        "the host name in \(place) could not be resolved: check api.base.url and the machine's DNS"
    }

    private func sentence(errno code: Int32) -> String {
        switch code {
        case ECONNREFUSED:
            "\(place) refused the connection: nothing listens there; check api.base.url"
        case ECONNRESET, EPIPE:
            "\(place) reset the connection: check the network or a proxy in the way"
        case ETIMEDOUT:
            "the connection to \(place) timed out: check the network"
        case ENETUNREACH, EHOSTUNREACH, ENETDOWN:
            "\(place) cannot be reached from this machine: check the network connection and routes"
        default:
            "the connection to \(place) failed (\(String(cString: strerror(code)))): check the network and api.base.url"
        }
    }
}
