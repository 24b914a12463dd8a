/// Which ALSA devices to use and how finely to cut time.
public struct AudioDeviceConfiguration: Sendable, Equatable {
    public var captureDevice: String
    public var playbackDevice: String
    /// One ALSA period; playback goes silent within one of these.
    public var periodMilliseconds: Int
    public var bufferPeriods: Int
    /// How much microphone audio goes into one message to the agent.
    public var chunkMilliseconds: Int
    /// The most agent speech held for playback.
    public var queueSeconds: Int
    /// SCHED_FIFO priority of the audio threads; 0 for normal priority
    /// (the library's default; the daemon asks for 10).
    public var realtimePriority: Int
    public var echo: EchoMode
    /// `half-duplex`: how long the microphone stays silent after the agent
    /// was last heard (the room's echo and reverb).
    public var echoTailMilliseconds: Int

    public init(
        captureDevice: String = "default",
        playbackDevice: String = "default",
        periodMilliseconds: Int = 20,
        bufferPeriods: Int = 4,
        chunkMilliseconds: Int = 20,
        queueSeconds: Int = 120,
        realtimePriority: Int = 0,
        echo: EchoMode = .none,
        echoTailMilliseconds: Int = 300
    ) {
        self.captureDevice = captureDevice
        self.playbackDevice = playbackDevice
        self.periodMilliseconds = periodMilliseconds
        self.bufferPeriods = bufferPeriods
        self.chunkMilliseconds = chunkMilliseconds
        self.queueSeconds = queueSeconds
        self.realtimePriority = realtimePriority
        self.echo = echo
        self.echoTailMilliseconds = echoTailMilliseconds
    }

    func frames(milliseconds: Int, sampleRate: Int) -> Int {
        max(1, sampleRate * milliseconds / 1000)
    }
}
