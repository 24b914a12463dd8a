/// What `devices` answers: the ALSA PCMs, what each accepts, and which the
/// configuration selects.
public struct DevicesReport: Sendable, Equatable, Codable {
    /// The configured devices (what the next conversation opens).
    public var captureDevice: String
    public var playbackDevice: String
    public var devices: [Device]
    /// PCMs ALSA's configuration names that could not be opened at all
    /// (plugins that need a slave device, sound servers not running).
    public var unopenable: [String]

    public init(captureDevice: String, playbackDevice: String, unopenable: [String], devices: [Device]) {
        self.captureDevice = captureDevice
        self.playbackDevice = playbackDevice
        self.unopenable = unopenable
        self.devices = devices
    }

    enum CodingKeys: String, CodingKey {
        case captureDevice = "capture_device"
        case playbackDevice = "playback_device"
        case devices, unopenable
    }

    public struct Device: Sendable, Equatable, Codable {
        /// As `arecord -L`/`aplay -L` give it: what the settings take.
        public var name: String
        /// The card's long name and the device's, where ALSA has one.
        public var description: String?
        /// Absent for a PCM without that direction.
        public var capture: Direction?
        public var playback: Direction?

        public init(name: String, description: String?, capture: Direction?, playback: Direction?) {
            self.name = name
            self.description = description
            self.capture = capture
            self.playback = playback
        }
    }

    public struct Direction: Sendable, Equatable, Codable {
        /// `available`, `busy` or `unavailable`.
        public var state: String
        /// The configuration selects this device for this direction.
        public var selected: Bool
        /// Of the agent's rates, the ones it takes (when available).
        public var rates: [Int]?
        /// The sample formats it offers, in ALSA's names (when available).
        public var formats: [String]?
        /// When busy, who holds it and what to do; when unavailable, why.
        public var problem: String?

        public init(state: String, selected: Bool, rates: [Int]?, formats: [String]?, problem: String?) {
            self.state = state
            self.selected = selected
            self.rates = rates
            self.formats = formats
            self.problem = problem
        }
    }

    /// For a person: a line per device, then one per direction.
    public var lines: [String] {
        var lines = ["configured: capture \(captureDevice), playback \(playbackDevice)"]
        for device in devices {
            lines.append(device.name + (device.description.map { "  \($0)" } ?? ""))
            for (label, direction) in [("capture ", device.capture), ("playback", device.playback)] {
                guard let direction else { continue }
                lines.append("    \(label) \(direction.selected ? "* " : "  ")\(Self.text(direction))")
            }
        }
        if !unopenable.isEmpty {
            lines.append("not openable now: " + unopenable.joined(separator: ", "))
        }
        return lines
    }

    private static func text(_ direction: Direction) -> String {
        guard direction.state == "available" else { return "\(direction.state): \(direction.problem ?? "")" }
        let rates = (direction.rates ?? []).map(String.init).joined(separator: " ")
        return "rates \(rates.isEmpty ? "none of the agent's" : rates); formats \((direction.formats ?? []).joined(separator: " "))"
    }
}
