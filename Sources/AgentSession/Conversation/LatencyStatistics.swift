/// Round-trip figures from the server's `ping_ms`: the last, the mean over
/// the whole conversation, and percentiles over the most recent samples.
public struct LatencyStatistics: Sendable, Equatable, Codable {
    /// Percentiles look at this many recent samples, so memory stays bounded
    /// in a conversation of any length.
    static let window = 512

    public private(set) var count = 0
    public private(set) var lastMs: Double?
    private var sumMs = 0.0
    private var recent: [Double] = []
    private var nextSlot = 0

    public init() {}

    public mutating func record(_ milliseconds: Double) {
        count += 1
        lastMs = milliseconds
        sumMs += milliseconds
        if recent.count < Self.window {
            recent.append(milliseconds)
        } else {
            recent[nextSlot] = milliseconds
            nextSlot = (nextSlot + 1) % Self.window
        }
    }

    public var meanMs: Double? { count == 0 ? nil : sumMs / Double(count) }

    public var p50Ms: Double? { percentile(0.50) }

    public var p95Ms: Double? { percentile(0.95) }

    /// Nearest-rank percentile.
    public func percentile(_ fraction: Double) -> Double? {
        guard !recent.isEmpty else { return nil }
        let sorted = recent.sorted()
        let rank = Int((fraction * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}
