import CALSA
import Glibc

/// A failed ALSA call, named by device and in ALSA's words.
public struct ALSAError: Error, Sendable, Equatable, CustomStringConvertible {
    public let device: String
    public let operation: String
    public let code: Int32

    init(device: String, operation: String, code: Int32) {
        self.device = device
        self.operation = operation
        self.code = code
    }

    public var reason: String { String(cString: snd_strerror(code)) }

    /// The device went away (a USB speakerphone unplugged): worth reopening.
    public var isDeviceLoss: Bool { code == -ENODEV || code == -EBADFD || code == -ENXIO || code == -EIO }

    public var description: String {
        switch operation {
        case "open" where code == -ENOENT:
            "audio device '\(device)' does not exist (\(reason)); list devices with `aplay -L` / `arecord -L` and set the device name"
        case "open" where code == -EBUSY:
            "audio device '\(device)' is busy (\(reason)): another program holds it"
        case "open":
            "cannot open audio device '\(device)': \(reason)"
        default:
            "audio device '\(device)': \(operation) failed: \(reason)"
        }
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
