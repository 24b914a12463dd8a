import CALSA
import FoundationEssentials

/// One ALSA PCM as `devices` lists it.
public struct PCMListing: Sendable, Equatable {
    public let name: String
    /// ALSA's description: the card's long name and the device's.
    public let description: String?
    /// Nil when the PCM has no such direction.
    public let capture: PCMCapabilities?
    public let playback: PCMCapabilities?

    /// Whether either direction opened or was only busy.
    var opens: Bool {
        [capture, playback].contains { capabilities in
            if case .unavailable = capabilities { false } else { capabilities != nil }
        }
    }
}

/// What opening a PCM in one direction found.
public enum PCMCapabilities: Sendable, Equatable {
    /// The protocol's sample rates it takes and the sample formats it offers.
    case accepts(rates: [Int], formats: [String])
    /// Another program holds it (and who, where the kernel says).
    case busy([DeviceHolder])
    case unavailable(String)
}

/// The machine's ALSA PCMs, as `aplay -L`/`arecord -L` name them, each
/// opened briefly to see what it accepts. Every C call lives here.
public enum DeviceCatalog {
    /// The rates an agent may choose.
    static let protocolRates = [8000, 16000, 22050, 24000, 44100, 48000]
    static let formats = [SND_PCM_FORMAT_S16_LE, SND_PCM_FORMAT_S24_LE, SND_PCM_FORMAT_S32_LE, SND_PCM_FORMAT_FLOAT_LE, SND_PCM_FORMAT_U8, SND_PCM_FORMAT_MU_LAW]

    /// Every PCM ALSA's configuration hints at that opens (or is busy),
    /// then each of `extra` (the configured devices), whatever it gives;
    /// and the names of the hinted ones that could not be opened (plugins
    /// that need a slave, servers that are not running).
    public static func list(including extra: [String]) -> (listings: [PCMListing], unopenable: [String]) {
        voiceagent_alsa_errors_quiet(1)
        defer { voiceagent_alsa_errors_quiet(0) }
        var listings: [PCMListing] = []
        var unopenable: [String] = []
        let hints = hints()
        for hint in hints where !extra.contains(hint.name) {
            let listing = PCMListing(
                name: hint.name, description: hint.description,
                capture: hint.capture ? probe(hint.name, capture: true) : nil, playback: hint.playback ? probe(hint.name, capture: false) : nil)
            if listing.opens { listings.append(listing) } else { unopenable.append(hint.name) }
        }
        for name in Set(extra).sorted() {
            let description = hints.first { $0.name == name }?.description
            listings.append(PCMListing(name: name, description: description, capture: probe(name, capture: true), playback: probe(name, capture: false)))
        }
        return (listings, unopenable)
    }

    /// `list` on a thread of its own: opening devices blocks.
    public static func listed(including extra: [String]) async -> (listings: [PCMListing], unopenable: [String]) {
        await withCheckedContinuation { continuation in
            do {
                try PosixThread.start(name: "device-probe") { continuation.resume(returning: list(including: extra)) }
            } catch {
                continuation.resume(returning: ([], []))
            }
        }
    }

    /// Opens `name` without waiting and asks what it accepts.
    public static func probe(_ name: String, capture: Bool) -> PCMCapabilities {
        var handle: OpaquePointer?
        let opened = snd_pcm_open(&handle, name, capture ? SND_PCM_STREAM_CAPTURE : SND_PCM_STREAM_PLAYBACK, SND_PCM_NONBLOCK)
        if opened == -EBUSY { return .busy(DeviceHolders.find(device: name, capture: capture)) }
        guard opened != -ENOENT else { return .unavailable("ALSA knows no such PCM here, or its card is missing") }
        guard opened >= 0 else { return .unavailable(String(cString: snd_strerror(opened))) }
        defer { snd_pcm_close(handle) }
        var params: OpaquePointer?
        guard snd_pcm_hw_params_malloc(&params) >= 0 else { return .unavailable("out of memory") }
        defer { snd_pcm_hw_params_free(params) }
        let any = snd_pcm_hw_params_any(handle, params)
        guard any >= 0 else { return .unavailable(String(cString: snd_strerror(any))) }
        return .accepts(
            rates: protocolRates.filter { snd_pcm_hw_params_test_rate(handle, params, UInt32($0), 0) == 0 },
            formats: formats.filter { snd_pcm_hw_params_test_format(handle, params, $0) == 0 }.map { String(cString: snd_pcm_format_name($0)) })
    }

    private struct Hint {
        let name: String
        let description: String?
        let capture: Bool
        let playback: Bool
    }

    /// `snd_device_name_hint`: NAME, DESC, and IOID (Input, Output, or both when absent).
    private static func hints() -> [Hint] {
        var list: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
        guard snd_device_name_hint(-1, "pcm", &list) >= 0, let list else { return [] }
        defer { snd_device_name_free_hint(list) }
        var hints: [Hint] = []
        var cursor = list
        while let hint = cursor.pointee {
            defer { cursor += 1 }
            guard let name = value(hint, "NAME"), name != "null" else { continue }
            let direction = value(hint, "IOID")
            hints.append(
                Hint(
                    name: name, description: value(hint, "DESC")?.split(separator: "\n").joined(separator: ", "),
                    capture: direction != "Output", playback: direction != "Input"))
        }
        return hints
    }

    private static func value(_ hint: UnsafeMutableRawPointer, _ id: String) -> String? {
        guard let text = snd_device_name_get_hint(hint, id) else { return nil }
        defer { free(text) }
        return String(cString: text)
    }
}
