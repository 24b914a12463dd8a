import AudioEngine
import ControlProtocol
import Glibc

/// `devices`: the ALSA catalog with the configured devices marked.
enum DeviceInventory {
    static func report(for audio: AudioDeviceConfiguration) async -> DevicesReport {
        let (listings, unopenable) = await DeviceCatalog.listed(including: [audio.captureDevice, audio.playbackDevice])
        return DevicesReport(
            captureDevice: audio.captureDevice, playbackDevice: audio.playbackDevice, unopenable: unopenable,
            devices: listings.map { listing in
                DevicesReport.Device(
                    name: listing.name, description: listing.description,
                    capture: listing.capture.map { direction($0, selected: listing.name == audio.captureDevice) },
                    playback: listing.playback.map { direction($0, selected: listing.name == audio.playbackDevice) })
            })
    }

    private static func direction(_ capabilities: PCMCapabilities, selected: Bool) -> DevicesReport.Direction {
        switch capabilities {
        case .accepts(let rates, let formats):
            DevicesReport.Direction(state: "available", selected: selected, rates: rates, formats: formats, problem: nil)
        case .busy(let holders) where holders.contains(where: { $0.pid == getpid() }):
            DevicesReport.Direction(state: "busy", selected: selected, rates: nil, formats: nil, problem: "in use by voiceagentd's conversation")
        case .busy(let holders):
            DevicesReport.Direction(state: "busy", selected: selected, rates: nil, formats: nil, problem: ALSAError.busy(holders))
        case .unavailable(let reason):
            DevicesReport.Direction(state: "unavailable", selected: selected, rates: nil, formats: nil, problem: reason)
        }
    }
}
