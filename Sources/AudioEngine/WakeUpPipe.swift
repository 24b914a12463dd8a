// struct pollfd reaches Swift through CALSA's headers (alsa/asoundlib.h).
import CALSA
import Glibc

/// A pipe whose read end becomes readable once `signal` is called: lets a
/// thread waiting in poll on a device be told to stop or to look again.
final class WakeUpPipe: Sendable {
    let readDescriptor: Int32
    private let writeDescriptor: Int32

    init() {
        var descriptors: [Int32] = [-1, -1]
        if pipe(&descriptors) == 0 {
            for descriptor in descriptors {
                _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
                _ = fcntl(descriptor, F_SETFL, O_NONBLOCK)
            }
        }
        readDescriptor = descriptors[0]
        writeDescriptor = descriptors[1]
    }

    deinit {
        close(readDescriptor)
        close(writeDescriptor)
    }

    func signal() {
        var byte: UInt8 = 1
        _ = write(writeDescriptor, &byte, 1)
    }

    /// Waits up to `limit` for `signal`; true if it came.
    func wait(atMost limit: Duration) -> Bool {
        var descriptor = pollfd(fd: readDescriptor, events: Int16(POLLIN), revents: 0)
        let milliseconds = limit.components.seconds * 1000 + limit.components.attoseconds / 1_000_000_000_000_000
        return poll(&descriptor, 1, Int32(clamping: max(1, milliseconds))) > 0
    }

    /// Takes back what `signal` wrote, so the next poll waits again.
    func reset() {
        var bytes = [UInt8](repeating: 0, count: 64)
        while read(readDescriptor, &bytes, bytes.count) > 0 {}
    }
}
