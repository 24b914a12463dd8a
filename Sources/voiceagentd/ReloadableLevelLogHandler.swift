import Logging
import NIOConcurrencyHelpers

/// The daemon's log level, which a reload changes for every logger at once.
final class SharedLogLevel: Sendable {
    private let level: NIOLockedValueBox<Logger.Level>

    init(_ level: Logger.Level) {
        self.level = NIOLockedValueBox(level)
    }

    var value: Logger.Level { level.withLockedValue { $0 } }

    func set(_ newLevel: Logger.Level) {
        level.withLockedValue { $0 = newLevel }
    }
}

/// Wraps a handler so its level is the shared one: a `Logger` copies its
/// handler, so a level stored in the handler could not follow a reload.
struct ReloadableLevelLogHandler: LogHandler {
    private var inner: any LogHandler
    private let level: SharedLogLevel

    init(_ inner: any LogHandler, level: SharedLogLevel) {
        self.inner = inner
        self.level = level
    }

    var logLevel: Logger.Level {
        get { level.value }
        set { level.set(newValue) }
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        inner.log(event: event)
    }
}
