import Glibc

/// A device went away (a USB speakerphone unplugged): report it, then open
/// it again with backoff until it returns or the stream stops. The
/// conversation goes on meanwhile.
struct DeviceRecovery {
    let device: String
    let statistics: SharedStatistics
    let report: @Sendable (AudioEngineEvent) -> Void

    /// Runs on the stream's own audio thread; returns nil once stopped.
    func reopen(reason: String?, while isRunning: () -> Bool, open: () throws -> PCMDevice) -> PCMDevice? {
        statistics.update { $0.deviceLosses += 1 }
        AudioMetrics.deviceLost()
        report(.deviceLost(device: device, reason: reason ?? "the device stopped responding"))
        var delay = 0.25
        while isRunning() {
            if let reopened = try? open() {
                report(.deviceRestored(device: device))
                return reopened
            }
            usleep(UInt32(delay * 1_000_000))
            delay = min(delay * 2, 5)
        }
        return nil
    }
}
