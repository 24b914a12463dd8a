import Foundation

/// No-hardware ALSA devices for tests: the `file` plugin over `null` writes
/// what is played to a file and reads what is captured from one. Not paced
/// in real time. ALSA reads its configuration once per process, so one file
/// defines a PCM that takes its paths as arguments.
enum ALSAFileDevices {
    static let directory: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("voiceagent-alsa-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let configuration = """
            pcm.voiceagent_file {
                @args [ OUT IN ]
                @args.OUT { type string default "/dev/null" }
                @args.IN { type string default "/dev/null" }
                type file
                slave.pcm null
                file $OUT
                infile $IN
                format raw
            }
            """
        let file = path + "/asound.conf"
        precondition(FileManager.default.createFile(atPath: file, contents: Data(configuration.utf8)), "cannot write \(file)")
        setenv("ALSA_CONFIG_PATH", "/usr/share/alsa/alsa.conf:" + file, 1)
        return path
    }()

    /// A playback device that records into `output`.
    static func playback(recordingInto output: String) -> String {
        _ = directory
        return "voiceagent_file:OUT=\"\(output)\""
    }

    /// A capture device that reads `input`.
    static func capture(reading input: String) -> String {
        _ = directory
        return "voiceagent_file:IN=\"\(input)\""
    }

    static func path(_ name: String) -> String {
        directory + "/\(UUID().uuidString)-\(name)"
    }
}
