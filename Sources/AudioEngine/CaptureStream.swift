import AudioCodec
import FoundationEssentials
import Glibc
import Synchronization

/// Reads the microphone on its own thread, one chunk at a time, and hands
/// each chunk on already encoded in the agent's input format. Muted, it
/// keeps reading and sends silence, so the agent's turn timing stays right.
///
/// The device is read without blocking and waited for with poll, beside an
/// pipe that `stop` signals: a read can block for seconds (a sound
/// server's stream warming up), and stopping must not wait for it.
final class CaptureStream: Sendable {
    private let running = Atomic(true)
    private let wakeUp = WakeUpPipe()
    private let muted: Atomic<Bool>
    private let thread = AudioThread()
    private let device: String
    private let format: AudioFormat
    private let configuration: AudioDeviceConfiguration
    private let echo: EchoPath?
    private let statistics: SharedStatistics
    private let report: @Sendable (AudioEngineEvent) -> Void
    private let deliver: @Sendable (Data) -> Void

    init(
        configuration: AudioDeviceConfiguration, format: AudioFormat, muted: Bool, echo: EchoPath?, statistics: SharedStatistics,
        report: @escaping @Sendable (AudioEngineEvent) -> Void, deliver: @escaping @Sendable (Data) -> Void
    ) {
        self.configuration = configuration
        self.device = configuration.captureDevice
        self.format = format
        self.muted = Atomic(muted)
        self.echo = echo
        self.statistics = statistics
        self.report = report
        self.deliver = deliver
    }

    func start() async throws -> RealtimeScheduling.Outcome {
        try await thread.start(name: "audio-capture", realtimePriority: configuration.realtimePriority, open: open) { self.run(on: $0) }
    }

    func stop() async {
        running.store(false, ordering: .relaxed)
        wakeUp.signal()
        await thread.join()
    }

    func setMuted(_ value: Bool) {
        muted.store(value, ordering: .relaxed)
    }

    private var isRunning: Bool { running.load(ordering: .relaxed) }

    private func open() throws -> PCMDevice {
        try PCMDevice(
            name: device, direction: .capture, sampleRate: format.sampleRate,
            periodFrames: configuration.frames(milliseconds: configuration.periodMilliseconds, sampleRate: format.sampleRate),
            bufferPeriods: configuration.bufferPeriods, nonBlocking: true)
    }

    private func run(on opened: PCMDevice) {
        var pcm = opened
        var chunk = [Int16](repeating: 0, count: configuration.frames(milliseconds: configuration.chunkMilliseconds, sampleRate: format.sampleRate))
        var filled = 0
        var pace = RealTimePace(sampleRate: format.sampleRate)
        let echoProcessor = echo.map {
            EchoProcessor(
                mode: configuration.echo, reference: $0.reference, timeline: $0.timeline, audibility: $0.audibility, chunkFrames: chunk.count,
                tailMilliseconds: configuration.echoTailMilliseconds, statistics: statistics, report: report)
        }
        // The first read of a prepared stream starts it; once it runs, each
        // period is waited for before it is read.
        var running = false
        while isRunning {
            if running, pcm.wait(orUntil: wakeUp) == .woken { break }
            let result = chunk.withUnsafeMutableBufferPointer { pcm.read(into: UnsafeMutableBufferPointer(rebasing: $0[filled...])) }
            running = true
            if result == -Int(EAGAIN) { continue }
            guard result > 0 else {
                let error = ALSAError(device: device, operation: "read", code: Int32(result))
                if result == -Int(EPIPE) {
                    statistics.update { $0.xruns += 1 }
                    AudioMetrics.xrun(capture: true)
                }
                if error.isDeviceLoss || pcm.recover(from: Int32(result)) < 0 {
                    pcm.close()
                    guard let reopened = DeviceRecovery(device: device, statistics: statistics, report: report)
                        .reopen(reason: error.reason, while: { self.isRunning }, open: open)
                    else { break }
                    pcm = reopened
                }
                filled = 0
                running = false
                pace = RealTimePace(sampleRate: format.sampleRate)
                echoProcessor?.deviceReopened()
                continue
            }
            filled += result
            guard filled == chunk.count else { continue }
            filled = 0
            if let echoProcessor {
                echoProcessor.process(&chunk, endingAt: echoProcessor.timeline.captureEnd(at: EchoTimeline.now, delayFrames: pcm.pendingFrames))
            }
            let isMuted = muted.load(ordering: .relaxed)
            if isMuted {
                chunk.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            }
            let level = PCMCodec.rmsDBFS(chunk)
            statistics.update {
                $0.framesCaptured += chunk.count
                $0.inputLevelDBFS = level
                $0.muted = isMuted
            }
            deliver(PCMCodec.bytes(from: chunk, format: format))
            if let early = pace.captured(frames: chunk.count), wakeUp.wait(atMost: early) { break }
        }
        pcm.close()
    }
}
