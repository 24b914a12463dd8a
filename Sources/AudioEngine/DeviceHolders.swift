import FoundationEssentials

/// A process that holds an ALSA PCM open.
public struct DeviceHolder: Sendable, Equatable, CustomStringConvertible {
    public let pid: Int32
    /// Its command name, from /proc/PID/comm.
    public let command: String

    public init(pid: Int32, command: String) {
        self.pid = pid
        self.command = command
    }

    public var description: String { "pid \(pid) (\(command))" }
}

/// Finds who holds a busy device: the kernel names the owner of each open
/// substream in /proc/asound/cardN/pcmMD/subS/status (`owner_pid`).
public enum DeviceHolders {
    /// The holders of `device`'s card in that direction; every card's when
    /// the name does not say which card (`default`, a plugin of the user's).
    public static func find(device: String, capture: Bool, proc: String = "/proc") -> [DeviceHolder] {
        let asound = proc + "/asound"
        let cards = card(of: device, asound: asound).map { ["card\($0)"] } ?? entries(asound).filter { $0.hasPrefix("card") }
        var holders: [DeviceHolder] = []
        for card in cards {
            for pcm in entries(asound + "/" + card) where pcm.hasPrefix("pcm") && pcm.hasSuffix(capture ? "c" : "p") {
                for substream in entries(asound + "/" + card + "/" + pcm) where substream.hasPrefix("sub") {
                    guard let status = try? String(contentsOfFile: "\(asound)/\(card)/\(pcm)/\(substream)/status", encoding: .utf8),
                        let pid = ownerPID(in: status), !holders.contains(where: { $0.pid == pid })
                    else { continue }
                    let command = (try? String(contentsOfFile: "\(proc)/\(pid)/comm", encoding: .utf8))?.split(whereSeparator: \.isNewline).first
                    holders.append(DeviceHolder(pid: pid, command: command.map(String.init) ?? "?"))
                }
            }
        }
        return holders
    }

    /// `owner_pid   : 1234` in a substream's status.
    static func ownerPID(in status: String) -> Int32? {
        for line in status.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].split(whereSeparator: \.isWhitespace) == ["owner_pid"] {
                return parts[1].split(whereSeparator: \.isWhitespace).first.flatMap { Int32($0) }
            }
        }
        return nil
    }

    /// The card index a device name gives: `hw:1,0`, `plughw:1`,
    /// `hw:CARD=PCH,DEV=0`, `sysdefault:CARD=PCH`; nil when it names none.
    static func card(of device: String, asound: String) -> Int? {
        guard let colon = device.firstIndex(of: ":") else { return nil }
        let arguments = device[device.index(after: colon)...].split(separator: ",")
        guard let first = arguments.first else { return nil }
        let value = first.hasPrefix("CARD=") ? first.dropFirst(5) : first
        if let index = Int(value) { return index }
        // A card's id: /proc/asound/<id> is a link to its cardN.
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: asound + "/" + value) else { return nil }
        return Int(target.dropFirst(4))
    }

    private static func entries(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }
}
