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

    public var summary: LatencySummary {
        LatencySummary(samples: count, lastMs: lastMs, meanMs: meanMs, p50Ms: p50Ms, p95Ms: p95Ms)
    }
}

/// The figures a person reads in `status`.
public struct LatencySummary: Sendable, Equatable, Codable {
    public var samples: Int
    public var lastMs: Double?
    public var meanMs: Double?
    public var p50Ms: Double?
    public var p95Ms: Double?

    public init(samples: Int, lastMs: Double?, meanMs: Double?, p50Ms: Double?, p95Ms: Double?) {
        self.samples = samples
        self.lastMs = lastMs
        self.meanMs = meanMs
        self.p50Ms = p50Ms
        self.p95Ms = p95Ms
    }

    enum CodingKeys: String, CodingKey {
        case samples
        case lastMs = "last_ms"
        case meanMs = "mean_ms"
        case p50Ms = "p50_ms"
        case p95Ms = "p95_ms"
    }
}
