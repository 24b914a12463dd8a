import CALSA
import Glibc

/// One open ALSA PCM: 16-bit little-endian mono, interleaved, blocking.
/// Every C call lives here. Not Sendable: an instance is created, used and
/// closed on one thread.
final class PCMDevice {
    enum Direction {
        case playback, capture

        var stream: snd_pcm_stream_t { self == .playback ? SND_PCM_STREAM_PLAYBACK : SND_PCM_STREAM_CAPTURE }
    }

    let name: String
    let sampleRate: Int
    private(set) var periodFrames: Int
    private(set) var bufferFrames: Int
    private var handle: OpaquePointer?
    /// The device's poll descriptors, then one free slot for a wake-up pipe.
    private var pollDescriptors: [pollfd] = []

    /// A non-blocking device never waits in a read or write; its owner
    /// waits in `wait(orUntil:)` instead, which another thread can end.
    init(name: String, direction: Direction, sampleRate: Int, periodFrames: Int, bufferPeriods: Int, nonBlocking: Bool = false) throws {
        self.name = name
        self.sampleRate = sampleRate
        var opened: OpaquePointer?
        let result = snd_pcm_open(&opened, name, direction.stream, nonBlocking ? SND_PCM_NONBLOCK : 0)
        if result == -EBUSY {
            throw ALSAError(device: name, operation: "open", code: result, holders: DeviceHolders.find(device: name, capture: direction == .capture))
        }
        try Self.check(result, name, "open")
        handle = opened
        self.periodFrames = periodFrames
        self.bufferFrames = periodFrames * bufferPeriods
        do {
            try configureHardware(direction: direction, bufferPeriods: bufferPeriods)
            try configureSoftware(direction: direction)
            try Self.check(snd_pcm_prepare(handle), name, "prepare")
            pollDescriptors = [pollfd](repeating: pollfd(), count: Int(snd_pcm_poll_descriptors_count(handle)) + 1)
            let filled = pollDescriptors.withUnsafeMutableBufferPointer {
                snd_pcm_poll_descriptors(handle, $0.baseAddress, UInt32($0.count - 1))
            }
            try Self.check(filled, name, "read poll descriptors")
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
    }

    private func configureHardware(direction: Direction, bufferPeriods: Int) throws {
        var params: OpaquePointer?
        try Self.check(snd_pcm_hw_params_malloc(&params), name, "allocate hardware parameters")
        defer { snd_pcm_hw_params_free(params) }
        try Self.check(snd_pcm_hw_params_any(handle, params), name, "read hardware parameters")
        try Self.check(snd_pcm_hw_params_set_access(handle, params, SND_PCM_ACCESS_RW_INTERLEAVED), name, "set interleaved access")
        try Self.check(snd_pcm_hw_params_set_format(handle, params, SND_PCM_FORMAT_S16_LE), name, "set 16-bit format")
        try Self.check(snd_pcm_hw_params_set_channels(handle, params, 1), name, "set mono")
        var rate = UInt32(sampleRate)
        try Self.check(snd_pcm_hw_params_set_rate_near(handle, params, &rate, nil), name, "set rate \(sampleRate)")
        guard rate == UInt32(sampleRate) else {
            throw UnsupportedDeviceFormat(device: name, requestedRate: sampleRate, offeredRate: Int(rate))
        }
        var period = snd_pcm_uframes_t(periodFrames)
        try Self.check(snd_pcm_hw_params_set_period_size_near(handle, params, &period, nil), name, "set period size")
        var buffer = snd_pcm_uframes_t(Int(period) * bufferPeriods)
        try Self.check(snd_pcm_hw_params_set_buffer_size_near(handle, params, &buffer), name, "set buffer size")
        try Self.check(snd_pcm_hw_params(handle, params), name, "apply hardware parameters")
        periodFrames = Int(period)
        bufferFrames = Int(buffer)
    }

    private func configureSoftware(direction: Direction) throws {
        var params: OpaquePointer?
        try Self.check(snd_pcm_sw_params_malloc(&params), name, "allocate software parameters")
        defer { snd_pcm_sw_params_free(params) }
        try Self.check(snd_pcm_sw_params_current(handle, params), name, "read software parameters")
        // Playback starts as soon as one period is written, so a reply is heard
        // without waiting for the buffer to fill.
        let start = direction == .playback ? periodFrames : 1
        try Self.check(snd_pcm_sw_params_set_start_threshold(handle, params, snd_pcm_uframes_t(start)), name, "set start threshold")
        try Self.check(snd_pcm_sw_params_set_avail_min(handle, params, snd_pcm_uframes_t(periodFrames)), name, "set wake-up size")
        try Self.check(snd_pcm_sw_params(handle, params), name, "apply software parameters")
    }

    /// Writes frames: in blocking mode, waits while the buffer is full; in
    /// non-blocking mode, writes what fits (-EAGAIN for nothing). Returns
    /// frames written or a negative errno.
    func write(_ samples: UnsafeBufferPointer<Int16>) -> Int {
        snd_pcm_writei(handle, samples.baseAddress, snd_pcm_uframes_t(samples.count))
    }

    /// Reads frames: in blocking mode, waits until that many are there; in
    /// non-blocking mode, takes what is there (-EAGAIN for none). Returns
    /// frames read or a negative errno.
    func read(into samples: UnsafeMutableBufferPointer<Int16>) -> Int {
        snd_pcm_readi(handle, samples.baseAddress, snd_pcm_uframes_t(samples.count))
    }

    /// What ended a wait.
    enum Readiness {
        /// The device has frames, or an error a read will report.
        case device
        /// `wakeDescriptor` became readable.
        case woken
    }

    /// Waits until the device is ready or `wakeUp` is signalled.
    func wait(orUntil wakeUp: WakeUpPipe) -> Readiness {
        let count = pollDescriptors.count - 1
        pollDescriptors[count] = pollfd(fd: wakeUp.readDescriptor, events: Int16(POLLIN), revents: 0)
        while true {
            let ready = poll(&pollDescriptors, nfds_t(pollDescriptors.count), -1)
            if ready < 0, errno == EINTR { continue }
            if pollDescriptors[count].revents != 0 { return .woken }
            var events: UInt16 = 0
            let demangled = pollDescriptors.withUnsafeMutableBufferPointer {
                snd_pcm_poll_descriptors_revents(handle, $0.baseAddress, UInt32(count), &events)
            }
            if demangled < 0 || events != 0 || ready < 0 { return .device }
            // The descriptor fired without frames for us, and stays readable:
            // the pulse plugin's does while its stream starts, which can take
            // seconds. Polling it again at once would spin; wait a quarter
            // period (for the wake-up pipe alone) before asking again.
            if wakeUp.wait(atMost: .milliseconds(max(1, periodFrames * 250 / sampleRate))) { return .woken }
        }
    }

    /// After an xrun or suspend: back to a usable state. Returns 0 or the error.
    func recover(from error: Int32) -> Int32 {
        snd_pcm_recover(handle, error, 1)
    }

    /// Throws away what the device holds, at once, and readies it again.
    func dropAndPrepare() throws {
        try Self.check(snd_pcm_drop(handle), name, "drop")
        try Self.check(snd_pcm_prepare(handle), name, "prepare")
    }

    /// Blocks until what the device holds has been played.
    func drain() {
        snd_pcm_nonblock(handle, 0)
        snd_pcm_drain(handle)
    }

    /// Starts a stream whose last write was shorter than the start threshold.
    func startIfPrepared() {
        if snd_pcm_state(handle) == SND_PCM_STATE_PREPARED, snd_pcm_avail(handle) < bufferFrames {
            snd_pcm_start(handle)
        }
    }

    /// Frames written but not yet played.
    var pendingFrames: Int {
        var delay: snd_pcm_sframes_t = 0
        return snd_pcm_delay(handle, &delay) == 0 ? max(0, delay) : 0
    }

    /// Closes at once, without waiting for what the device holds.
    func close() {
        if let handle {
            snd_pcm_drop(handle)
            snd_pcm_close(handle)
            self.handle = nil
        }
    }

    static func check(_ result: Int32, _ device: String, _ operation: String) throws {
        if result < 0 { throw ALSAError(device: device, operation: operation, code: result) }
    }
}
