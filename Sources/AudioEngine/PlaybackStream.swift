import AudioCodec
import FoundationEssentials
import Glibc
import Synchronization

/// Plays the agent's speech from a `PlaybackQueue` on its own thread.
/// Silence between replies lets the device underrun, which is normal and
/// quiet; an underrun in the middle of speech is an xrun, counted.
///
/// Writes never block: the thread waits in poll beside a pipe that `stop`
/// signals, because a sound server can hold a stream's first write for
/// seconds and stopping must not wait for that.
final class PlaybackStream: Sendable {
    let queue: PlaybackQueue
    private let running = Atomic(true)
    private let wakeUp = WakeUpPipe()
    private let thread = AudioThread()
    private let device: String
    private let sampleRate: Int
    private let configuration: AudioDeviceConfiguration
    private let echo: EchoPath?
    private let statistics: SharedStatistics
    private let report: @Sendable (AudioEngineEvent) -> Void

    init(
        configuration: AudioDeviceConfiguration, sampleRate: Int, echo: EchoPath?, statistics: SharedStatistics,
        report: @escaping @Sendable (AudioEngineEvent) -> Void
    ) {
        self.configuration = configuration
        self.device = configuration.playbackDevice
        self.sampleRate = sampleRate
        self.echo = echo
        self.statistics = statistics
        self.report = report
        queue = PlaybackQueue(capacity: sampleRate * configuration.queueSeconds)
    }

    func start() async throws -> RealtimeScheduling.Outcome {
        try await thread.start(name: "audio-playback", realtimePriority: configuration.realtimePriority, open: open) { self.run(on: $0) }
    }

    /// Plays what is queued to the end, then closes; stops at once when
    /// that takes longer than `limit`.
    func drain(atMost limit: Duration) async {
        queue.end(.afterDraining)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.thread.join() }
            group.addTask {
                if (try? await Task.sleep(for: limit)) != nil { self.stopNow() }
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// Forgets what is queued and wakes the thread if it waits for room in
    /// the device, so it drops what the device holds now, not a period
    /// later. Returns how many samples were forgotten.
    func interrupt() -> Int {
        let forgotten = queue.clear()
        wakeUp.signal()
        return forgotten
    }

    /// Stops at once; what was not heard is counted as dropped.
    func stop() async {
        stopNow()
        await thread.join()
    }

    private func stopNow() {
        running.store(false, ordering: .relaxed)
        queue.end(.now)
        wakeUp.signal()
    }

    private var isRunning: Bool { running.load(ordering: .relaxed) }

    /// How long what the device holds can still be heard: what it says it
    /// holds, and at least a full buffer, with a period to spare. A sound
    /// server plays on for its own latency past the buffer it lends ALSA
    /// (PulseAudio's stream and sink), and says so in the device's delay.
    private func audibleFor(pendingFrames: Int) -> Duration {
        let buffer = configuration.frames(milliseconds: configuration.periodMilliseconds * configuration.bufferPeriods, sampleRate: sampleRate)
        let held = max(pendingFrames, buffer)
        return .milliseconds(Double(held) * 1000 / Double(sampleRate) + Double(configuration.periodMilliseconds))
    }

    private func open() throws -> PCMDevice {
        try PCMDevice(
            name: device, direction: .playback, sampleRate: sampleRate,
            periodFrames: configuration.frames(milliseconds: configuration.periodMilliseconds, sampleRate: sampleRate),
            bufferPeriods: configuration.bufferPeriods, nonBlocking: true)
    }

    private func run(on opened: PCMDevice) {
        var pcm = opened
        var period = [Int16](repeating: 0, count: pcm.periodFrames)
        var generation: UInt64 = 0
        var starved = true
        var finish = PlaybackQueue.Finish.drop
        let feed = echo.map { EchoFeed(reference: $0.reference, timeline: $0.timeline, playbackRate: sampleRate) }
        let silentPeriod = [Int16](repeating: 0, count: period.count)
        let periodDuration = Duration.milliseconds(configuration.periodMilliseconds)
        while isRunning {
            // The canceller learns the echo path against the speaker's
            // timing, which a device measures afresh each time it restarts
            // (a sound server by tens of milliseconds, and the echo leaks
            // until the canceller has learnt it again): while the microphone
            // hears the speaker, the speaker never runs dry between replies
            // but plays silence, and an interrupt lets it play out what it
            // holds rather than dropping it.
            let keepsSpeakerRunning = configuration.echo == .cancel && echo?.audibility.isHeard == true
            let waited = period.withUnsafeMutableBufferPointer {
                keepsSpeakerRunning ? queue.take(into: $0, waitingAtMost: periodDuration) : queue.take(into: $0)
            }
            guard let take = waited else {
                // Two periods held are enough to ride over the next wait,
                // and a reply waits behind no more than that.
                if pcm.pendingFrames < 2 * pcm.periodFrames {
                    _ = write(silentPeriod, count: silentPeriod.count, to: pcm, starved: starved, generation: generation, feed: feed)
                    starved = false
                }
                continue
            }
            if let finished = take.finished {
                finish = finished
                break
            }
            if take.generation != generation {
                // Interrupted: what the device still holds is dropped, or
                // with the speaker kept running, the last of it heard.
                generation = take.generation
                var stillHeard = Duration.zero
                if keepsSpeakerRunning {
                    stillHeard = .milliseconds(Double(pcm.pendingFrames) * 1000 / Double(sampleRate))
                } else if let reopened = silence(pcm, reason: .interrupted, feed: feed) {
                    pcm = reopened
                }
                let silencedAfter = ContinuousClock.now - take.clearedAt + stillHeard
                statistics.update { $0.lastInterruptToSilenceMs = silencedAfter.milliseconds }
                AudioMetrics.silenced(afterMilliseconds: silencedAfter.milliseconds)
                starved = !keepsSpeakerRunning
            }
            guard take.samples > 0 else {
                starved = true
                continue
            }
            let level = PCMCodec.rmsDBFS(period[..<take.samples])
            let (written, lost, held) = write(period, count: take.samples, to: pcm, starved: starved, generation: generation, feed: feed)
            let unwritten: DropReason = lost != nil ? .deviceLost : isRunning ? .interrupted : .conversationEnded
            let audible = audibleFor(pendingFrames: lost == nil ? held ?? pcm.pendingFrames : 0)
            statistics.update {
                $0.framesPlayed += written
                $0.drop(take.samples - written, unwritten)
                $0.outputLevelDBFS = level
                $0.audibleUntil = .now + audible
            }
            if let lost {
                guard let reopened = reopen(after: pcm, error: lost, feed: feed) else { break }
                pcm = reopened
                continue
            }
            if queue.queuedSamples == 0 { pcm.startIfPrepared() }
            starved = false
        }
        if finish == .drain, isRunning {
            pcm.startIfPrepared()
            pcm.drain()
        } else {
            statistics.update { $0.drop(queue.clear(), .conversationEnded) }
            _ = silence(pcm, reason: .conversationEnded, feed: feed)
        }
        pcm.close()
    }

    /// Drops what the device holds: those frames were written but will not
    /// be heard. Returns a reopened device if the drop failed.
    private func silence(_ pcm: PCMDevice, reason: DropReason, feed: EchoFeed?) -> PCMDevice? {
        let pending = pcm.pendingFrames
        feed?.dropped()
        statistics.update {
            $0.framesPlayed -= pending
            $0.drop(pending, reason)
            $0.audibleUntil = nil
        }
        if (try? pcm.dropAndPrepare()) == nil {
            return reopen(after: pcm, feed: feed)
        }
        return nil
    }

    /// Writes `count` samples, or fewer if the stream stops, is interrupted,
    /// or the device is gone (then with the error); returns how many were
    /// written, and what the device held after the last write (nil if none
    /// was). What is written goes to the echo reference too.
    private func write(
        _ samples: [Int16], count: Int, to pcm: PCMDevice, starved: Bool, generation: UInt64, feed: EchoFeed?
    ) -> (written: Int, lost: ALSAError?, held: Int?) {
        var offset = 0
        var held: Int?
        // The device may have run dry before this write: after a pause, or
        // an underrun it recovered from.
        var resumed = starved
        while offset < count, isRunning {
            let result = samples.withUnsafeBufferPointer { pcm.write(UnsafeBufferPointer(rebasing: $0[offset..<count])) }
            if result == -Int(EAGAIN) {
                if pcm.wait(orUntil: wakeUp) == .woken {
                    wakeUp.reset()
                    // A wake-up for an interrupt already handled: wait again.
                    if isRunning, queue.generationNow == generation { continue }
                    break
                }
                continue
            }
            if result >= 0 {
                let pending = pcm.pendingFrames
                held = pending
                if let feed {
                    samples.withUnsafeBufferPointer {
                        feed.written(UnsafeBufferPointer(rebasing: $0[offset..<offset + result]), pendingFrames: pending, afterPause: resumed)
                    }
                }
                resumed = false
                offset += result
                continue
            }
            let error = ALSAError(device: device, operation: "write", code: Int32(result))
            if error.isDeviceLoss { return (offset, error, held) }
            if result == -Int(EPIPE), !starved {
                statistics.update { $0.xruns += 1 }
                AudioMetrics.xrun(capture: false)
            }
            if pcm.recover(from: Int32(result)) < 0 { return (offset, error, held) }
            resumed = true
        }
        return (offset, nil, held)
    }

    private func reopen(after pcm: PCMDevice, error: ALSAError? = nil, feed: EchoFeed?) -> PCMDevice? {
        pcm.close()
        feed?.deviceReopened()
        return DeviceRecovery(device: device, statistics: statistics, report: report)
            .reopen(reason: error?.reason, while: { self.isRunning }, open: open)
    }
}

extension Duration {
    var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
