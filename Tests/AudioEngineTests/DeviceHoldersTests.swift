@testable import AudioEngine
import Foundation
import Testing

/// A busy device names its holder from the kernel's /proc/asound; here a
/// copy of that tree, since this machine has no sound card.
@Suite("Who holds a busy device")
struct DeviceHoldersTests {
    /// card0 (id PCH) with one playback substream held by pid 4242
    /// (`aplay`) and a closed capture one; card1 (id USB) with its capture
    /// held by pid 77 (`arecord`).
    func fakeProc() throws -> String {
        let proc = FileManager.default.temporaryDirectory.appendingPathComponent("proc-\(UUID().uuidString)").path
        let manager = FileManager.default
        func write(_ path: String, _ text: String) throws {
            try manager.createDirectory(atPath: (proc + "/" + path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: proc + "/" + path, atomically: true, encoding: .utf8)
        }
        try write("asound/card0/pcm0p/sub0/status", "state: RUNNING\nowner_pid   : 4242\ntrigger_time: 1.0\n")
        try write("asound/card0/pcm0c/sub0/status", "closed\n")
        try write("asound/card1/pcm0c/sub0/status", "state: RUNNING\nowner_pid   : 77\n")
        try write("4242/comm", "aplay\n")
        try write("77/comm", "arecord\n")
        try manager.createSymbolicLink(atPath: proc + "/asound/PCH", withDestinationPath: "card0")
        try manager.createSymbolicLink(atPath: proc + "/asound/USB", withDestinationPath: "card1")
        return proc
    }

    @Test func theDeviceNameGivesTheCard() throws {
        let proc = try fakeProc()
        #expect(DeviceHolders.find(device: "hw:0,0", capture: false, proc: proc) == [DeviceHolder(pid: 4242, command: "aplay")])
        #expect(DeviceHolders.find(device: "plughw:CARD=PCH,DEV=0", capture: false, proc: proc) == [DeviceHolder(pid: 4242, command: "aplay")])
        #expect(DeviceHolders.find(device: "sysdefault:CARD=USB", capture: true, proc: proc) == [DeviceHolder(pid: 77, command: "arecord")])
        #expect(DeviceHolders.find(device: "hw:0", capture: true, proc: proc).isEmpty, "card0's capture is closed")
    }

    @Test func aNameWithoutACardLooksAtEveryCard() throws {
        #expect(DeviceHolders.find(device: "default", capture: true, proc: try fakeProc()) == [DeviceHolder(pid: 77, command: "arecord")])
    }

    @Test func theErrorSaysWhoAndWhatToDo() {
        let error = ALSAError(device: "hw:1,0", operation: "open", code: -EBUSY, holders: [DeviceHolder(pid: 77, command: "arecord")])
        #expect(
            error.description
                == "audio device 'hw:1,0' is busy: held by pid 77 (arecord); stop it, or let programs share the card: a 'dmix' (playback) or 'dsnoop' (capture) PCM, or the sound server's ('pulse', 'pipewire') where one runs")
    }
}
