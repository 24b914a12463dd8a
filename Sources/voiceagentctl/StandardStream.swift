import Glibc

/// Standard output or error, written whole lines at a time and unbuffered:
/// a follower piped into another program sees each event at once.
enum StandardStream {
    case output
    case error

    func writeLine(_ text: String) {
        let descriptor = self == .output ? STDOUT_FILENO : STDERR_FILENO
        let bytes = Array((text + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}
