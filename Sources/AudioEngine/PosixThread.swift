import Glibc

/// Runs a closure on a new, detached POSIX thread: the audio streams' and
/// device probes' blocking ALSA calls must not hold an event loop or a
/// thread of the cooperative pool.
enum PosixThread {
    struct CannotStart: Error, CustomStringConvertible {
        let code: Int32
        var description: String { "cannot start a thread: \(String(cString: strerror(code)))" }
    }

    private final class Body {
        let name: String
        let run: @Sendable () -> Void

        init(name: String, _ run: @escaping @Sendable () -> Void) {
            self.name = name
            self.run = run
        }

        /// pthread_setname_np without _GNU_SOURCE: the kernel's own file.
        func nameThread() {
            let descriptor = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
            guard descriptor >= 0 else { return }
            let bytes = Array(name.utf8.prefix(15))
            _ = write(descriptor, bytes, bytes.count)
            close(descriptor)
        }
    }

    /// `name` is what `top -H` and `ps -L` show: at most 15 bytes.
    static func start(name: String, _ body: @escaping @Sendable () -> Void) throws(CannotStart) {
        let argument = Unmanaged.passRetained(Body(name: name, body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { argument in
            let body = Unmanaged<Body>.fromOpaque(argument!).takeRetainedValue()
            body.nameThread()
            body.run()
            return nil
        }, argument)
        guard result == 0 else {
            Unmanaged<Body>.fromOpaque(argument).release()
            throw CannotStart(code: result)
        }
        pthread_detach(thread)
    }
}
