/// Why agent audio was not played. Every frame received is either played
/// or counted under one of these.
public enum DropReason: String, Sendable, CaseIterable, Codable {
    /// Our own or the agent's interruption silenced it.
    case interrupted
    /// It belonged to a reply the agent had already interrupted (its event
    /// id was at or below the interruption's).
    case staleEventID = "stale_event_id"
    /// More than the playback queue holds arrived at once.
    case queueOverflow = "queue_overflow"
    /// No playback device was open to take it.
    case deviceNotReady = "device_not_ready"
    /// The playback device went away while it was being written.
    case deviceLost = "device_lost"
    /// The conversation ended before it could be heard.
    case conversationEnded = "conversation_ended"
}

/// Frames of agent audio not played, by reason.
public struct DroppedFrames: Sendable, Equatable {
    public private(set) var byReason: [DropReason: Int] = [:]

    public init() {}

    public mutating func add(_ frames: Int, _ reason: DropReason) {
        guard frames > 0 else { return }
        byReason[reason, default: 0] += frames
    }

    public var total: Int { byReason.values.reduce(0, +) }

    public subscript(reason: DropReason) -> Int { byReason[reason] ?? 0 }
}
