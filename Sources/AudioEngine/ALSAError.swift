import CALSA
import Glibc

/// A failed ALSA call, named by device and in ALSA's words.
public struct ALSAError: Error, Sendable, Equatable, CustomStringConvertible {
    public let device: String
    public let operation: String
    public let code: Int32
    /// Who holds a busy device, where the kernel says.
    public let holders: [DeviceHolder]

    init(device: String, operation: String, code: Int32, holders: [DeviceHolder] = []) {
        self.device = device
        self.operation = operation
        self.code = code
        self.holders = holders
    }

    public var reason: String { String(cString: snd_strerror(code)) }

    /// The device went away (a USB speakerphone unplugged): worth reopening.
    public var isDeviceLoss: Bool { code == -ENODEV || code == -EBADFD || code == -ENXIO || code == -EIO }

    public var description: String {
        switch operation {
        case "open" where code == -ENOENT:
            "audio device '\(device)' does not exist (\(reason)); list devices with `aplay -L` / `arecord -L` and set the device name"
        case "open" where code == -EBUSY:
            "audio device '\(device)' is busy: \(Self.busy(holders))"
        case "open":
            "cannot open audio device '\(device)': \(reason)"
        default:
            "audio device '\(device)': \(operation) failed: \(reason)"
        }
    }
}

extension ALSAError {
    /// Who holds a busy device and what to do about it, in the same words
    /// for `start` and for `devices`.
    public static func busy(_ holders: [DeviceHolder]) -> String {
        let who = holders.isEmpty ? "another program holds it" : "held by " + holders.map(\.description).joined(separator: ", ")
        return who + "; stop it, or let programs share the card: a 'dmix' (playback) or 'dsnoop' (capture) PCM, or the sound server's ('pulse', 'pipewire') where one runs"
    }
}

/// The device cannot take the format exactly; ALSA's plug layer would convert.
public struct UnsupportedDeviceFormat: Error, Sendable, Equatable, CustomStringConvertible {
    public let device: String
    public let requestedRate: Int
    public let offeredRate: Int

    public var description: String {
        "audio device '\(device)' cannot run at \(requestedRate) Hz (it offers \(offeredRate) Hz); use a plug device such as 'plughw:…' or 'default' so ALSA converts the rate"
    }
}
