import CSystemd

/// Tells systemd how the daemon is doing (Type=notify). Without
/// NOTIFY_SOCKET every call is a harmless no-op.
struct SystemdNotifier: Sendable {
    func ready(status: String) {
        notify("READY=1\nSTATUS=\(status)")
    }

    func status(_ text: String) {
        notify("STATUS=\(text)")
    }

    func stopping() {
        notify("STOPPING=1\nSTATUS=stopping")
    }

    func watchdog() {
        notify("WATCHDOG=1")
    }

    /// The watchdog interval systemd asked for, if any.
    var watchdogInterval: Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(microseconds))
    }

    private func notify(_ state: String) {
        _ = sd_notify(0, state)
    }
}
